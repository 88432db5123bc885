// Checks untrusted input (a ProcessSpec, a timeout) and throws errors that repeat the bad value and its type.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { InstrumentMode } from './types';

/** `"" (string)`, `42 (number)`, `null`: how a bad value is shown in an error message. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `${JSON.stringify(value)} (array)`;
  if (typeof value === 'string') return `${JSON.stringify(value)} (string)`;
  if (typeof value === 'object') {
    let text: string;
    try {
      text = JSON.stringify(value);
    } catch {
      text = String(value);
    }
    return `${text} (object)`;
  }
  return `${String(value)} (${typeof value})`;
}

export interface ValidSpec {
  command: string;
  args: string[];
  name: string | undefined;
  daemon: boolean;
  cwd: string | undefined;
  env: Record<string, string>;
  shell: boolean;
  instrument: InstrumentMode;
}

/** A NUL byte cannot cross exec(): say so, instead of the ENOENT or "invalid argument" spawn would give. */
function noNul(field: string, value: string): void {
  if (value.includes('\0')) throw new TypeError(`Expected \`${field}\` without NUL bytes, but it contains a NUL byte: ${describeValue(value)}`);
}

const INSTRUMENT_MODES: readonly InstrumentMode[] = ['auto', 'python', 'none'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The spec with defaults filled in, or an Error naming the first field that is wrong; a relative cwd is taken from `baseDir`. */
export function validateSpec(input: unknown, baseDir?: string): ValidSpec {
  if (!isPlainObject(input)) throw new TypeError(`Expected a ProcessSpec object, got ${describeValue(input)}`);
  const { command, args = [], name, daemon = false, cwd, env = {}, shell = false, instrument = 'auto' } = input;
  if (typeof command !== 'string' || command.trim() === '') {
    throw new TypeError(`Expected \`command\` to be a non-empty string, got ${describeValue(command)}`);
  }
  noNul('command', command);
  if (!Array.isArray(args)) throw new TypeError(`Expected \`args\` to be an array of strings, got ${describeValue(args)}`);
  // A plain loop, not forEach: forEach skips the holes of a sparse array, which would then run as "undefined".
  for (let i = 0; i < args.length; i++) {
    if (!(i in args)) throw new TypeError(`Expected \`args[${i}]\` to be a string, got a hole (the array is sparse)`);
    const arg: unknown = args[i];
    if (typeof arg !== 'string') throw new TypeError(`Expected \`args[${i}]\` to be a string, got ${describeValue(arg)}`);
    noNul(`args[${i}]`, arg);
  }
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    throw new TypeError(`Expected \`name\` to be a non-empty string, got ${describeValue(name)}`);
  }
  if (typeof daemon !== 'boolean') throw new TypeError(`Expected \`daemon\` to be a boolean, got ${describeValue(daemon)}`);
  if (typeof shell !== 'boolean') throw new TypeError(`Expected \`shell\` to be a boolean, got ${describeValue(shell)}`);
  if (!INSTRUMENT_MODES.includes(instrument as InstrumentMode)) {
    throw new TypeError(`Expected \`instrument\` to be one of "auto", "python", "none", got ${describeValue(instrument)}`);
  }
  if (!isPlainObject(env)) throw new TypeError(`Expected \`env\` to be an object of strings, got ${describeValue(env)}`);
  for (const [key, value] of Object.entries(env)) {
    if (typeof value !== 'string') throw new TypeError(`Expected \`env.${key}\` to be a string, got ${describeValue(value)}`);
    if (key === '' || key.includes('=')) throw new TypeError(`Expected \`env\` names to be non-empty and without "=", got ${describeValue(key)}`);
    noNul(`env.${key}`, key);
    noNul(`env.${key}`, value);
  }
  let directory: string | undefined;
  if (cwd !== undefined) {
    if (typeof cwd !== 'string' || cwd === '') throw new TypeError(`Expected \`cwd\` to be a non-empty string, got ${describeValue(cwd)}`);
    noNul('cwd', cwd);
    directory = baseDir === undefined ? cwd : resolve(baseDir, cwd);
    let isDirectory = false;
    try {
      isDirectory = statSync(directory).isDirectory();
    } catch {
      throw new Error(`Working directory does not exist: \`cwd\` is ${describeValue(cwd)}`);
    }
    if (!isDirectory) throw new Error(`Working directory is not a directory: \`cwd\` is ${describeValue(cwd)}`);
  }
  return {
    command,
    args: [...(args as string[])],
    name: typeof name === 'string' ? name : undefined,
    daemon,
    cwd: directory,
    env: { ...(env as Record<string, string>) },
    shell,
    instrument: instrument as InstrumentMode,
  };
}

/** A join/kill timeout in milliseconds: undefined (wait forever) or a finite number ≥ 0. */
export function validateTimeout(value: unknown, label = 'timeoutMs'): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`Expected \`${label}\` to be a non-negative number of milliseconds, got ${describeValue(value)}`);
  }
  return value;
}
