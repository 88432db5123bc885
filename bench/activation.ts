// Measures dist/extension.js's size and activate() time in fresh real extension hosts (code-server + Chromium), against the bars.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { log, main, median, onCleanup, round, ROOT, type BenchResult, type Row } from './common';

const HOSTS = Number(process.env.BENCH_ACTIVATION_HOSTS ?? 5);
const INGEST_ROUNDS = Number(process.env.BENCH_HOST_INGEST_ROUNDS ?? 3);
const MEMORY_ROUNDS = Number(process.env.BENCH_HOST_MEMORY_ROUNDS ?? 7);
const STALL_ROUNDS = Number(process.env.BENCH_HOST_STALL_ROUNDS ?? 3);
const STALL_BAR_MS = 20;
const BUNDLE_LIMIT = 150 * 1024;
const PER_HOST_TIMEOUT_MS = 90_000;

/** What bench/activationHost.ts writes, one JSON line per host. */
interface HostResult {
  wasActive?: boolean;
  activateMs?: number;
  /** What the extension logged at DEBUG: its activate() from start to the API handed out. */
  loggedActivateMs?: number;
  ingest?: { bareMBps: number[]; apiMBps: number[]; bareLagP99Ms: number[]; apiLagP99Ms: number[]; megabytes: number };
  hostMemory?: HostMemory | { error: string };
  stall?: Stall | { error: string };
  phaseSeconds?: Record<string, number>;
  error?: string;
}

interface MemorySide {
  apiMs: number[];
  rawMs: number[];
  rssMb: number[];
}

interface HostMemory {
  count: number;
  rawCount: number;
  rounds: number;
  with1GiB: MemorySide;
  without: MemorySide;
  rssBeforeMb: number;
  rssAfterReleaseMb: number[];
}

interface StallRun {
  ms: number;
  maxDelayMs: number;
  maxGapMs: number;
  /** The larger of the two (the gap less the timer's own 1 ms). */
  stallMs: number;
}

interface Stall {
  count: number;
  api: StallRun[];
  idle: StallRun[];
  raw: StallRun[];
}

