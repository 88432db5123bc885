// Measures dist/extension.js's size and activate() time in fresh real extension hosts (code-server + Chromium), against the bars.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { log, main, median, onCleanup, round, ROOT, type BenchResult, type Row } from './common';

const HOSTS = Number(process.env.BENCH_ACTIVATION_HOSTS ?? 5);
const INGEST_ROUNDS = Number(process.env.BENCH_HOST_INGEST_ROUNDS ?? 3);
const BUNDLE_LIMIT = 150 * 1024;
const PER_HOST_TIMEOUT_MS = 90_000;

/** What bench/activationHost.ts writes, one JSON line per host. */
interface HostResult {
  wasActive?: boolean;
  activateMs?: number;
  ingest?: { bareMBps: number[]; apiMBps: number[]; bareLagP99Ms: number[]; apiLagP99Ms: number[]; megabytes: number };
  error?: string;
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
      writeFileSync(controlFile, JSON.stringify({ ingestRounds: i === 0 ? INGEST_ROUNDS : 0 }));
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
      const timer = setTimeout(() => resolveExit('timeout'), PER_HOST_TIMEOUT_MS);
      const outcome = await exited;
      clearTimeout(timer);
      await page.context().close();
      const lines = readFileSync(resultsFile, 'utf8').split('\n').filter(Boolean);
      const result: HostResult = lines.length > hosts.length ? JSON.parse(lines[lines.length - 1]) : { error: `no result (${outcome})` };
      hosts.push(result);
      const activated = `activate() ${round(result.activateMs ?? NaN, 1)} ms${result.wasActive ? ' (was already active: not counted)' : ''}`;
      const what = result.error ? `error: ${result.error.split('\n')[0]}` : activated;
      log(`host ${i + 1}: ${what} (${round((performance.now() - t) / 1000, 1)} s)`);
    }
  } finally {
    await browser?.close().catch(() => undefined);
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  if (hosts.every((h) => h.error)) log(`code-server output (tail):\n${serverText.slice(-3000)}`);
  return hosts;
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
  const activations = hosts.filter((h) => h.activateMs !== undefined && !h.wasActive).map((h) => h.activateMs as number);
  rows.push({
    benchmark: 'activation',
    what: `activate() in the real extension host (code-server), median of ${activations.length} fresh hosts`,
    procscope: activations.length ? `${round(median(activations), 1)} ms` : 'not measured',
    bar: '≤ 30 ms',
    met: activations.length > 0 && median(activations) <= 30,
  });
  const ingest = hosts.find((h) => h.ingest)?.ingest;
  if (ingest) rows.push(...ingestRows(ingest));
  else notes.push('the in-host ingest comparison did not run');
  for (const h of hosts) if (h.error) notes.push(`a host failed: ${h.error.split('\n')[0]}`);
  return { name: 'activation', rows, details: { bundleBytes, hosts }, notes };
});
