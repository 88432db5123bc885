// Measures start + track + reap of 200 × /bin/true through ProcessTable against raw child_process.spawn reading the pipes,
// one after another and all at once, then one after another again with 500 MB and 1 GB allocated in this process.
import { spawn } from 'node:child_process';
import type { ProcessService } from '../src/core/host/processService';
import { benchService, log, main, median, round, type BenchResult } from './common';

const COUNT = 200;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const COMMAND = '/bin/true';

/** The baseline: what a user's own code would do. */
function rawOne(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(COMMAND, [], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', () => undefined);
    child.stderr.on('data', () => undefined);
    child.on('error', reject);
    child.on('close', () => resolve());
  });
}

/** Sequential runs go in slices of this many, alternating sides, so both see the same machine (2 cores, shared). */
const SLICE = 20;

async function rawRun(count: number, concurrent: boolean): Promise<number> {
  const t = performance.now();
  if (concurrent) await Promise.all(Array.from({ length: count }, rawOne));
  else for (let i = 0; i < count; i++) await rawOne();
  return performance.now() - t;
}

async function tableRun(table: ProcessService, count: number, concurrent: boolean): Promise<number> {
  const one = async () => {
    const p = await table.start({ command: COMMAND });
    await table.join(p.id);
  };
  const t = performance.now();
  if (concurrent) await Promise.all(Array.from({ length: count }, one));
  else for (let i = 0; i < count; i++) await one();
  return performance.now() - t;
}

/** One round: COUNT processes each way; returns [ProcessTable ms, raw ms]. */
async function measureRound(table: ProcessService, concurrent: boolean, tableFirst: boolean): Promise<[number, number]> {
  let core = 0;
  let raw = 0;
  const slice = concurrent ? COUNT : SLICE;
  for (let done = 0; done < COUNT; done += slice) {
    if (tableFirst) {
      core += await tableRun(table, slice, concurrent);
      raw += await rawRun(slice, concurrent);
    } else {
      raw += await rawRun(slice, concurrent);
      core += await tableRun(table, slice, concurrent);
    }
  }
  await table.clearExited(); // every round starts from an empty table
  return [core, raw];
}

main(async (): Promise<BenchResult> => {
  const table = benchService();
  const rows = [];
  const details: Record<string, unknown> = {};
  const held: Buffer[] = [];
  let started = 0;
  // 'steady': sequential again, right after: the supervisor has started ~2000 processes by then (context: a fresh
  // supervisor's first thousand starts are the slower ones, as the sequential rounds show).
  for (const [mode, allocateMb] of [['sequential', 0], ['steady', 0], ['concurrent', 0], ['sequential', 500], ['sequential', 500]] as const) {
    const concurrent = mode === 'concurrent';
    const startedBefore = started;
    // Then as in a big host: 500 MB, then 1 GB allocated and touched in this process (the raw spawn forks it).
    if (allocateMb > 0) held.push(Buffer.alloc(allocateMb * 2 ** 20, 1));
    const hostMb = Math.round(process.memoryUsage().rss / 2 ** 20);
    if (mode !== 'steady') {
      await measureRound(table, concurrent, true); // warm-up: code paths compiled, the page cache holds /bin/true
      started += COUNT;
    }
    const raw: number[] = [];
    const core: number[] = [];
    const rounds = allocateMb > 0 ? Math.min(ROUNDS, 5) : ROUNDS;
    for (let i = 0; i < rounds; i++) {
      const [c, r] = await measureRound(table, concurrent, i % 2 === 1);
      started += COUNT;
      core.push(c);
      raw.push(r);
    }
    const label = held.length ? `${mode}, ${held.length * 500} MB allocated` : mode;
    const steady = mode === 'steady';
    log(`${label}${steady ? ` (after ${startedBefore} starts)` : ''}: ProcessTable ${core.map((v) => round(v, 0)).join(' ')} ms; raw spawn ${raw.map((v) => round(v, 0)).join(' ')} ms`);
    // Each round's pair ran back to back: the median of the pairs' ratios shrugs off load that comes and goes.
    const ratio = median(core.map((ms, i) => ms / raw[i]));
    details[label] = steady
      ? { afterStarts: startedBefore, processTableMs: core.map((v) => round(v)), rawSpawnMs: raw.map((v) => round(v)) }
      : { processTableMs: core.map((v) => round(v)), rawSpawnMs: raw.map((v) => round(v)), ratioOfMedians: round(median(core) / median(raw), 3) };
    rows.push({
      benchmark: 'start + reap',
      what: steady
        ? `context: the same, one after another, once the supervisor has started ${startedBefore} processes (a fresh supervisor's first thousand starts are the slower ones)`
        : `start + track + reap ${COUNT} × /bin/true (${mode === 'concurrent' ? 'all at once' : `one after another, in slices of ${SLICE} alternating with the baseline`})${held.length ? `, with ${held.length * 500} MB allocated and touched in this process (RSS ${hostMb} MB)` : ''}`,
      procscope: `${round(median(core), 0)} ms`,
      baseline: `${round(median(raw), 0)} ms`,
      baselineName: 'child_process.spawn + read pipes',
      ratio: round(ratio),
      ...(steady ? { bar: 'context' } : { bar: '≤ 1.3× (median of paired rounds)', met: ratio <= 1.3 }),
    });
  }
  held.length = 0;
  await table.detach();
  table.dispose();
  return { name: 'startReap', rows, details, notes: [] };
});