/** The harness is ES modules and this bundle CommonJS: they are loaded at run time. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const load = (path: string): Promise<any> => import(pathToFileURL(join(ROOT, path)).href);

/** Opens one workbench after another on one code-server; each window gets a fresh extension host that runs the bench entry. */
async function measureHosts(): Promise<HostResult[]> {
  const { setupCodeServer } = await load('scripts/setup-code-server.mjs');
  const { startCodeServer } = await load('test/integration/codeServer.mjs');
  const { launchBrowser, newWorkbenchPage } = await load('test/integration/browser.mjs');
  await setupCodeServer({ log: (line: string) => log(`[setup-code-server] ${line}`) });

  const tmp = mkdtempSync(join(tmpdir(), 'procscope-bench-'));
  const resultsFile = join(tmp, 'host-results.jsonl');
  const controlFile = join(tmp, 'host-control.json');
  writeFileSync(resultsFile, '');
  let serverText = '';
  const server = await startCodeServer({
    root: ROOT,
    folder: mkdtempSync(join(tmp, 'workspace-')),
    env: { PROCSCOPE_BENCH_HOST_OUT: resultsFile, PROCSCOPE_BENCH_CONTROL: controlFile },
    // At DEBUG the extension logs how long activate() took: it ran onStartupFinished, before the bench entry could time it.
    userSettings: { 'procscope.logLevel': 'DEBUG' },
    onOutput: (text: string) => (serverText = (serverText + text).slice(-20_000)),
  });
  onCleanup(() => server.killNow());
  let browser;
  const hosts: HostResult[] = [];
  try {
    browser = await launchBrowser();
    for (let i = 0; i < HOSTS; i++) {
      // The server's environment is fixed at its start: what differs per host goes through a file the host reads.
      // Only the first host runs the ingest comparison: once is enough, and it would slow the others' start.
      // The start-cost and stall phases too: they come after activate() has been timed.
      const first = i === 0;
      writeFileSync(controlFile, JSON.stringify({ ingestRounds: first ? INGEST_ROUNDS : 0, memoryRounds: first ? MEMORY_ROUNDS : 0, stallRounds: first ? STALL_ROUNDS : 0 }));
      const t = performance.now();
      let resolveExit!: (outcome: string) => void;
      const exited = new Promise<string>((r) => (resolveExit = r));
      const page = await newWorkbenchPage(browser, { onExit: (code: number) => resolveExit(`exit ${code}`) });
      page.on('crash', () => resolveExit('the page crashed'));
      await page.goto(
        server.workbenchUrl([
          ['extensionDevelopmentPath', server.remoteUri(ROOT)],
          ['extensionTestsPath', server.remoteUri(join(ROOT, 'out/bench/activationHost.js'))],
          ['skipWelcome', 'true'],
        ]),
      );
      const timer = setTimeout(() => resolveExit('timeout'), first ? 2 * PER_HOST_TIMEOUT_MS : PER_HOST_TIMEOUT_MS);
      const outcome = await exited;
      clearTimeout(timer);
      await page.context().close();
      const lines = readFileSync(resultsFile, 'utf8').split('\n').filter(Boolean);
      const result: HostResult = lines.length > hosts.length ? JSON.parse(lines[lines.length - 1]) : { error: `no result (${outcome})` };
      hosts.push(result);
      const activated = result.loggedActivateMs !== undefined
        ? `activate() ${round(result.loggedActivateMs, 1)} ms (logged by the extension)`
        : `activate() ${round(result.activateMs ?? NaN, 1)} ms${result.wasActive ? ' (was already active, and nothing logged: not counted)' : ''}`;
      const what = result.error ? `error: ${result.error.split('\n')[0]}` : activated;
      const phases = Object.entries(result.phaseSeconds ?? {}).map(([name, s]) => `; ${name} ${s} s`).join('');
      log(`host ${i + 1}: ${what} (${round((performance.now() - t) / 1000, 1)} s${phases})`);
    }
  } finally {
    await browser?.close().catch(() => undefined);
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  if (hosts.every((h) => h.error)) log(`code-server output (tail):\n${serverText.slice(-3000)}`);
  return hosts;
}

/** A host's activate() time: what the extension logged, else the bench entry's own timing if it activated it. */
function activateMsOf(host: HostResult): number | undefined {
  if (host.loggedActivateMs !== undefined) return host.loggedActivateMs;
  return host.activateMs !== undefined && !host.wasActive ? host.activateMs : undefined;
}

function ingestRows(ingest: NonNullable<HostResult['ingest']>): Row[] {
  const bareRate = median(ingest.bareMBps);
  const apiRate = median(ingest.apiMBps);
  const lag = median(ingest.apiLagP99Ms);
  return [
    {
      benchmark: 'activation',
      what: `in the extension host: ${ingest.megabytes} MB of output through the API (start → join, whole extension listening)`,
      procscope: `${round(apiRate, 0)} MB/s`,
      baseline: `${round(bareRate, 0)} MB/s`,
      baselineName: 'bare pipe read in the host (spawn → close)',
      ratio: round(apiRate / bareRate),
      bar: '≥ 0.4×',
      met: apiRate / bareRate >= 0.4,
    },
    {
      benchmark: 'activation',
      what: 'extension-host event-loop lag p99 during that flood',
      procscope: `${round(lag, 1)} ms`,
      baseline: `${round(median(ingest.bareLagP99Ms), 1)} ms`,
      baselineName: 'bare pipe read in the host',
      bar: '≤ 50 ms',
      met: lag <= 50,
    },
  ];
}

/** A row that could not be measured is still shown, with why. */
function notRun(what: string, bar: string, why: string): Row {
  return { benchmark: 'activation', what, procscope: `not run: ${why}`, bar, met: false };
}

const MEMORY_WHAT = 'in the extension host: start + join of 100 × /bin/true through the API, one after another, with 1 GB allocated and touched in the host';
const MEMORY_BAR = '≤ 1.2× (median of paired rounds)';
const STALL_WHAT = `in the extension host: worst event-loop stall while 200 × /bin/true start at once through the API (until all joined)`;
const STALL_BAR = `never > ${STALL_BAR_MS} ms`;

function hostMemoryRows(memory: HostMemory): Row[] {
  const w = memory.with1GiB;
  const o = memory.without;
  // Each round's pair ran back to back: the median of the pairs' ratios shrugs off load that comes and goes.
  const apiRatio = median(w.apiMs.map((ms, i) => ms / o.apiMs[i]));
  const rawRatio = median(w.rawMs.map((ms, i) => ms / o.rawMs[i]));
  const perStart = (ms: number[], count: number) => `${round(median(ms), 0)} ms (${round(median(ms) / count, 2)} ms each)`;
  return [
    {
      benchmark: 'activation',
      what: `${MEMORY_WHAT} (host RSS ${round(median(w.rssMb), 0)} MB; ${memory.rounds} rounds alternating)`,
      procscope: perStart(w.apiMs, memory.count),
      baseline: perStart(o.apiMs, memory.count),
      baselineName: `the same with nothing allocated (host RSS ${round(median(o.rssMb), 0)} MB)`,
      ratio: round(apiRatio),
      bar: MEMORY_BAR,
      met: apiRatio <= 1.2,
    },
    {
      benchmark: 'activation',
      what: `context: raw child_process.spawn of ${memory.rawCount} × /bin/true from the host itself, one after another (pipes read to the end), with the same 1 GB allocated`,
      procscope: perStart(w.rawMs, memory.rawCount),
      baseline: perStart(o.rawMs, memory.rawCount),
      baselineName: 'the same with nothing allocated',
      ratio: round(rawRatio),
      bar: 'context (the fork cost the supervisor avoids)',
    },
  ];
}

function stallRows(stall: Stall): Row[] {
  const worst = Math.max(...stall.api.map((r) => r.stallMs));
  const idle = Math.max(...stall.idle.map((r) => r.stallMs));
  const raw = Math.max(...stall.raw.map((r) => r.stallMs));
  return [
    {
      benchmark: 'activation',
      what: `${STALL_WHAT}: worst of ${stall.api.length} rounds (each ${round(median(stall.api.map((r) => r.ms)), 0)} ms), monitorEventLoopDelay and a 1 ms timer's gaps`,
      procscope: `${round(worst, 1)} ms (median round ${round(median(stall.api.map((r) => r.stallMs)), 1)} ms)`,
      baseline: `${round(idle, 1)} ms`,
      baselineName: 'the host idle for as long',
      bar: STALL_BAR,
      met: worst <= STALL_BAR_MS,
    },
    {
      benchmark: 'activation',
      what: `context: the same burst forked by the host itself (200 × child_process.spawn at once), worst stall of ${stall.raw.length} rounds`,
      procscope: `${round(raw, 1)} ms`,
      bar: 'context (what the supervisor keeps off the host)',
    },
  ];
}

main(async (): Promise<BenchResult> => {
  const bundleBytes = statSync(join(ROOT, 'dist/extension.js')).size;
  const rows: Row[] = [
    {
      benchmark: 'activation',
      what: 'bundle size of dist/extension.js',
      procscope: `${round(bundleBytes / 1024, 1)} KB`,
      bar: '≤ 150 KB',
      met: bundleBytes <= BUNDLE_LIMIT,
    },
  ];
  const notes: string[] = [];
  let hosts: HostResult[] = [];
  try {
    hosts = await measureHosts();
  } catch (error) {
    notes.push(`the extension host could not be run: ${error instanceof Error ? error.message.split('\n')[0] : error}`);
  }
  const activations = hosts.map(activateMsOf).filter((ms): ms is number => ms !== undefined);
  rows.push({
    benchmark: 'activation',
    what: `activate() in the real extension host (code-server), median of ${activations.length} fresh hosts (as the extension logs it at DEBUG: from its first line to the API handed out)`,
    procscope: activations.length ? `${round(median(activations), 1)} ms` : 'not measured',
    bar: '≤ 30 ms',
    met: activations.length > 0 && median(activations) <= 30,
  });
  const ingest = hosts.find((h) => h.ingest)?.ingest;
  if (ingest) rows.push(...ingestRows(ingest));
  else notes.push('the in-host ingest comparison did not run');
  const first = hosts[0];
  const why = (phase: { error: string } | undefined) => phase?.error ?? first?.error?.split('\n')[0] ?? (hosts.length ? 'the first host did not run it' : 'no extension host ran');
  const memory = first?.hostMemory;
  if (memory && !('error' in memory)) rows.push(...hostMemoryRows(memory));
  else rows.push(notRun(MEMORY_WHAT, MEMORY_BAR, why(memory)));
  const stall = first?.stall;
  if (stall && !('error' in stall)) rows.push(...stallRows(stall));
  else rows.push(notRun(STALL_WHAT, STALL_BAR, why(stall)));
  for (const h of hosts) if (h.error) notes.push(`a host failed: ${h.error.split('\n')[0]}`);
  return { name: 'activation', rows, details: { bundleBytes, hosts }, notes };
});
