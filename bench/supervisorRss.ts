// Measures the supervisor process's memory with 200 live processes whose output buffers are full: each printed more
// than procscope.outputBufferKb of text lines, then sleeps. VmRSS (and the peak, VmHWM) from /proc/PID/status, for the
// supervisor and, as context, for the watchdog it spawns (dist/watchdog.js).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ProcessService } from '../src/core/host/processService';
import { readStat } from '../src/core/os/procfs';
import { DEFAULT_SETTINGS } from '../src/core/settings';
import { SUPERVISOR_NODE_OPTIONS, supervisorMallocEnv } from '../src/core/supervisorMemory';
import { aliveWithStart, benchService, log, main, round, sleep, type BenchResult, type Row } from './common';

const COUNT = Number(process.env.BENCH_SUPERVISOR_COUNT ?? 200);
const BAR_MB = 60;
const MB = 1e6; // as the other benchmarks count (the bar is 60 × 10⁶ bytes)

/** VmRSS, VmHWM and RssAnon of `pid` in bytes, from /proc/PID/status. */
function memoryOf(pid: number): { rss: number; hwm: number; anon: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: field('VmRSS'), hwm: field('VmHWM'), anon: field('RssAnon') };
  } catch {
    return undefined;
  }
}

/** The watchdog: the supervisor's child running dist/watchdog.js. */
function watchdogOf(supervisor: number): number | undefined {
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || readStat(pid)?.ppid !== supervisor) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.endsWith('watchdog.js'))) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

const mb = (bytes: number) => `${round(bytes / MB, 1)} MB`;

interface PipeReads {
  anon: number;
  rss: number;
  readMs: number;
  complete: boolean;
}

