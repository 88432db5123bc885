// `npm run bench`: runs every benchmark of SPEC §7 against its baseline, one process each, and prints a markdown table
// of medians, ratios and bars (also written to test-artifacts/bench.md, and everything to test-artifacts/bench.json).
// Builds nothing: `npm run bench` builds first (node scripts/build.mjs --tests).
//
//   node bench/run.mjs [NAME…] [--strict]
//
// NAME picks benchmarks (startReap terminateTree poll outputIngest supervisorRss readopt syncOverhead treeView timeline
// activation python);
// --strict exits 1 when a bar is missed (by default only a benchmark that fails to run does). Each benchmark runs under
// bench/subreaper.py, which reaps the orphans of the trees it builds and kills whatever it leaves behind; a benchmark
// that overruns its time limit gets SIGTERM (it then ends its own process groups), then SIGKILL.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'out/bench');
const artifacts = join(root, 'test-artifacts');

/** Every benchmark: its bundle, its time limit, and for a foreign one, how to read its output. */
const BENCHMARKS = [
  { name: 'startReap', file: 'startReap.js', limitS: 240 },
  { name: 'terminateTree', file: 'terminateTree.js', limitS: 300 },
  { name: 'poll', file: 'poll.js', limitS: 150 },
  { name: 'outputIngest', file: 'outputIngest.js', limitS: 150 },
  { name: 'supervisorRss', file: 'supervisorRss.js', limitS: 90 },
  { name: 'readopt', file: 'readopt.js', limitS: 90 },
  { name: 'syncOverhead', file: 'syncOverhead.js', limitS: 120 },
  { name: 'treeView', file: 'treeView.js', limitS: 60 },
  { name: 'timeline', file: 'timelineFps.js', limitS: 90 },
  { name: 'activation', file: 'activation.js', limitS: 210 },
  // The Python helper's own benchmark (bench/pythonInstrumentation.ts): argv[2] = rounds; prints one JSON line per
  // start method and log level.
  { name: 'python', file: 'pythonInstrumentation.js', args: [process.env.BENCH_PYTHON_ROUNDS ?? '5'], limitS: 200, parse: parsePythonLines },
];

const argv = process.argv.slice(2);
const strict = argv.includes('--strict');
const picked = argv.filter((a) => !a.startsWith('--'));
const unknown = picked.filter((name) => !BENCHMARKS.some((b) => b.name === name));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(' ')}`);
  process.exit(2);
}
if (!existsSync(out)) {
  console.error(`no ${out}: run \`node scripts/build.mjs --tests\` first (npm run bench does)`);
  process.exit(2);
}

const hasPython = spawnSync('python3', ['-c', 'import ctypes'], { stdio: 'ignore' }).status === 0;
let current; // the benchmark process running now, so an interrupted run still ends it
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    interrupted = true;
    if (current) killGroup(current, 'SIGTERM');
    setTimeout(() => {
      if (current) killGroup(current, 'SIGKILL');
      process.exit(130);
    }, 3000).unref();
  });
}

function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return; // reaped: the group id is not ours to use any more
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Runs one benchmark; resolves with its result, or with `{ error }`. */
function runOne(bench, resultFile) {
  const limitS = limitOf(bench);
  const command = [process.execPath, join(out, bench.file), ...(bench.args ?? [])];
  const [file, ...args] = hasPython ? ['python3', join(root, 'bench/subreaper.py'), ...command] : command;
  return new Promise((resolve) => {
    let stdout = '';
    const child = spawn(file, args, {
      cwd: root,
      detached: true, // its own group: a time-out ends the benchmark and everything in its group
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PROCSCOPE_BENCH_OUT: resultFile },
    });
    current = child;
    const echo = (stream) => (data) => {
      const text = String(data);
      if (stream === process.stdout) stdout += text;
      stream.write(text.replace(/^(?=.)/gm, `  [${bench.name}] `));
    };
    child.stdout.on('data', echo(process.stdout));
    child.stderr.on('data', echo(process.stderr));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 5000).unref();
    }, limitS * 1000);
    child.on('error', (error) => resolve({ error: `could not start: ${error.message}` }));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      if (bench.parse) return resolve(bench.parse(stdout, code, timedOut));
      if (existsSync(resultFile)) {
        try {
          const result = JSON.parse(readFileSync(resultFile, 'utf8'));
          return resolve(code === 0 ? result : { ...result, error: `exited with ${signal ?? code}` });
        } catch (error) {
          return resolve({ error: `unreadable result: ${error.message}` });
        }
      }
      resolve({ error: timedOut ? `no result within ${limitS} s` : `exited with ${signal ?? code} and no result` });
    });
  });
}

