// Reads the procscope.* settings once per change, with the defaults of package.json as the fallback.
import * as vscode from 'vscode';
import { LEVELS, parseLevel, type LevelName } from './core/levels';
import type { TableSettings } from './core/processTable';
import type { ProcessSpec } from './core/types';

export interface Settings extends TableSettings {
  logLevel: LevelName;
  pythonPath: string;
  echoOutput: boolean;
  processes: ProcessSpec[];
}

function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('procscope');
  const processes = c.get<unknown>('processes');
  return {
    logLevel: parseLevel(c.get('logLevel')) ?? 'INFO',
    killTimeoutMs: positive(c.get('killTimeoutMs'), 3000),
    shutdownJoinTimeoutMs: positive(c.get('shutdownJoinTimeoutMs'), 1500),
    pollIntervalMs: Math.max(100, positive(c.get('pollIntervalMs'), 1000)),
    outputBufferBytes: Math.max(4, positive(c.get('outputBufferKb'), 1024)) * 1024,
    transientRowMs: 5000,
    pythonPath: String(c.get('pythonPath') ?? '').trim(),
    echoOutput: c.get('echoOutput') === true,
    processes: Array.isArray(processes) ? (processes as ProcessSpec[]) : [],
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