/** bench/pipeReadMemory.ts in a Node process of its own, run as the supervisor runs (its Node options and malloc). */
function pipeReads(mode: 'node' | 'reused' | 'fresh' | 'idle', lines: number, line: string): PipeReads {
  const script = resolve(__dirname, 'pipeReadMemory.js');
  const env = { ...process.env, ...supervisorMallocEnv(process.env) };
  const out = execFileSync(process.execPath, [...SUPERVISOR_NODE_OPTIONS, script, mode, String(COUNT), String(lines), line], { env, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').pop() as string) as PipeReads;
}

main(async (): Promise<BenchResult> => {
  const settings = { ...DEFAULT_SETTINGS };
  const cap = settings.outputBufferBytes;
  const line = 'procscope-bench-0123456789012345678901234567890123456789-abcdef';
  const lines = Math.ceil((cap * 1.25) / (line.length + 1)); // each process prints 1.25 × the buffer
  const bytesEach = lines * (line.length + 1);
  const service: ProcessService = benchService(settings);
  // The supervisor comes up with the first start: start one that ends at once, and read it idle.
  const first = await service.start({ command: '/bin/true' });
  await service.join(first.id);
  await service.clearExited();
  const supervisorPid = service.supervisorPid;
  if (supervisorPid === undefined) throw new Error('no supervisor');
  const supervisorStart = readStat(supervisorPid)?.startTime ?? 0;
  await sleep(500);
  const idle = memoryOf(supervisorPid);
  const watchdogPid = watchdogOf(supervisorPid);

  // Each: `lines` lines of text, then sleeps (exec: one process per row).
  const script = `yes '${line}' | head -n ${lines}; exec sleep 600`;
  const t = performance.now();
  const started = await Promise.all(Array.from({ length: COUNT }, (_, i) => service.start({ command: 'sh', args: ['-c', script], name: `bench-full-${i}` })));
  let peakRss = 0;
  const sampler = setInterval(() => {
    const now = memoryOf(supervisorPid)?.rss ?? 0;
    if (now > peakRss) peakRss = now;
  }, 50);
  // Full: every process wrote more than the buffer holds (its shell has become `sleep`), and the supervisor has read it
  // all (its output files say so). The files are read only once the writing is done: reading 200 MB over and over
  // would keep this process (the supervisor's host) too busy to take what the supervisor sends it.
  const pending = new Set(started.map((p) => p.id));
  const deadline = Date.now() + 40_000;
  const comm = (pid: number | null) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  while (started.some((p) => comm(p.pid) !== 'sleep') && Date.now() < deadline) await sleep(100);
  while (pending.size > 0) {
    if (Date.now() > deadline) break;
    await sleep(250);
    for (const id of pending) if (service.storedOutput(id).totalBytes >= bytesEach) pending.delete(id);
  }
  const filledMs = performance.now() - t;
  // Settled: what the burst left behind has had time to be collected (it is read at 1 s and at 5 s; the later counts).
  await sleep(1000);
  const afterOneSecond = memoryOf(supervisorPid);
  await sleep(4000);
  clearInterval(sampler);
  const live = started.filter((p) => service.row(p.id)?.alive).length;
  const full = memoryOf(supervisorPid);
  const watchdog = watchdogPid === undefined ? undefined : memoryOf(watchdogPid);
  const held = started.reduce((n, p) => n + service.storedOutput(p.id).segments.reduce((m, s) => m + s.data.length, 0), 0);
  log(`${COUNT - pending.size} of ${COUNT} buffers full after ${round(filledMs, 0)} ms, ${live} alive; supervisor ${mb(full?.rss ?? NaN)} (peak ${mb(full?.hwm ?? NaN)}), idle ${mb(idle?.rss ?? NaN)}; watchdog ${mb(watchdog?.rss ?? NaN)}`);

  // Clean up through the service; then every pid must be gone.
  const pids = started.map((p) => ({ pid: p.pid as number, startTime: readStat(p.pid as number)?.startTime ?? 0 }));
  await Promise.all(started.map((p) => service.terminate(p.id)));
  const gone = Date.now() + 5000;
  while (pids.some((p) => aliveWithStart(p.pid, p.startTime)) && Date.now() < gone) await sleep(20);
  const survivors = pids.filter((p) => aliveWithStart(p.pid, p.startTime));
  for (const p of survivors) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  await service.clearExited();
  await service.detach();
  service.dispose();
  const supervisorGone = Date.now() + 5000;
  while (aliveWithStart(supervisorPid, supervisorStart) && Date.now() < supervisorGone) await sleep(20);

  // What the way pipes are read does to a Node process's memory, the same output read by a bare Node process (the
  // supervisor reads as `reused` does), and the floor: the same Node process reading nothing.
  const reads = (['node', 'reused', 'fresh', 'idle'] as const).map((mode) => pipeReads(mode, lines, line));
  const [nodeReads, reusedReads, freshReads, idleNode] = reads;

  const notes: string[] = [];
  if (reads.some((r) => !r.complete)) notes.push('a pipe-read prototype did not read all its children\'s output within 30 s');
  if (pending.size > 0) notes.push(`${pending.size} of ${COUNT} processes had not filled their buffers within 40 s`);
  if (live < COUNT) notes.push(`only ${live} of ${COUNT} were alive when measured`);
  if (survivors.length) notes.push(`${survivors.length} processes outlived terminate() and were SIGKILLed by group`);
  const rss = full?.rss ?? NaN;
  const rows: Row[] = [
    {
      benchmark: 'supervisor',
      what: `supervisor RSS (VmRSS, 5 s after the last byte) with ${live} live processes, each having printed ${round(bytesEach / MB, 2)} MB (> procscope.outputBufferKb = ${cap / 1024}; ${round(held / MB, 0)} MB held in the on-disk buffers)`,
      procscope: `${mb(rss)} (peak VmHWM ${mb(full?.hwm ?? NaN)})`,
      baseline: mb(idle?.rss ?? NaN),
      baselineName: 'the same supervisor idle, nothing running',
      bar: `≤ ${BAR_MB} MB`,
      met: rss <= BAR_MB * MB && pending.size === 0 && live === COUNT,
    },
    {
      benchmark: 'supervisor',
      what: 'context: the same moment, RssAnon only (the supervisor\'s own memory: VmRSS less the pages of the node binary and its libraries, shared with every process running the same binary, the extension host among them)',
      procscope: mb(full?.anon ?? NaN),
      baseline: mb(idle?.anon ?? NaN),
      baselineName: 'idle',
      bar: 'context',
    },
    {
      benchmark: 'supervisor',
      what: 'context: the floor: a bare Node process (the supervisor\'s options and malloc settings) that reads nothing, VmRSS; RssAnon',
      procscope: `${mb(idleNode.rss)}; ${mb(idleNode.anon)}`,
      bar: 'context',
    },
    {
      benchmark: 'supervisor',
      what: 'context: the watchdog process (dist/watchdog.js, spawned by the supervisor) VmRSS meanwhile',
      procscope: watchdog ? `${mb(watchdog.rss)} (peak ${mb(watchdog.hwm)})` : 'not found',
      bar: 'context',
    },
    {
      benchmark: 'supervisor',
      what: `context: a bare Node process (the supervisor's options and malloc settings) reading the same ${COUNT} × ${round(bytesEach / MB, 2)} MB from pipes into one reused 64 KB buffer (each pipe's handle taken over by a net.Socket with \`onread\`), as the supervisor reads, RssAnon; VmRSS, 3 s after the last byte; read time`,
      procscope: `${mb(reusedReads.anon)}; ${mb(reusedReads.rss)}; ${round(reusedReads.readMs, 0)} ms`,
      baseline: `${mb(nodeReads.anon)}; ${mb(nodeReads.rss)}; ${round(nodeReads.readMs, 0)} ms`,
      baselineName: 'the same with Node\'s own reads (\'data\' events)',
      bar: 'context',
    },
    {
      benchmark: 'supervisor',
      what: 'context: the same, with a new 64 KB buffer for every read, each kept until the end of the event-loop turn (a copy of every read, the way not taken), RssAnon; VmRSS; read time',
      procscope: `${mb(freshReads.anon)}; ${mb(freshReads.rss)}; ${round(freshReads.readMs, 0)} ms`,
      bar: 'context',
    },
  ];
  return {
    name: 'supervisorRss',
    rows,
    details: { count: COUNT, linesEach: lines, bytesEach, filledMs: round(filledMs), live, supervisor: { idle, afterOneSecond, afterFiveSeconds: full, sampledPeak: peakRss }, watchdog: { pid: watchdogPid, ...watchdog }, heldBytes: held, survivors: survivors.length, pipeReads: reads },
    notes,
  };
});