/** A benchmark's time limit grows with the load at its start (up to 3×): a slow machine gets its rows, only later. */
function limitOf(bench) {
  return Math.round(bench.limitS * Math.min(3, Math.max(1, loadavg()[0] / cpus().length)));
}

/** bench/pythonInstrumentation.js prints `{"method","level","withoutMs","withMs","ratio","eventsPerRun","pass"}` lines. */
function parsePythonLines(stdout, code, timedOut) {
  const all = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const lines = all.filter((r) => r.kind === undefined);
  const rows = lines.map((r) => ({
    benchmark: 'python',
    what: `script starting ${r.count ?? 50} multiprocessing.Processes (${r.method}, log level ${r.level}, ${r.eventsPerRun} reports a run)`,
    procscope: `${r.withMs} ms`,
    baseline: `${r.withoutMs} ms`,
    baselineName: 'same script without the helper',
    ratio: r.ratio,
    bar: '≤ 1.2×',
    met: r.ratio <= 1.2,
  }));
  // Never a row dropped silently: a start method and level that did not run is a row that says so.
  const expected = [
    ...['fork', 'spawn', 'forkserver'].flatMap((method) => ['INFO', 'DEBUG'].map((level) => ({ method, level, count: 50 }))),
    { method: 'fork', level: 'INFO', count: 200 },
  ];
  for (const { method, level, count } of expected) {
    if (lines.some((r) => r.method === method && r.level === level && (r.count ?? 50) === count)) continue;
    rows.push({
      benchmark: 'python',
      what: `script starting ${count} multiprocessing.Processes (${method}, log level ${level})`,
      procscope: timedOut ? 'not run: the time limit came first' : `not run: exited with ${code}`,
      bar: '≤ 1.2×',
      met: false,
    });
  }
  const loop = all.find((r) => r.kind === 'debugLoop');
  const calls = loop ? `${loop.calls.toLocaleString('en')} util.debug calls` : 'util.debug calls';
  if (loop) {
    rows.push(
      {
        benchmark: 'python',
        what: `${calls} in a program that never enables logging, every record reported at ProcScope's DEBUG level (${loop.lost} lost over ${loop.rounds + 1} runs)`,
        procscope: `${loop.reportedMs} ms`,
        baseline: `${loop.loggerMs} ms`,
        baselineName: 'the same records emitted by multiprocessing itself, log_to_stderr(DEBUG)',
        ratio: +(loop.reportedMs / loop.loggerMs).toFixed(3),
        bar: '≤ 1× and none lost (no dearer than the logging the setting stands for)',
        met: loop.reportedMs <= loop.loggerMs && loop.lost === 0,
      },
      {
        benchmark: 'python',
        what: `${calls} at ProcScope's INFO level (nothing to report: util.debug is left as it is)`,
        procscope: `${loop.infoMs} ms`,
        baseline: `${loop.quietMs} ms`,
        baselineName: 'the same program without the helper',
        ratio: +(loop.infoMs / loop.quietMs).toFixed(3),
        bar: '≤ 1.2×',
        met: loop.infoMs <= loop.quietMs * 1.2,
      },
      {
        benchmark: 'python',
        what: `context: ${calls} reported at DEBUG, against the same program without the helper`,
        procscope: `${loop.reportedMs} ms`,
        baseline: `${loop.quietMs} ms`,
        baselineName: 'the same program without the helper',
        ratio: +(loop.reportedMs / loop.quietMs).toFixed(1),
        bar: 'context',
      },
    );
  } else {
    rows.push({ benchmark: 'python', what: `${calls} at DEBUG`, procscope: timedOut ? 'not run: the time limit came first' : `not run: exited with ${code}`, bar: '≤ 1×', met: false });
  }
  const result = { name: 'python', rows, details: { runs: lines, debugLoop: loop }, notes: [] };
  if (lines.length === 0) return { ...result, error: timedOut ? 'no result in time' : `exited with ${code} and no result` };
  if (timedOut) result.notes.push('timed out before every start method was measured');
  return result;
}

