// Reads the procscope.* settings once per change; defaults come from src/core/settings.ts (package.json agrees, tested).
import * as vscode from 'vscode';
import { LEVEL_NAMES, LEVELS, parseLevel, type LevelName } from './core/levels';
import { describeValue } from './core/validate';
import { MIN_OUTPUT_BUFFER_BYTES, MIN_POLL_INTERVAL_MS, SETTING_DEFAULTS, type SupervisorSettings } from './core/settings';

export interface Settings {
  logLevel: LevelName;
  supervisor: SupervisorSettings;
  echoOutput: boolean;
  /** Settings whose value was wrong, each in a sentence, with the default used instead. */
  problems: string[];
}

/** procscope.pythonPath for a file (a resource setting: each folder may name its own interpreter). */
export function pythonPathFor(resource: vscode.Uri | undefined): string {
  return String(vscode.workspace.getConfiguration('procscope', resource ?? null).get('pythonPath') ?? SETTING_DEFAULTS.pythonPath).trim();
}

/** A setting's value, or its default with a sentence on why, kept in `problems`. */
class Reader {
  readonly problems: string[] = [];
  private readonly c = vscode.workspace.getConfiguration('procscope');

  number(key: keyof typeof SETTING_DEFAULTS, min = 0): number {
    const value = this.c.get(key);
    const fallback = SETTING_DEFAULTS[key] as number;
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
      if (value >= min) return value;
      this.problems.push(`procscope.${key} is ${value}, below its minimum: using ${min}`);
      return min;
    }
    this.problems.push(`procscope.${key}: expected a number of 0 or more, got ${describeValue(value)}; using ${fallback}`);
    return fallback;
  }

  boolean(key: keyof typeof SETTING_DEFAULTS): boolean {
    const value = this.c.get(key);
    if (typeof value === 'boolean') return value;
    const fallback = SETTING_DEFAULTS[key] as boolean;
    this.problems.push(`procscope.${key}: expected true or false, got ${describeValue(value)}; using ${fallback}`);
    return fallback;
  }

  level(): LevelName {
    const value = this.c.get('logLevel');
    const level = parseLevel(value);
    if (level) return level;
    const fallback = SETTING_DEFAULTS.logLevel as LevelName;
    this.problems.push(`procscope.logLevel: expected one of ${LEVEL_NAMES.join(', ')}, got ${describeValue(value)}; using ${fallback}`);
    return fallback;
  }
}

/** The settings, each wrong one replaced by its default; `problems` says which and why, for the log. */
export function readSettings(): Settings {
  const read = new Reader();
  const logLevel = read.level();
  return {
    logLevel,
    supervisor: {
      logLevel: LEVELS[logLevel],
      killTimeoutMs: read.number('killTimeoutMs'),
      shutdownJoinTimeoutMs: read.number('shutdownJoinTimeoutMs'),
      pollIntervalMs: read.number('pollIntervalMs', MIN_POLL_INTERVAL_MS),
      outputBufferBytes: read.number('outputBufferKb', MIN_OUTPUT_BUFFER_BYTES / 1024) * 1024,
      reattachGraceMs: read.number('reattachGraceMs'),
    },
    echoOutput: read.boolean('echoOutput'),
    problems: read.problems,
  };
}

/** Keeps the current settings, re-read whenever a procscope.* setting changes; says at WARNING what it had to replace. */
export class SettingsWatcher implements vscode.Disposable {
  private current = readSettings();
  private told = new Set<string>();
  private warn: ((message: string) => void) | undefined;
  private readonly emitter = new vscode.EventEmitter<Settings>();
  readonly onDidChange = this.emitter.event;
  private readonly subscription = vscode.workspace.onDidChangeConfiguration((e) => {
    if (!e.affectsConfiguration('procscope')) return;
    this.current = readSettings();
    this.emitter.fire(this.current); // first: its listeners set the log level the problems are told at
    this.tellProblems();
  });

  get value(): Settings {
    return this.current;
  }

  get level(): number {
    return LEVELS[this.current.logLevel];
  }

  /** From now on, each wrong setting is told through `warn` once, when first read (again if it is fixed and broken again). */
  reportTo(warn: (message: string) => void): void {
    this.warn = warn;
    this.tellProblems();
  }

  private tellProblems(): void {
    if (!this.warn) return;
    const now = new Set(this.current.problems);
    for (const problem of now) if (!this.told.has(problem)) this.warn(problem);
    this.told = now;
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }
}
