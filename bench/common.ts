// Shared by the benchmarks: statistics, the result format bench/run.mjs collects, and cleanup of every process started.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isDead } from '../src/core/os/osProcess';
import { readStat } from '../src/core/os/procfs';
import { ProcfsSource } from '../src/core/os/processSource';
import { ProcessService } from '../src/core/host/processService';
import { Logger } from '../src/core/logger';
import { DEFAULT_SETTINGS, type SupervisorSettings } from '../src/core/settings';

/** The repository root, from out/bench where the bundled benchmarks run. */
export const ROOT = resolve(__dirname, '../..');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const round = (value: number, digits = 2) => Number(value.toFixed(digits));

/** One line of the results table. `ratio` is always ProcScope's figure over the baseline's. */
export interface Row {
  benchmark: string;
  what: string;
  procscope: string;
  baseline?: string;
  baselineName?: string;
  ratio?: number;
  bar: string;
  /** Undefined for a row that only gives context (no bar). */
  met?: boolean;
}

export interface BenchResult {
  name: string;
  rows: Row[];
  /** Raw numbers (every sample), for bench.json. */
  details: Record<string, unknown>;
  notes: string[];
}

/** Hands the result to bench/run.mjs (a file named by PROCSCOPE_BENCH_OUT), or prints it when run alone. */
export function report(result: BenchResult): void {
  const out = process.env.PROCSCOPE_BENCH_OUT;
  if (out) writeFileSync(out, JSON.stringify(result, null, 2));
  for (const row of result.rows) {
    const vs = row.baseline === undefined ? '' : ` vs ${row.baselineName} ${row.baseline}${row.ratio === undefined ? '' : ` (ratio ${row.ratio})`}`;
    console.log(`[${row.met === undefined ? 'info' : row.met ? 'met' : 'NOT MET'}] ${row.what}: ${row.procscope}${vs}; bar ${row.bar}`);
  }
  for (const note of result.notes) console.log(`  note: ${note}`);
}

export function log(message: string): void {
  console.log(`  ${message}`);
}

/** True while `pid` is still that very process and not a zombie. */
export function aliveWithStart(pid: number, startTime: number): boolean {
  const now = readStat(pid);
  return !isDead(now) && now?.startTime === startTime;
}

// ---- cleanup: every process group a benchmark starts is ended when it exits, however it exits ----

const groups = new Set<ChildProcess>();

/** Starts `command` as the leader of a new process group that is SIGKILLed (whole group) when this process exits. */
export function spawnGroup(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], ...options, detached: true });
  groups.add(child);
  child.on('exit', () => {
    // The leader is reaped: its group id is no longer held for us, so it is not signalled any more. Members that
    // outlive it are orphans; the benchmark ends them by verified pid, and bench/subreaper.py takes any left over.
    groups.delete(child);
  });
  return child;
}

/** SIGKILL to the group of `child` while its leader is our unreaped child (so the group id is surely ours). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Extra cleanups (e.g. a ProcessTable's groups), run on exit too. */
const cleanups: (() => void)[] = [];
export function onCleanup(cleanup: () => void): void {
  cleanups.push(cleanup);
}

function cleanUpAll(): void {
  for (const cleanup of cleanups.splice(0)) {
    try {
      cleanup();
    } catch {
      // best effort
    }
  }
  for (const child of groups) killGroup(child);
  groups.clear();
}

process.on('exit', cleanUpAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    cleanUpAll();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

/** Runs the benchmark's main; a failure is reported and sets a non-zero exit code, and cleanup still happens. */
export function main(run: () => Promise<BenchResult>): void {
  run().then(report, (error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  });
}

/** On exit, SIGKILL the group of every live process the service launched (checked by start stamp), then its supervisor. */
export function guardService(service: ProcessService): void {
  onCleanup(() => {
    for (const row of service.state.roots()) {
      if (!row.alive || row.pid === null || row.startTime === undefined) continue;
      if (aliveWithStart(row.pid, row.startTime)) {
        try {
          process.kill(-row.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    const supervisor = service.supervisorPid;
    if (supervisor !== undefined) {
      try {
        process.kill(supervisor, 'SIGTERM');
      } catch {
        // gone already
      }
    }
  });
}

/** A ProcessService as the extension has it (a real supervisor process), guarded so nothing outlives the benchmark. */
export function benchService(settings: Partial<SupervisorSettings> = {}): ProcessService {
  const current = { ...DEFAULT_SETTINGS, ...settings };
  const service = new ProcessService({
    supervisorScript: resolve(ROOT, 'dist/supervisor.js'),
    helperDir: resolve(ROOT, 'dist/python'),
    logger: new Logger(),
    settings: () => current,
    source: new ProcfsSource(),
  });
  guardService(service);
  return service;
}
