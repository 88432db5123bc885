// Shared by the integration tests: the real extension's API, fixture paths, and checks on real pids.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProcScopeApi } from '../../../src/api';
import { isDead } from '../../../src/core/os/osProcess';
import { readStat } from '../../../src/core/os/procfs';
import type { ProcessSnapshot } from '../../../src/core/types';
export { sleep, waitFor } from '../../shared/wait';

/** The repository root, from out/test/integration/suite. */
export const ROOT = path.resolve(__dirname, '../../../..');

export function fixture(name: string): string {
  return path.join(ROOT, 'test/fixtures', name);
}

export async function api(): Promise<ProcScopeApi> {
  const extension = vscode.extensions.getExtension<ProcScopeApi>('procscope.procscope');
  if (!extension) throw new Error('procscope.procscope is not installed in this extension host');
  return extension.isActive ? extension.exports : extension.activate();
}

export function isRunning(pid: number | null): boolean {
  return pid !== null && !isDead(readStat(pid));
}


/** The PROCSCOPE_OWNER mark every process ProcScope starts inherits (`owner/launch`), read from outside. */
export function ownerMark(pid: number): string | undefined {
  try {
    const entry = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((e) => e.startsWith('PROCSCOPE_OWNER='));
    return entry?.slice('PROCSCOPE_OWNER='.length);
  } catch {
    return undefined;
  }
}

/** Every live process on the machine whose mark names `owner`, whoever its parent is now: judged from outside. */
export function processesMarkedBy(owner: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => isRunning(pid) && ownerMark(pid)?.startsWith(`${owner}/`));
}

/** Every process below `id`, as the API lists them. */
export function descendantsOf(procscope: ProcScopeApi, id: string): ProcessSnapshot[] {
  const below = procscope.processes().filter((p) => p.parentId === id);
  return below.flatMap((p) => [p, ...descendantsOf(procscope, p.id)]);
}

/** Sets a procscope.* setting for the duration of a test; returns a function that restores it. */
export async function withSetting(key: string, value: unknown): Promise<() => Promise<void>> {
  const config = vscode.workspace.getConfiguration('procscope');
  const before = config.inspect(key)?.globalValue;
  await config.update(key, value, vscode.ConfigurationTarget.Global);
  return async () => {
    await vscode.workspace.getConfiguration('procscope').update(key, before, vscode.ConfigurationTarget.Global);
  };
}

/** Ends whatever a test left running: every live process ProcScope knows, through ProcScope itself. */
export async function stopEverything(procscope: ProcScopeApi): Promise<void> {
  await vscode.commands.executeCommand('procscope.stopAll');
  for (const p of procscope.processes()) if (isRunning(p.pid)) assertNever(`pid ${p.pid} (${p.name}) survived Stop All`);
}

function assertNever(message: string): never {
  throw new Error(message);
}
