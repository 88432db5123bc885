// Finds a command's executable before spawning, so a typo gets a clear message instead of a bare ENOENT.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    if (process.platform !== 'win32') accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path `command` would run from `cwd` with `pathVariable`, or undefined when there is none.
 * On Windows (PATHEXT, App Paths) the answer is left to spawn itself: this returns the command unchanged.
 */
export function findExecutable(command: string, cwd: string, pathVariable: string | undefined): string | undefined {
  if (process.platform === 'win32') return command;
  if (command.includes('/')) {
    const full = isAbsolute(command) ? command : resolve(cwd, command);
    return isExecutableFile(full) ? full : undefined;
  }
  for (const dir of (pathVariable ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(isAbsolute(dir) ? dir : resolve(cwd, dir), command);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
