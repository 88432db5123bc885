// Shared by the unit tests: fixture paths, services wired to a real supervisor process, and waiting for real processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ProcessService, type ServiceOptions } from '../../src/core/host/processService';
import { SupervisorRegistry } from '../../src/core/host/registry';
import { LEVELS } from '../../src/core/levels';
import { Logger } from '../../src/core/logger';
import { sameProcess } from '../../src/core/os/identity';
import { isDead } from '../../src/core/os/osProcess';
import { readStat } from '../../src/core/os/procfs';
import { createProcessSource } from '../../src/core/os/processSource';
import { DEFAULT_SETTINGS, type SupervisorSettings } from '../../src/core/settings';
import { Supervisor, type SupervisorOptions } from '../../src/core/supervisor/supervisor';
export { sleep, waitFor } from '../shared/wait';

/** The repository root, from out/test/unit where the bundled tests run. */
export const ROOT = resolve(__dirname, '../../..');
export const SUPERVISOR_SCRIPT = resolve(ROOT, 'dist/supervisor.js');
export const HELPER_DIR = resolve(ROOT, 'dist/python');

export function fixture(name: string): string {
  return resolve(ROOT, 'test/fixtures', name);
}

/** Settings for tests: a fast poll, SUBDEBUG records, a short grace (tests detach and end quickly). */
export function testSettings(settings: Partial<SupervisorSettings> = {}): SupervisorSettings {
  return { ...DEFAULT_SETTINGS, pollIntervalMs: 100, logLevel: LEVELS.SUBDEBUG, reattachGraceMs: 2000, ...settings };
}

const services: ProcessService[] = [];
const supervisors: Supervisor[] = [];
const dirs: string[] = [];

/** A temporary directory, removed after the tests of the file. */
export function tempDir(prefix = 'procscope-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** A ProcessService as the extension has it: every launch goes through a real supervisor process. */
export function makeService(settings: Partial<SupervisorSettings> = {}, options: Partial<ServiceOptions> = {}): { service: ProcessService; logger: Logger } {
  const logger = new Logger(LEVELS.SUBDEBUG);
  if (process.env.PROCSCOPE_TEST_LOG) logger.onLine((line) => console.log(line));
  const current = testSettings(settings);
  const service = new ProcessService({
    supervisorScript: SUPERVISOR_SCRIPT,
    helperDir: HELPER_DIR,
    logger,
    settings: () => current,
    source: createProcessSource(),
    ...options,
  });
  services.push(service);
  return { service, logger };
}

/** A registry file of its own, for re-adoption tests. */
export function makeRegistry(): SupervisorRegistry {
  return new SupervisorRegistry(join(tempDir(), 'supervisors.json'));
}

/** The supervisor itself, in this process, for tests that look inside it (a slow source, its discovery rules). */
export function makeSupervisor(options: Partial<SupervisorOptions> = {}, settings: Partial<SupervisorSettings> = {}): Supervisor {
  const supervisor = new Supervisor({ source: createProcessSource(), outputDir: tempDir('procscope-out-'), helperDir: HELPER_DIR, settings: testSettings(settings), ...options });
  supervisors.push(supervisor);
  return supervisor;
}

/** True while `pid` is a live process (a zombie counts as gone). */
export function isRunning(pid: number): boolean {
  return !isDead(readStat(pid));
}

function killQuietly(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Ends a row's process (and, for a launched row, its group) if it is still that very process: a pid is never trusted alone. */
function endIfStill(row: { pid: number | null; kind: string; startTime: number | undefined; alive: boolean }): void {
  if (!row.alive || row.pid === null || !sameProcess(readStat(row.pid), row.startTime)) return;
  if (row.kind === 'launched') killQuietly(-row.pid);
  killQuietly(row.pid);
}

/** Ends every process the tests of this file started, by pid or group, whatever state a test left them in. */
export async function cleanUpAll(): Promise<void> {
  for (const service of services.splice(0)) {
    for (const row of service.state.all()) endIfStill(row);
    // Detached with nothing left to watch, the supervisor exits by itself (and removes its directory).
    await service.detach();
    service.dispose();
  }
  for (const supervisor of supervisors.splice(0)) {
    for (const row of supervisor.state.all()) endIfStill(row);
    supervisor.dispose();
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
