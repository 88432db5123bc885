// Measures ingest of 500 MB of text lines through ProcessTable + OutputBuffer against a bare Node pipe read; lag, memory, RSS.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ProcessService } from '../src/core/host/processService';
import { readStat } from '../src/core/os/procfs';
import { DEFAULT_SETTINGS } from '../src/core/settings';
import { benchService, log, main, median, round, type BenchResult } from './common';

const MEGABYTES = Number(process.env.BENCH_OUTPUT_MB ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FLOOD_SECONDS = Number(process.env.BENCH_FLOOD_SECONDS ?? 60); // "floods output for minutes": a minute of it
const PRODUCER = resolve(__dirname, 'produceLines.js');
const MB = 1e6;

interface Run {
  bytes: number;
  /** From the first byte read to the end of the stream. */
  ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
}

/** Starts an event-loop delay histogram; the returned function stops it and gives p99 and max in ms. */
function lagMonitor(): () => { p99: number; max: number } {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  return () => {
    histogram.disable();
    return { p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 };
  };
}

/** The baseline: spawn the producer and read its stdout to the end, counting bytes and nothing else. */
function bareRead(): Promise<Run> {
  return new Promise((done, fail) => {
    const stopLag = lagMonitor();
    const child = spawn(process.execPath, [PRODUCER, 'mb', String(MEGABYTES)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let first = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      if (bytes === 0) first = performance.now();
      bytes += chunk.length;
    });
    child.stderr.on('data', () => undefined);
    child.on('error', fail);
    child.on('close', () => {
      const ms = performance.now() - first;
      const lag = stopLag();
      done({ bytes, ms, lagP99Ms: lag.p99, lagMaxMs: lag.max });
    });
  });
}

/** Through the supervisor: start + join, with an output listener as the extension has (it marks documents stale). */
async function throughTable(table: ProcessService, peak: { bytes: number; supervisorRss: number }, args = ['mb', String(MEGABYTES)]): Promise<Run & { id: string }> {
  const stopLag = lagMonitor();
  let id = '';
  const subscription = table.onOutput((event) => {
    if (event.id !== id) return;
    const rss = readStat(table.supervisorPid ?? 0)?.rssBytes ?? 0;
    if (rss > peak.supervisorRss) peak.supervisorRss = rss;
  });
  const first = performance.now();
  const p = await table.start({ command: process.execPath, args: [PRODUCER, ...args] });
  id = p.id;
  await table.join(p.id);
  const ms = performance.now() - first;
  subscription.dispose();
  const lag = stopLag();
  const stored = table.storedOutput(id);
  const kept = stored.segments.reduce((n, s) => n + s.data.length, 0);
  if (kept > peak.bytes) peak.bytes = kept;
  return { id, bytes: stored.totalBytes, ms, lagP99Ms: lag.p99, lagMaxMs: lag.max };
}

/** A `kB` field of /proc/PID/status, in bytes (NaN when unreadable). */
function supervisorStatus(pid: number | undefined, field: string): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

const rate = (run: Run) => run.bytes / MB / (run.ms / 1000);
const rssMb = () => process.memoryUsage().rss / MB;

main(async (): Promise<BenchResult> => {
  const settings = { ...DEFAULT_SETTINGS };
  const table = benchService(settings);
  const peak = { bytes: 0, supervisorRss: 0 };
  await bareRead(); // warm-up
  await table.clearExited();
  await throughTable(table, peak);
  await table.clearExited();
  const bare: Run[] = [];
  const core: Run[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    bare.push(await bareRead());
    core.push(await throughTable(table, peak));
    await table.clearExited();
  }
  log(`bare read: ${bare.map((r) => round(rate(r), 0)).join(' ')} MB/s; lag p99 ${bare.map((r) => round(r.lagP99Ms, 1)).join(' ')} ms`);
  log(`ProcessTable: ${core.map((r) => round(rate(r), 0)).join(' ')} MB/s; lag p99 ${core.map((r) => round(r.lagP99Ms, 1)).join(' ')} ms`);
  const bareRate = median(bare.map(rate));
  const coreRate = median(core.map(rate));
  const lagP99 = median(core.map((r) => r.lagP99Ms));
  const lagWorst = Math.max(...core.map((r) => r.lagP99Ms));

  // A long flood: RSS must level off, whatever the amount of output.
  const rssBefore = rssMb();
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssMb()), 250);
  const flood = await throughTable(table, peak, ['seconds', String(FLOOD_SECONDS)]);
  clearInterval(sampler);
  const rssAfter = rssMb();
  const floodBuffer = table.output(flood.id).length;
  // The supervisor's own peak (VmHWM: every page it ever had resident, not only what the output events sampled).
  const supervisorHwm = supervisorStatus(table.supervisorPid, 'VmHWM');
  const supervisorRssNow = supervisorStatus(table.supervisorPid, 'VmRSS');
  await table.clearExited();
  await table.detach();
  table.dispose();
  const rssPeak = Math.max(rssBefore, ...samples, rssAfter);
  // Bounded: the flood may add the buffer and the allocator's working set once, but nothing that grows with the output.
  const rssGrowthMb = rssAfter - rssBefore;
  const firstHalf = samples.slice(0, samples.length >> 1);
  const secondHalf = samples.slice(samples.length >> 1);
  const trendMb = median(secondHalf) - median(firstHalf);
  log(`flood: ${round(flood.bytes / MB, 0)} MB in ${FLOOD_SECONDS} s; RSS ${round(rssBefore, 0)} → ${round(rssAfter, 0)} MB (peak ${round(rssPeak, 0)}); trend ${round(trendMb, 1)} MB`);

  const cap = settings.outputBufferBytes;
  return {
    name: 'outputIngest',
    rows: [
      {
        benchmark: 'output',
        what: `ingest ${MEGABYTES} MB of text lines from a child`,
        procscope: `${round(coreRate, 0)} MB/s`,
        baseline: `${round(bareRate, 0)} MB/s`,
        baselineName: 'bare Node pipe read',
        ratio: round(coreRate / bareRate),
        bar: '≥ 0.4×',
        met: coreRate / bareRate >= 0.4,
      },
      {
        benchmark: 'output',
        what: 'event-loop lag p99 while ingesting (median of runs; worst run)',
        procscope: `${round(lagP99, 1)} ms; worst ${round(lagWorst, 1)} ms`,
        baseline: `${round(median(bare.map((r) => r.lagP99Ms)), 1)} ms`,
        baselineName: 'bare Node pipe read',
        bar: '≤ 50 ms',
        met: lagP99 <= 50,
      },
      {
        benchmark: 'output',
        what: `peak bytes held by the output buffer (procscope.outputBufferKb = ${cap / 1024})`,
        procscope: `${round(peak.bytes / 1024, 0)} KB`,
        bar: `≤ ${cap / 1024} KB`,
        met: peak.bytes <= cap,
      },
      {
        benchmark: 'output',
        what: `RSS over a ${FLOOD_SECONDS} s flood (${round(flood.bytes / MB, 0)} MB): before → after (peak)`,
        procscope: `${round(rssBefore, 0)} → ${round(rssAfter, 0)} MB (${round(rssPeak, 0)} MB)`,
        bar: 'grows < 64 MB, no upward trend (< 16 MB second half vs first)',
        met: rssGrowthMb < 64 && trendMb < 16 && floodBuffer <= cap,
      },
      {
        benchmark: 'output',
        what: `context: the supervisor's RSS peak over these runs (${MEGABYTES} MB × ${ROUNDS + 1} and the flood): sampled on output events; VmHWM; VmRSS at the end`,
        procscope: `${round(peak.supervisorRss / MB, 0)} MB; ${round(supervisorHwm / MB, 0)} MB; ${round(supervisorRssNow / MB, 0)} MB`,
        bar: 'context (SPEC §2: a small RSS; see the supervisor row)',
      },
    ],
    details: {
      supervisorRssPeakSampledBytes: peak.supervisorRss,
      supervisorVmHwmBytes: supervisorHwm,
      supervisorVmRssEndBytes: supervisorRssNow,
      bareMBps: bare.map((r) => round(rate(r), 1)),
      processTableMBps: core.map((r) => round(rate(r), 1)),
      lagP99Ms: core.map((r) => round(r.lagP99Ms, 2)),
      lagMaxMs: core.map((r) => round(r.lagMaxMs, 2)),
      bareLagP99Ms: bare.map((r) => round(r.lagP99Ms, 2)),
      peakBufferBytes: peak.bytes,
      flood: { seconds: FLOOD_SECONDS, bytes: flood.bytes, rssMb: samples.map((v) => round(v, 1)), rssBefore, rssAfter, bufferBytes: floodBuffer },
    },
    notes: [],
  };
});
