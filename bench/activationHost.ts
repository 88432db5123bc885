// Inside one extension host: times activate(), then (if asked) a 500 MB flood through the API against a bare pipe read,
// with lag; start + join of short processes with 1 GB allocated in the host against nothing allocated (and raw spawn
// the same way, for context); and the host's worst event-loop stall while 200 processes start at once.
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import * as vscode from 'vscode';
import type { ProcScopeApi } from '../src/api';

const PRODUCER = resolve(__dirname, 'produceLines.js');
const MEGABYTES = 500;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `body` with an event-loop delay histogram on; returns its ms and the p99 lag in ms. */
async function timed(body: () => Promise<void>): Promise<{ ms: number; lagP99Ms: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const t = performance.now();
  await body();
  const ms = performance.now() - t;
  histogram.disable();
  return { ms, lagP99Ms: histogram.percentile(99) / 1e6 };
}

function bareRead(): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [PRODUCER, 'mb', String(MEGABYTES)], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', () => undefined);
    child.stderr.on('data', () => undefined);
    child.on('error', fail);
    child.on('close', () => done());
  });
}

async function throughApi(api: ProcScopeApi): Promise<void> {
  const p = await api.start({ command: process.execPath, args: [PRODUCER, 'mb', String(MEGABYTES)], name: 'bench-flood' });
  await api.join(p.id);
}

// ---- start cost vs host memory ----

const SHORT = '/bin/true';
const GIB = 1 << 30;

/** The host's resident memory in MB, from /proc/self/status. */
function hostRssMb(): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/**
 * Allocates `bytes` in this process and touches every page, so they are resident (what a fork would have to map).
 * It lives in a worker thread of the host: same process, same address space, and terminating the worker frees it at
 * once, which a Buffer of the main thread would only be when the host's GC gets round to it.
 */
async function allocate(bytes: number): Promise<{ release: () => Promise<void> }> {
  const source = `const { parentPort, workerData } = require('node:worker_threads');
globalThis.ballast = Buffer.allocUnsafeSlow(workerData).fill(1);
parentPort.postMessage('ready');
setInterval(() => undefined, 1 << 30);`;
  const worker = new Worker(source, { eval: true, workerData: bytes });
  await new Promise<void>((ready, fail) => {
    worker.once('message', () => ready());
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`the allocating worker exited with ${code}`)));
  });
  return { release: async () => void (await worker.terminate()) };
}

/** The baseline: a child_process.spawn from the host itself (a fork of the host), pipes read to the end. */
function rawOne(): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(SHORT, [], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', () => undefined);
    child.stderr.on('data', () => undefined);
    child.on('error', fail);
    child.on('close', () => done());
  });
}

async function apiOne(api: ProcScopeApi): Promise<void> {
  const p = await api.start({ command: SHORT, name: 'bench-short' });
  await api.join(p.id);
}

/** `count` one after another; ms. */
async function sequence(count: number, one: () => Promise<void>): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < count; i++) await one();
  return performance.now() - t;
}

async function clearExited(): Promise<void> {
  await vscode.commands.executeCommand('procscope.clearExited');
}

interface MemorySide {
  apiMs: number[];
  rawMs: number[];
  rssMb: number[];
}

/**
 * Rounds alternate with and without the 1 GB: even rounds go alloc → raw → API → release → API → raw, odd ones
 * raw → API → alloc → API → raw → release, so the two API runs of a round are back to back (only the allocation or the
 * release between them) and each side goes first as often as the other: load that comes and goes falls on both alike.
 */
async function hostMemory(api: ProcScopeApi, rounds: number, count: number, rawCount: number): Promise<Record<string, unknown>> {
  const withGb: MemorySide = { apiMs: [], rawMs: [], rssMb: [] };
  const without: MemorySide = { apiMs: [], rawMs: [], rssMb: [] };
  const rssBefore = hostRssMb();
  const rssAfterRelease: number[] = [];
  // Warm-up: the supervisor is up, the code paths compiled, /bin/true in the page cache.
  await sequence(20, () => apiOne(api));
  await sequence(20, rawOne);
  await clearExited();
  const throughApi = async (side: MemorySide) => {
    side.rssMb.push(hostRssMb());
    side.apiMs.push(await sequence(count, () => apiOne(api)));
    await clearExited();
  };
  const raw = async (side: MemorySide) => void side.rawMs.push(await sequence(rawCount, rawOne));
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      const ballast = await allocate(GIB);
      try {
        await raw(withGb);
        await throughApi(withGb);
      } finally {
        await ballast.release();
      }
      rssAfterRelease.push(hostRssMb());
      await throughApi(without);
      await raw(without);
    } else {
      await raw(without);
      await throughApi(without);
      const ballast = await allocate(GIB);
      try {
        await throughApi(withGb);
        await raw(withGb);
      } finally {
        await ballast.release();
      }
      rssAfterRelease.push(hostRssMb());
    }
  }
  return { count, rawCount, rounds, with1GiB: withGb, without, rssBeforeMb: rssBefore, rssAfterReleaseMb: rssAfterRelease };
}

// ---- event-loop stall while 200 processes start ----

