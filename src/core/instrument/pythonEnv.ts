// What a Python launch needs to load the helper (PYTHONPATH, PROCSCOPE_*), and which commands count as Python for 'auto'.
import type { InstrumentEnv } from './protocol';

/**
 * `baseEnv` plus what a Python launch needs: the helper first on PYTHONPATH, the server's socket and token (from
 * InstrumentServer.register; left out if absent, which keeps the helper inert), the record level, and the helper dir.
 */
export function pythonEnv(
  helperDir: string,
  serverEnv: Readonly<Partial<InstrumentEnv>>,
  level: number,
  baseEnv: Readonly<Record<string, string | undefined>> = process.env,
  platform: NodeJS.Platform = process.platform,
): Record<string, string> {
  if (!Number.isSafeInteger(level) || level < 0) {
    throw new TypeError(`Expected \`level\` to be a non-negative integer, got ${String(level)} (${typeof level})`);
  }
  const env: Record<string, string> = {};
  const windows = platform === 'win32';
  let pythonPathKey = 'PYTHONPATH';
  let pythonPath = '';
  for (const [key, value] of Object.entries(baseEnv)) {
    if (value === undefined) continue;
    // Windows variable names are case-insensitive: keep whichever spelling the base environment uses.
    if (key === 'PYTHONPATH' || (windows && key.toUpperCase() === 'PYTHONPATH')) {
      pythonPathKey = key;
      pythonPath = value;
      continue;
    }
    if (/^PROCSCOPE_/i.test(key)) continue; // left over from an outer launch: ours replace them
    env[key] = value;
  }
  const delimiter = windows ? ';' : ':';
  // An empty entry would mean "the current directory": never add one that was not there.
  const rest = pythonPath === '' ? [] : pythonPath.split(delimiter).filter((entry) => entry !== helperDir);
  env[pythonPathKey] = [helperDir, ...rest].join(delimiter);
  env.PROCSCOPE_HELPER_DIR = helperDir;
  env.PROCSCOPE_LOG_LEVEL = String(level);
  for (const key of ['PROCSCOPE_SOCKET', 'PROCSCOPE_TOKEN'] as const) {
    const value = serverEnv[key];
    if (value !== undefined && value !== '') env[key] = value;
  }
  return env;
}

// python, python3, python3.11, python3.13t, python3.12-dbg, pythonw, pypy, pypy3.10 (case-insensitive; .exe dropped).
const INTERPRETER = /^(?:python|pypy)(?:\d+(?:\.\d+)*)?[dmtuw]?(?:-dbg|-debug)?$/;

/** Whether `command` runs Python: an interpreter (by file name), the `py` launcher, a .py file, or `env python3`. */
export function isPythonCommand(command: string, args: readonly string[] = []): boolean {
  const base = command.split(/[\\/]/).pop()?.toLowerCase().replace(/\.exe$/, '') ?? '';
  if (INTERPRETER.test(base) || base === 'py' || base === 'pyw') return true;
  if (/\.pyw?$/.test(base)) return true;
  if (base === 'env') {
    // env [-i] [-u NAME] [NAME=VALUE]... COMMAND
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg === '-u' || arg === '--unset' || arg === '-C' || arg === '--chdir') i++;
      else if (arg.startsWith('-') || /^[^=]+=/.test(arg)) continue;
      else return isPythonCommand(arg);
    }
  }
  return false;
}
