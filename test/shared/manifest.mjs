// The extension's package.json as VS Code shows it: every "%key%" replaced by its text from package.nls.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Replaces "%key%" strings, at any depth, with their texts. */
export function localize(value, texts) {
  if (typeof value === 'string') {
    const match = /^%([^%]+)%$/.exec(value);
    return match && texts[match[1]] !== undefined ? texts[match[1]] : value;
  }
  if (Array.isArray(value)) return value.map((item) => localize(item, texts));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, localize(v, texts)]));
  return value;
}

/** package.json of the extension at `root`, localized with its package.nls.json. */
export function readManifest(root) {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  let texts = {};
  try {
    texts = JSON.parse(readFileSync(join(root, 'package.nls.json'), 'utf8'));
  } catch {
    // no translations file: the manifest's strings are its texts
  }
  return localize(manifest, texts);
}