/**
 * Runs `body` with a 1 ms loop-delay histogram and a 1 ms interval timer on; returns ms, the histogram's worst delay,
 * the timer's worst gap, and the stall: the larger of the delay and the gap less the timer's own 1 ms. (A loop blocked
 * for the whole window gives the histogram no sample at all: only the gap shows it.)
 */
async function stallOf(body: () => Promise<void>): Promise<{ ms: number; maxDelayMs: number; maxGapMs: number; stallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let last = performance.now();
  let maxGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now - last > maxGap) maxGap = now - last;
    last = now;
  }, 1);
  histogram.enable();
  const t = performance.now();
  await body();
  const ms = performance.now() - t;
  histogram.disable();
  clearInterval(ticker);
  const maxDelayMs = histogram.max / 1e6;
  const maxGapMs = Math.max(maxGap, performance.now() - last);
  return { ms, maxDelayMs, maxGapMs, stallMs: Math.max(maxDelayMs, maxGapMs - 1) };
}

async function stall(api: ProcScopeApi, rounds: number, count: number): Promise<Record<string, unknown>> {
  const through = async () => {
    const started = await Promise.all(Array.from({ length: count }, () => api.start({ command: SHORT, name: 'bench-burst' })));
    await Promise.all(started.map((p) => api.join(p.id)));
  };
  const raw = () => Promise.all(Array.from({ length: count }, rawOne)).then(() => undefined);
  const apiRuns: Awaited<ReturnType<typeof stallOf>>[] = [];
  const rawRuns: typeof apiRuns = [];
  const idleRuns: typeof apiRuns = [];
  await through(); // warm-up
  await clearExited();
  for (let i = 0; i < rounds; i++) {
    await sleep(200);
    const ours = await stallOf(through);
    apiRuns.push(ours);
    await clearExited();
    await sleep(200);
    // Context: the host doing nothing of ours for as long, then the same burst forked by the host itself.
    idleRuns.push(await stallOf(() => sleep(ours.ms)));
    rawRuns.push(await stallOf(raw));
  }
  return { count, api: apiRuns, idle: idleRuns, raw: rawRuns };
}

function control(): { ingestRounds: number; memoryRounds: number; stallRounds: number } {
  const file = process.env.PROCSCOPE_BENCH_CONTROL;
  const read = file ? JSON.parse(readFileSync(file, 'utf8')) : {};
  return { ingestRounds: Number(read.ingestRounds ?? 0), memoryRounds: Number(read.memoryRounds ?? 0), stallRounds: Number(read.stallRounds ?? 0) };
}

export async function run(): Promise<void> {
  const out = process.env.PROCSCOPE_BENCH_HOST_OUT;
  const result: Record<string, unknown> = {};
  try {
    const extension = vscode.extensions.getExtension<ProcScopeApi>('procscope.procscope');
    if (!extension) throw new Error('procscope.procscope is not installed in this host');
    // Let the host finish its own start-up first: what is timed is ProcScope's code, not the others' activation.
    await sleep(Number(process.env.PROCSCOPE_BENCH_SETTLE_MS ?? 1500));
    result.wasActive = extension.isActive;
    const t = performance.now();
    const api = await extension.activate();
    result.activateMs = performance.now() - t;
    // Active already (onStartupFinished): the extension's own DEBUG line says how long activate() took.
    const logged = api.logLines().map((line) => /activated in ([\d.]+) ms/.exec(line)).find(Boolean);
    if (logged) result.loggedActivateMs = Number(logged[1]);
    const asked = control();
    const rounds = asked.ingestRounds;
    if (rounds > 0) {
      const bare: { ms: number; lagP99Ms: number }[] = [];
      const ours: { ms: number; lagP99Ms: number }[] = [];
      await timed(bareRead); // warm-up
      await timed(() => throughApi(api));
      for (let i = 0; i < rounds; i++) {
        bare.push(await timed(bareRead));
        ours.push(await timed(() => throughApi(api)));
      }
      const rate = (ms: number) => MEGABYTES / (ms / 1000);
      result.ingest = {
        megabytes: MEGABYTES,
        bareMBps: bare.map((r) => rate(r.ms)),
        apiMBps: ours.map((r) => rate(r.ms)),
        bareLagP99Ms: bare.map((r) => r.lagP99Ms),
        apiLagP99Ms: ours.map((r) => r.lagP99Ms),
      };
    }
    // Each phase on its own: one that fails leaves its error and lets the next run.
    const phaseSeconds: Record<string, number> = {};
    const phase = async (name: 'hostMemory' | 'stall', body: () => Promise<Record<string, unknown>>) => {
      const t0 = performance.now();
      try {
        result[name] = await body();
      } catch (error) {
        result[name] = { error: error instanceof Error ? error.message : String(error) };
      }
      phaseSeconds[name] = Math.round((performance.now() - t0) / 100) / 10;
    };
    if (asked.memoryRounds > 0) await phase('hostMemory', () => hostMemory(api, asked.memoryRounds, 100, 25));
    if (asked.stallRounds > 0) await phase('stall', () => stall(api, asked.stallRounds, 200));
    result.phaseSeconds = phaseSeconds;
  } catch (error) {
    result.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
  }
  if (out) appendFileSync(out, `${JSON.stringify(result)}\n`);
  else console.log(JSON.stringify(result));
}
