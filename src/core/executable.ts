// Finds a command's executable before spawning, so a typo or a bad path gets a clear message instead of a bare ENOENT.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/** Where the command was found, or what is wrong with what was found. */
export type Lookup = { path: string; problem?: undefined } | { path?: undefined; problem: string };

type Candidate = 'executable' | 'directory' | 'not-executable' | 'missing';

function examine(path: string): Candidate {
  try {
    if (statSync(path).isDirectory()) return 'directory';
  } catch {
    return 'missing';
  }
  try {
    if (process.platform !== 'win32') accessSync(path, constants.X_OK);
    return 'executable';
  } catch {
    return 'not-executable';
  }
}

const PROBLEMS: Record<Exclude<Candidate, 'executable' | 'missing'>, string> = {
  directory: 'is a directory',
  'not-executable': 'is not executable (EACCES)',
};

/**
 * What `command` would run from `cwd` with `pathVariable`: its path, or why it cannot run (a directory, a file without
 * exec permission, nothing found). On Windows (PATHEXT, App Paths) the answer is left to spawn itself.
 */
export function lookUpExecutable(command: string, cwd: string, pathVariable: string | undefined): Lookup {
  if (process.platform === 'win32') return { path: command };
  if (command.includes('/')) {
    const full = isAbsolute(command) ? command : resolve(cwd, command);
    const found = examine(full);
    if (found === 'executable') return { path: full };
    return { problem: found === 'missing' ? `executable not found (ENOENT) at ${JSON.stringify(full)}` : PROBLEMS[found] };
  }
  let unusable: Candidate | undefined;
  for (const dir of (pathVariable ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(isAbsolute(dir) ? dir : resolve(cwd, dir), command);
    const found = examine(candidate);
    if (found === 'executable') return { path: candidate };
    // A shell that finds only a file it may not run says "Permission denied"; directories on PATH are skipped.
    if (found === 'not-executable') unusable = found;
  }
  if (unusable === 'not-executable') return { problem: PROBLEMS['not-executable'] };
  return { problem: `executable not found (ENOENT) in PATH or relative to ${JSON.stringify(cwd)}` };
}

/** The path `command` would run from, or undefined. */
export function findExecutable(command: string, cwd: string, pathVariable: string | undefined): string | undefined {
  return lookUpExecutable(command, cwd, pathVariable).path;
}
