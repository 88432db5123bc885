// Reads the procscope.* settings once per change; defaults come from src/core/settings.ts (package.json agrees, tested).
import * as vscode from 'vscode';
import { LEVELS, parseLevel, type LevelName } from './core/levels';
import { MIN_OUTPUT_BUFFER_BYTES, MIN_POLL_INTERVAL_MS, SETTING_DEFAULTS, type SupervisorSettings } from './core/settings';

export interface Settings {
  logLevel: LevelName;
  supervisor: SupervisorSettings;
  echoOutput: boolean;
}

/** procscope.pythonPath for a file (a resource setting: each folder may name its own interpreter). */
export function pythonPathFor(resource: vscode.Uri | undefined): string {
  return String(vscode.workspace.getConfiguration('procscope', resource ?? null).get('pythonPath') ?? SETTING_DEFAULTS.pythonPath).trim();
}

function nonNegative(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('procscope');
  const logLevel = parseLevel(c.get('logLevel')) ?? (SETTING_DEFAULTS.logLevel as LevelName);
  return {
    logLevel,
    supervisor: {
      logLevel: LEVELS[logLevel],
      killTimeoutMs: nonNegative(c.get('killTimeoutMs'), SETTING_DEFAULTS.killTimeoutMs),
      shutdownJoinTimeoutMs: nonNegative(c.get('shutdownJoinTimeoutMs'), SETTING_DEFAULTS.shutdownJoinTimeoutMs),
      pollIntervalMs: Math.max(MIN_POLL_INTERVAL_MS, nonNegative(c.get('pollIntervalMs'), SETTING_DEFAULTS.pollIntervalMs)),
      outputBufferBytes: Math.max(MIN_OUTPUT_BUFFER_BYTES, nonNegative(c.get('outputBufferKb'), SETTING_DEFAULTS.outputBufferKb) * 1024),
      reattachGraceMs: nonNegative(c.get('reattachGraceMs'), SETTING_DEFAULTS.reattachGraceMs),
    },
    echoOutput: c.get('echoOutput') === true,
  };
}

/** Keeps the current settings, re-read whenever a procscope.* setting changes. */
export class SettingsWatcher implements vscode.Disposable {
  private current = readSettings();
  private readonly emitter = new vscode.EventEmitter<Settings>();
  readonly onDidChange = this.emitter.event;
  private readonly subscription = vscode.workspace.onDidChangeConfiguration((e) => {
    if (!e.affectsConfiguration('procscope')) return;
    this.current = readSettings();
    this.emitter.fire(this.current);
  });

  get value(): Settings {
    return this.current;
  }

  get level(): number {
    return LEVELS[this.current.logLevel];
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }
}
