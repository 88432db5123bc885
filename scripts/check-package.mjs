// `npm run package`, checked: the .vsix holds only what the extension needs (dist/, media/, the manifest and its
// texts, README, CHANGELOG, LICENSE), is under 1 MB, and every "%key%" of package.json has its text. Prints what it
// found and ends with `N passed, N failed` like the other stages.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const MAX_BYTES = 1024 * 1024;
const ALLOWED = [/^extension\/dist\//, /^extension\/media\//, /^extension\/(package\.json|package\.nls\.json|readme\.md|changelog\.md|LICENSE\.txt|LICENSE)$/i,
  /^extension\.vsixmanifest$/, /^\[Content_Types\]\.xml$/];

/** The entries of a zip file: names and, for small ones, their contents. */
function zipEntries(bytes) {
  let end = bytes.length - 22;
  while (end >= 0 && bytes.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error('not a zip file (no end of central directory)');
  const count = bytes.readUInt16LE(end + 10);
  let at = bytes.readUInt32LE(end + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    const method = bytes.readUInt16LE(at + 10);
    const compressed = bytes.readUInt32LE(at + 20);
    const nameLength = bytes.readUInt16LE(at + 28);
    const extra = bytes.readUInt16LE(at + 30);
    const comment = bytes.readUInt16LE(at + 32);
    const local = bytes.readUInt32LE(at + 42);
    const name = bytes.toString('utf8', at + 46, at + 46 + nameLength);
    const dataAt = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    const raw = bytes.subarray(dataAt, dataAt + compressed);
    entries.push({ name, data: () => (method === 8 ? inflateRawSync(raw) : raw) });
    at += 46 + nameLength + extra + comment;
  }
  return entries;
}

const results = [];
const check = (what, ok, detail = '') => {
  results.push(ok);
  console.log(`  ${ok ? '✓' : '✗'} ${what}${detail ? `: ${detail}` : ''}`);
};

const tmp = mkdtempSync(join(tmpdir(), 'procscope-package-'));
try {
  const vsix = join(tmp, 'procscope.vsix');
  const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, encoding: 'utf8' });
  check('the extension builds', build.status === 0, build.stderr.trim());
  const vsce = spawnSync(process.execPath, [join(root, 'node_modules/@vscode/vsce/vsce'), 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '-o', vsix],
    { cwd: root, encoding: 'utf8' });
  check('vsce packages it', vsce.status === 0, vsce.status === 0 ? '' : (vsce.stderr || vsce.stdout).trim().split('\n').slice(-5).join(' | '));
  if (vsce.status === 0) {
    const size = statSync(vsix).size;
    check('the .vsix is under 1 MB', size < MAX_BYTES, `${(size / 1024).toFixed(1)} KB`);
    const entries = zipEntries(readFileSync(vsix));
    const stray = entries.map((e) => e.name).filter((name) => !name.endsWith('/') && !ALLOWED.some((pattern) => pattern.test(name)));
    check('it holds only dist/, media/, the manifest and its texts, README, CHANGELOG and LICENSE', stray.length === 0, stray.join(', '));
    for (const needed of ['extension/dist/extension.js', 'extension/dist/supervisor.js', 'extension/dist/watchdog.js', 'extension/dist/python/sitecustomize.py', 'extension/package.nls.json']) {
      check(`it holds ${needed}`, entries.some((e) => e.name === needed));
    }
    const manifest = entries.find((e) => e.name === 'extension/package.json');
    const texts = entries.find((e) => e.name === 'extension/package.nls.json');
    if (manifest && texts) {
      const nls = JSON.parse(texts.data().toString('utf8'));
      const keys = [...manifest.data().toString('utf8').matchAll(/"%([^%"]+)%"/g)].map((m) => m[1]);
      const missing = keys.filter((key) => nls[key] === undefined);
      check(`every %key% of package.json (${keys.length}) has its text in package.nls.json`, keys.length > 0 && missing.length === 0, missing.join(', '));
      const plain = [];
      const visit = (value, path) => {
        if (Array.isArray(value)) value.forEach((item, i) => visit(item, `${path}[${i}]`));
        else if (value && typeof value === 'object') {
          for (const [key, item] of Object.entries(value)) {
            const userFacing = ['title', 'description', 'markdownDescription', 'contents', 'displayName', 'category'].includes(key) || (key === 'name' && path.includes('views'));
            if (userFacing && typeof item === 'string' && !/^%[^%]+%$/.test(item)) plain.push(`${path}.${key}`);
            else if (key === 'enumDescriptions' && Array.isArray(item) && item.some((text) => !/^%[^%]+%$/.test(text))) plain.push(`${path}.${key}`);
            else visit(item, `${path}.${key}`);
          }
        }
      };
      const parsed = JSON.parse(manifest.data().toString('utf8'));
      visit({ displayName: parsed.displayName, description: parsed.description, contributes: parsed.contributes, capabilities: parsed.capabilities }, 'package.json');
      check('every user-facing string of package.json comes from package.nls.json', plain.length === 0, plain.slice(0, 10).join(', '));
      const media = (parsed.contributes.walkthroughs ?? []).flatMap((w) => w.steps.map((step) => step.media?.markdown ?? step.media?.image)).filter(Boolean);
      const absent = media.filter((file) => !entries.some((e) => e.name === `extension/${file}`));
      check(`the walkthrough's steps (${media.length}) have their media in the package`, media.length >= 4 && absent.length === 0, absent.join(', '));
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const failed = results.filter((ok) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
