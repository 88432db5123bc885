// How to run a file by its kind: Python with the chosen interpreter, JavaScript with node, shell scripts with bash.
import { accessSync, constants, statSync } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import type { ProcessSpec } from '../core/types';

/** A spec running `file` from its own folder, or an Error saying why it cannot be run. */
export function specForFile(file: string, python: string): ProcessSpec {
  const ext = extname(file).toLowerCase();
  const base = { name: basename(file), cwd: dirname(file) };
  if (ext === '.py' || ext === '.pyw') return { ...base, command: python, args: [file], instrument: 'python' };
  if (ext === '.js' || ext === '.mjs' || ext === '.cjs') return { ...base, command: 'node', args: [file] };
  if (ext === '.sh' || ext === '.bash') return { ...base, command: 'bash', args: [file] };
  let executable = false;
  try {
    executable = statSync(file).isFile();
    accessSync(file, constants.X_OK);
  } catch {
    executable = false;
  }
  if (executable) return { ...base, command: file };
  throw new Error(`Don't know how to run ${JSON.stringify(basename(file))}: it is not a Python, JavaScript or shell file, and not executable`);
}
