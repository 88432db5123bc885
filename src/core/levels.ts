// Log levels as multiprocessing.util defines them (SUBDEBUG and SUBWARNING included), and the record format.

export const LEVELS = {
  NOTSET: 0,
  SUBDEBUG: 5,
  DEBUG: 10,
  INFO: 20,
  SUBWARNING: 25,
  WARNING: 30,
  ERROR: 40,
  CRITICAL: 50,
} as const;

export type LevelName = keyof typeof LEVELS;

export const LEVEL_NAMES = Object.keys(LEVELS) as LevelName[];

/** The level named `name` (case-insensitive), or undefined. */
export function parseLevel(name: unknown): LevelName | undefined {
  if (typeof name !== 'string') return undefined;
  const upper = name.trim().toUpperCase();
  return (LEVEL_NAMES as string[]).includes(upper) ? (upper as LevelName) : undefined;
}

/** The name logging would print for a numeric level: `Level 15` for one without a name, as Python does. */
export function levelName(level: number): string {
  for (const name of LEVEL_NAMES) if (LEVELS[name] === level) return name;
  return `Level ${level}`;
}

/** One record as multiprocessing's log_to_stderr() prints it: `[INFO/Process-1] message`. */
export function formatRecord(levelLabel: string, processName: string, message: string): string {
  return `[${levelLabel}/${processName}] ${message}`;
}
