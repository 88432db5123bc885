// Inside one extension host: times activate(), then (if asked) a 500 MB flood through the API against a bare pipe read, with lag.
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
    const control = process.env.PROCSCOPE_BENCH_CONTROL;
    const rounds = control ? Number(JSON.parse(readFileSync(control, 'utf8')).ingestRounds ?? 0) : 0;
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
  } catch (error) {
    result.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
  }
  if (out) appendFileSync(out, `${JSON.stringify(result)}\n`);
  else console.log(JSON.stringify(result));
}
