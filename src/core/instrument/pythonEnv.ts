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

/** What each interpreter flag that keeps the helper out does, said once per launch (the row's note and an INFO record). */
const KEEPS_HELPER_OUT: Readonly<Record<string, string>> = {
  I: 'python -I (isolated mode) ignores PYTHONPATH, so ProcScope\'s helper cannot load: its multiprocessing children cannot be reported',
  E: 'python -E ignores PYTHONPATH, so ProcScope\'s helper cannot load: its multiprocessing children cannot be reported',
  S: 'python -S skips the site module, so ProcScope\'s helper (a sitecustomize) cannot load: its multiprocessing children cannot be reported',
};
/** Interpreter options whose value is the rest of the argument or the next one (-W ignore, -Xdev; -Q is Python 2's). */
const OPTIONS_WITH_VALUE = 'WXQ';
const LONG_OPTIONS_WITH_VALUE = new Set(['--check-hash-based-pycs']);

/** The flags among an interpreter's own options (before the script, -c or -m) that keep the helper out, in order. */
function blockingFlags(args: readonly string[]): string[] {
  const found: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-' || arg === '--' || !arg.startsWith('-')) break; // stdin, the end of options, or the script
    if (arg.startsWith('--')) {
      if (LONG_OPTIONS_WITH_VALUE.has(arg)) i++;
      continue;
    }
    // Short flags combine (-IS, -Es, -bBu); one that takes a value takes the rest of the argument, or the next one.
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j];
      if (flag === 'c' || flag === 'm') return found; // what follows is the program and its arguments
      if (OPTIONS_WITH_VALUE.includes(flag)) {
        if (j === arg.length - 1) i++;
        break;
      }
      if (flag in KEEPS_HELPER_OUT && !found.includes(flag)) found.push(flag);
    }
  }
  return found;
}

function isInterpreter(word: string): boolean {
  const base = word.split(/[\\/]/).pop()?.toLowerCase().replace(/\.exe$/, '') ?? '';
  return INTERPRETER.test(base) || base === 'py' || base === 'pyw';
}

/**
 * Why the helper cannot report this launch's multiprocessing children, when its command line says so: the interpreter
 * runs with -I, -E or -S (alone or combined: -IS, -Es). `command` is an interpreter, `env … python`, or a wrapper whose
 * arguments run one (`uv run python -I x.py`); with `shell`, a command line whose words are looked at the same way.
 */
export function pythonFlagsNote(command: string, args: readonly string[] = [], shell = false): string | undefined {
  let words = [command, ...args];
  if (shell) words = [...command.trim().split(/\s+/), ...args];
  // The interpreter: the command itself, or the first word after it that is one (env's, a wrapper's).
  const at = words.findIndex((word) => isInterpreter(word));
  if (at < 0) return undefined;
  const [flag] = blockingFlags(words.slice(at + 1));
  return flag === undefined ? undefined : KEEPS_HELPER_OUT[flag];
}