const cell = (text) => String(text ?? '').replace(/\|/g, '\\|');

function markdown(results, meta) {
  const lines = [
    `ProcScope benchmarks (\`npm run bench\`), ${meta.date}: Node ${meta.node}, ${meta.cpus} × ${meta.cpuModel}, load average ${meta.loadBefore} at start.`,
    '',
    '| benchmark | what | ProcScope (median) | baseline | baseline (median) | ratio | bar | met |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const result of results) {
    if (result.error && !(result.rows?.length)) {
      lines.push(`| ${cell(result.name)} | did not run: ${cell(result.error)} | | | | | | ✗ |`);
      continue;
    }
    for (const r of result.rows) {
      const ratio = r.ratio === undefined ? '—' : `${r.ratio}×`;
      const met = r.met === undefined ? '—' : r.met ? '✓ met' : '✗ not met';
      const cells = [r.benchmark, r.what, r.procscope, r.baselineName ?? '—', r.baseline ?? '—', ratio, r.bar, met];
      lines.push(`| ${cells.map(cell).join(' | ')} |`);
    }
  }
  const notes = results.flatMap((r) => [...(r.notes ?? []).map((n) => `${r.name}: ${n}`), ...(r.error && r.rows?.length ? [`${r.name}: ${r.error}`] : [])]);
  if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

const started = performance.now();
const meta = {
  date: new Date().toISOString(),
  node: process.versions.node,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model?.trim() ?? 'unknown CPU',
  memoryGb: Math.round(totalmem() / 1e9),
  loadBefore: loadavg()[0].toFixed(1),
  commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim(),
  subreaper: hasPython,
};
if (!hasPython) console.log('[bench] no python3: benchmarks run without the subreaper (orphaned zombies may remain)');
const tmp = mkdtempSync(join(tmpdir(), 'procscope-bench-'));
const results = [];
try {
  for (const bench of BENCHMARKS) {
    if (interrupted) break;
    if (picked.length && !picked.includes(bench.name)) continue;
    const load = loadavg()[0];
    console.log(`[bench] ${bench.name} (load average ${load.toFixed(1)})`);
    const t = performance.now();
    const result = await runOne(bench, join(tmp, `${bench.name}.json`));
    results.push({ name: bench.name, rows: [], details: {}, notes: [], ...result, seconds: Math.round((performance.now() - t) / 100) / 10, loadBefore: load });
    if (result.error) console.log(`[bench] ${bench.name}: ${result.error}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (interrupted) {
  console.log('[bench] interrupted: nothing written');
  process.exit(130);
}
meta.seconds = Math.round((performance.now() - started) / 1000);
meta.loadAfter = loadavg()[0].toFixed(1);

const table = markdown(results, meta);
mkdirSync(artifacts, { recursive: true });
writeFileSync(join(artifacts, 'bench.md'), table);
writeFileSync(join(artifacts, 'bench.json'), `${JSON.stringify({ meta, results }, null, 2)}\n`);
console.log(`\n${table}`);
const rows = results.flatMap((r) => r.rows ?? []).filter((r) => r.met !== undefined);
const failed = results.filter((r) => r.error);
console.log(`[bench] ${rows.filter((r) => r.met).length} of ${rows.length} bars met; ${failed.length} benchmark(s) failed to run; ${meta.seconds} s.`);
console.log('[bench] written: test-artifacts/bench.md, test-artifacts/bench.json');
process.exit(failed.length > 0 || (strict && rows.some((r) => !r.met)) ? 1 : 0);
