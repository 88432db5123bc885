// Shared by the integration tests: the real extension's API, fixture paths, and checks on real pids.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProcScopeApi } from '../../../src/api';
import { isDead } from '../../../src/core/os/osProcess';
import { readStat } from '../../../src/core/os/procfs';
import type { ProcessSnapshot } from '../../../src/core/types';
export { ownerMark, processesMarkedBy } from '../../shared/marks';
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
