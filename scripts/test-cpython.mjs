// `npm run test:cpython`: CPython's own multiprocessing tests for the forkserver start method (the process and manager
// tests, by default), run once plain and once with the ProcScope helper on PYTHONPATH reporting to a real listener (an
// InstrumentServer with a registered launch, at DEBUG so records flow), compared test by test. SPEC: the helper never
// changes what a program does, so no test may pass plain and do anything else instrumented.
//
// A test that fails instrumented after passing plain is re-run alone, both ways, up to twice more (some of these tests
// are timing-sensitive); it is a regression only if it fails instrumented every time while passing plain. Exits 1 on
// any regression, if the instrumented run's exit status differs, or if the helper reported nothing (then the comparison
// proves nothing); 0 with a line saying why if the interpreter has no stdlib `test` package.
//
// Usage: node scripts/test-cpython.mjs [--class-prefix P]... [--test Class.method]... [--timeout S]
//   (passed on to test/cpython/forkserver_tests.py; --timeout is the per-test watchdog, default 90 s; default classes:
//   WithProcessesTest*, WithManagerTest*, TestSyncManagerTypes). PROCSCOPE_TEST_PYTHON picks the interpreter (default
//   python3), PROCSCOPE_TEST_HELPER_DIR the helper (default src/python).
// Outputs in test-artifacts/cpython/: each run's JSON outcomes and log, and summary.json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
// The helper under test: the sources, or another copy (dist/python, say) named by PROCSCOPE_TEST_HELPER_DIR.
const HELPER_DIR = process.env.PROCSCOPE_TEST_HELPER_DIR || join(root, 'src/python');
const DRIVER = join(root, 'test/cpython/forkserver_tests.py');
const PYTHON = process.env.PROCSCOPE_TEST_PYTHON || 'python3';
const LEVEL = 10; // DEBUG
const RERUNS = 2;
const DEFAULT_SELECTION = ['--class-prefix', 'WithProcessesTest', '--class-prefix', 'WithManagerTest',
  '--class-prefix', 'TestSyncManagerTypes'];
// The whole check must end within 10 minutes (it takes ~3 here). No re-run round starts after RERUN_BUDGET_MS, and any
// driver still running at DEADLINE_MS is killed; re-run candidates left unconfirmed either way count as regressions.
const RERUN_BUDGET_MS = 7.5 * 60_000;
const DEADLINE_MS = 9.75 * 60_000;
const artifacts = join(root, 'test-artifacts', 'cpython');
const began = performance.now();

// The driver's options: which tests (--class-prefix, --test), and the rest (--timeout), which re-runs keep too.
const picked = [];
const options = [];
{
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = args[i + 1];
    if (!['--class-prefix', '--test', '--timeout'].includes(flag) || value === undefined) {
      console.log(`test:cpython: unknown option or missing value: ${flag}`);
      console.log('usage: node scripts/test-cpython.mjs [--class-prefix P]... [--test Class.method]... [--timeout S]');
      process.exit(2);
    }
    (flag === '--timeout' ? options : picked).push(flag, value);
    i++;
  }
}
const selection = [...(picked.length ? picked : DEFAULT_SELECTION), ...options];

// ── can it run here? ────────────────────────────────────────────────────────────────────────────────────────────────

function skip(reason) {
  console.log(`test:cpython: SKIPPED: ${reason}`);
  process.exit(0);
}

if (process.platform === 'win32') skip('the forkserver start method and the helper\'s unix socket do not exist on Windows');
{
  const probe = spawnSync(PYTHON, ['-c', [
    'import sys',
    'print("%d.%d.%d" % sys.version_info[:3])',
    'import multiprocessing as m',
    'assert "forkserver" in m.get_all_start_methods(), "no forkserver start method"',
    'import test._test_multiprocessing',
  ].join('\n')], { encoding: 'utf8' });
  if (probe.error) skip(`${PYTHON} cannot be run (${probe.error.message})`);
  const version = probe.stdout.trim().split('\n')[0] || '?';
  if (probe.status !== 0) {
    const why = probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`;
    skip(`${PYTHON} (${version}) cannot run CPython's multiprocessing tests: ${why}` +
      (/test\b/.test(why) ? ' (the stdlib `test` package is not installed)' : ''));
  }
  console.log(`test:cpython: ${PYTHON} ${version}, forkserver start method, helper ${HELPER_DIR}`);
}

// ── the listener: InstrumentServer from the sources, bundled on the fly (out/ belongs to build.mjs --tests) ─────────

const bundleDir = mkdtempSync(join(tmpdir(), 'procscope-cpython-bundle-'));
const bundle = join(bundleDir, 'instrument.mjs');
await esbuild.build({
  entryPoints: [join(root, 'src/core/instrument/index.ts')],
  bundle: true, platform: 'node', format: 'esm', target: 'node18', outfile: bundle, logLevel: 'warning',
});
const { InstrumentServer, pythonEnv } = await import(pathToFileURL(bundle).href);
rmSync(bundleDir, { recursive: true, force: true });

const server = new InstrumentServer({ level: LEVEL });
const events = { starts: 0, exits: 0, logs: 0, sync: 0, warnings: 0 };
const warnings = [];
server.onDidStart(() => events.starts++);
server.onDidExit(() => events.exits++);
server.onDidLog(() => events.logs++);
server.onDidSync(() => events.sync++);
server.onWarning((w) => {
  events.warnings++;
  if (warnings.length < 5) warnings.push(w);
});

/** The environment both runs share: ours, minus any PROCSCOPE_ variable an outer launch left. */
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^PROCSCOPE_/i.test(key)));

// ── running the driver ─────────────────────────────────────────────────────────────────────────────────────────────

let current; // the running driver, so that Ctrl+C reaches its process group (forkserver, managers, pool workers)
const workDirs = new Set(); // the runs' temporary cwds
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (current) killGroup(current.pid);
    server.dispose();
    for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
}

function killGroup(pid) {
  try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class DeadlineError extends Error {}

/** One driver process, its output appended to `log`; resolves with how it ended. Killed (group-wide) at the deadline. */
function drive(args, env, cwd, log) {
  return new Promise((resolve) => {
    const fd = openSync(log, 'a');
    const child = spawn(PYTHON, [DRIVER, ...args], { cwd, env, detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    current = child;
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      killGroup(child.pid);
    }, Math.max(0, DEADLINE_MS - (performance.now() - began)));
    let settled = false;
    const finish = async (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      current = undefined;
      // What the run leaves behind (a manager whose test died with it, say) must not outlive it.
      await sleep(200);
      if (child.pid !== undefined) killGroup(child.pid);
      resolve({ code, signal, killed });
    };
    child.on('error', (error) => {
      writeFileSync(log, `\n${error.message}\n`, { flag: 'a' });
      finish(null, null);
    });
    child.on('close', finish);
  });
}

/** The output of the last run that died in a test (faulthandler's tracebacks, for a timeout), by `run name:test`. */
const deathLogs = new Map();

/**
 * The lines of a run's log that are not the runner's own (`test … ... ok`, `Ran N tests`, our headers), with numbers,
 * addresses, temporary names and paths blurred, so two runs' logs can be compared.
 */
function outputLines(log) {
  const runner = /^(━━ |-{20,}$|Ran \d+ tests? in |OK( \(|$)|FAILED \(|test\w* \(__main__\.[\w.]+\)( \.\.\. (ok|skipped .*|expected failure))?$)/;
  return readFileSync(log, 'utf8').split('\n')
    .map((line) => line.replace(/^test\w* \(__main__\.[\w.]+\) \.\.\. /, '').trimEnd()) // output printed mid-line
    .filter((line) => line && !runner.test(line))
    .map((line) => line.replace(/0x[0-9a-f]+/gi, '0x…').replace(/\/(mp|psm|pymp)[-_]\w+/g, '/$1-…')
      .replace(/\/tmp\/[\w.-]+/g, '/tmp/…').replace(/\d+(\.\d+)?/g, 'N'));
}

/** Lines of `b` that `a` lacks (as a multiset). */
function extraLines(a, b) {
  const counts = new Map();
  for (const line of a) counts.set(line, (counts.get(line) ?? 0) + 1);
  return b.filter((line) => {
    const n = counts.get(line) ?? 0;
    if (n > 0) counts.set(line, n - 1);
    return n === 0;
  });
}

const readJson = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined);

/**
 * Runs the selected tests one way (`plain` or `instrumented`) until every planned test has an outcome: a run that dies
 * (the per-test watchdog, a crash) is resumed after the test it died in. Returns the driver's JSON, the seconds taken,
 * and how the last driver process exited (after its last test: at-exit handlers, the forkserver's shutdown…).
 */
async function runPass(mode, name, args) {
  const started = performance.now();
  const out = join(artifacts, `${name}.json`);
  const log = join(artifacts, `${name}.log`);
  rmSync(out, { force: true });
  writeFileSync(log, '');
  const cwd = mkdtempSync(join(tmpdir(), `procscope-cpython-${name}-`));
  workDirs.add(cwd);
  let resume = [];
  let runs = 0;
  let exit;
  try {
    for (;;) {
      runs++;
      const launchId = `${name}-${runs}`;
      const env = mode === 'instrumented' ? pythonEnv(HELPER_DIR, server.register(launchId), LEVEL, baseEnv) : baseEnv;
      const logStart = readFileSync(log).length;
      writeFileSync(log, `\n━━ ${PYTHON} ${[DRIVER, out, ...args, ...resume].join(' ')}  (${mode}, cwd ${cwd})\n`, { flag: 'a' });
      const { code, signal, killed } = await drive([out, ...args, ...resume], env, cwd, log);
      exit = signal ?? code;
      if (mode === 'instrumented') {
        await server.whenIdle(launchId, 3000);
        server.unregister(launchId);
      }
      const state = readJson(out);
      if (killed) throw new DeadlineError(`${name}: killed at the ${DEADLINE_MS / 60_000} min deadline; see ${log}`);
      if (!state) throw new Error(`${name}: the driver wrote no ${out} (exit ${code ?? signal}); see ${log}`);
      if (state.skipped) skip(state.skipped);
      if (state.done) break;
      if (!state.running || runs > 20) {
        throw new Error(`${name}: the driver ended (exit ${code ?? signal}) outside any test; see ${log}`);
      }
      const tail = readFileSync(log, 'utf8').slice(logStart);
      const timedOut = /Timeout \(\d+:\d\d:\d\d\)!$/m.test(tail); // faulthandler's, after the runner's `test … ... `
      deathLogs.set(`${name}:${state.running}`, tail.trim().split('\n').slice(-40).join('\n'));
      console.log(`  ${name}: ${state.running} ${timedOut ? 'hit the per-test watchdog' : `ended the run (exit ${code ?? signal})`}; resuming after it`);
      resume = ['--resume', '--dead-outcome', timedOut ? 'timeout' : 'crash'];
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true, maxRetries: 3 });
    workDirs.delete(cwd);
  }
  return { state: readJson(out), seconds: (performance.now() - started) / 1000, exit };
}

// ── the two runs, then the re-runs of what differs ──────────────────────────────────────────────────────────────────

rmSync(artifacts, { recursive: true, force: true });
mkdirSync(artifacts, { recursive: true });

const OK = 'pass';
let exitCode = 0;
try {
  console.log('test:cpython: plain run…');
  const plain = await runPass('plain', 'plain', selection);
  console.log(`  ${plain.seconds.toFixed(1)} s`);
  console.log('test:cpython: instrumented run…');
  const eventsBefore = { ...events };
  const instrumented = await runPass('instrumented', 'instrumented', selection);
  console.log(`  ${instrumented.seconds.toFixed(1)} s`);
  const mainEvents = Object.fromEntries(Object.keys(events).map((k) => [k, events[k] - eventsBefore[k]]));

  const planned = plain.state.planned;
  const outcome = (state, id) => state.results[id]?.outcome ?? 'not run';
  const candidates = planned.filter((id) => outcome(plain.state, id) === OK && outcome(instrumented.state, id) !== OK);
  const history = new Map(candidates.map((id) => [id, { plain: [OK], instrumented: [outcome(instrumented.state, id)] }]));
  const details = new Map(candidates.map((id) => [id, deathLogs.get(`instrumented:${id}`) ?? instrumented.state.results[id]?.detail ?? '']));

  // Re-runs: each remaining candidate alone (one driver run for all of them), plain then instrumented, each in its
  // own cwd. A candidate that passes instrumented once, or fails plain, is cleared.
  let pending = [...candidates];
  const unconfirmed = new Set();
  for (let round = 1; round <= RERUNS && pending.length; round++) {
    if (performance.now() - began > RERUN_BUDGET_MS) {
      for (const id of pending) unconfirmed.add(id);
      break;
    }
    console.log(`test:cpython: re-run ${round} of ${pending.length} test(s) that passed plain but not instrumented…`);
    const args = [...pending.flatMap((id) => ['--test', id]), ...options];
    let again;
    try {
      again = {
        plain: (await runPass('plain', `rerun${round}-plain`, args)).state,
        instrumented: (await runPass('instrumented', `rerun${round}-instrumented`, args)).state,
      };
    } catch (error) {
      if (!(error instanceof DeadlineError)) throw error;
      console.log(`  ${error.message}`);
      for (const id of pending) unconfirmed.add(id);
      break;
    }
    for (const id of pending) {
      for (const mode of ['plain', 'instrumented']) history.get(id)[mode].push(outcome(again[mode], id));
      if (again.instrumented.results[id]?.detail) details.set(id, again.instrumented.results[id].detail);
      const death = deathLogs.get(`rerun${round}-instrumented:${id}`);
      if (['timeout', 'crash'].includes(outcome(again.instrumented, id)) && death) details.set(id, death);
    }
    pending = pending.filter((id) => history.get(id).plain.every((o) => o === OK) && history.get(id).instrumented.every((o) => o !== OK));
  }
  const regressions = pending;
  const flaky = candidates.filter((id) => !regressions.includes(id));

  // ── the summary ──────────────────────────────────────────────────────────────────────────────────────────────────
  const count = (state, pick) => planned.filter((id) => pick(outcome(state, id))).length;
  const rows = [
    ['tests run', (s) => count(s, (o) => o !== 'not run')],
    ['passed', (s) => count(s, (o) => o === 'pass')],
    ['skipped', (s) => count(s, (o) => o === 'skip')],
    ['expected failures', (s) => count(s, (o) => o === 'xfail' || o === 'xpass')],
    ['failed / error', (s) => count(s, (o) => o === 'fail' || o === 'error')],
    ['timeout / crash', (s) => count(s, (o) => o === 'timeout' || o === 'crash')],
    ['not run', (s) => count(s, (o) => o === 'not run')],
    ['fixture errors', (s) => s.fixtures.length],
  ];
  const pad = (text, width, right = false) => (right ? String(text).padStart(width) : String(text).padEnd(width));
  console.log(`\n━━ CPython multiprocessing tests, forkserver (${planned.length} selected: ${selection.join(' ')})`);
  console.log(`${pad('', 20)} ${pad('plain', 8, true)} ${pad('instrumented', 13, true)}`);
  for (const [label, value] of rows) {
    const a = value(plain.state);
    const b = value(instrumented.state);
    if (label === 'tests run' || label === 'passed' || a || b) console.log(`${pad(label, 20)} ${pad(a, 8, true)} ${pad(b, 13, true)}`);
  }
  console.log(`${pad('exit status', 20)} ${pad(plain.exit, 8, true)} ${pad(instrumented.exit, 13, true)}`);
  console.log(`${pad('time', 20)} ${pad(`${plain.seconds.toFixed(1)} s`, 8, true)} ${pad(`${instrumented.seconds.toFixed(1)} s`, 13, true)}`);
  console.log(`helper reports in the instrumented run: ${mainEvents.starts} starts, ${mainEvents.exits} exits, ` +
    `${mainEvents.logs} log records, ${mainEvents.sync} sync reports, ${mainEvents.warnings} server warnings`);
  for (const w of warnings) console.log(`  server warning: ${w}`);

  // Not counted (this check compares outcomes; the runs' timing-dependent noise differs), but worth a look: what only
  // the instrumented run printed, outside the runner's own lines.
  const extra = extraLines(outputLines(join(artifacts, 'plain.log')), outputLines(join(artifacts, 'instrumented.log')));
  if (extra.length) {
    console.log(`output only the instrumented run printed (${extra.length} line(s), not counted; numbers blurred; see the logs):`);
    for (const line of extra.slice(0, 20)) console.log(`  | ${line}`);
    if (extra.length > 20) console.log(`  | … ${extra.length - 20} more`);
  }

  const failingBoth = planned.filter((id) => outcome(plain.state, id) !== OK && outcome(plain.state, id) !== 'skip'
    && outcome(instrumented.state, id) !== OK);
  if (failingBoth.length) console.log(`not passing plain either (not compared): ${failingBoth.join(', ')}`);
  const better = planned.filter((id) => outcome(plain.state, id) !== OK && outcome(instrumented.state, id) === OK);
  if (better.length) console.log(`passed instrumented only (plain flake?): ${better.join(', ')}`);
  for (const id of flaky) {
    const h = history.get(id);
    console.log(`flaky, not counted: ${id}: plain ${h.plain.join('/')}, instrumented ${h.instrumented.join('/')}`);
  }
  if (regressions.length === 0) {
    console.log(candidates.length
      ? `regressions: none (${candidates.length} test(s) failed instrumented once but passed on a re-run, or failed plain too)`
      : 'regressions: none');
  } else {
    console.log(`REGRESSIONS: ${regressions.length} test(s) passed plain and failed instrumented every time` +
      ` (${1 + RERUNS} runs each, unless noted):`);
    for (const id of regressions) {
      const h = history.get(id);
      const note = unconfirmed.has(id) ? ' (not re-run: time budget spent)' : '';
      console.log(`  ${id}: plain ${h.plain.join('/')}, instrumented ${h.instrumented.join('/')}${note}`);
      const detail = details.get(id).trim().split('\n').slice(-16).map((l) => `      ${l}`).join('\n');
      if (detail.trim()) console.log(detail);
    }
    exitCode = 1;
  }
  // A difference the tests' own outcomes explain (a flaky test failing in one run) is told above; another one is not.
  const outcomesDiffer = planned.some((id) => outcome(plain.state, id) !== outcome(instrumented.state, id));
  if (instrumented.exit !== plain.exit && !outcomesDiffer) {
    console.log(`FAILED: the instrumented run exited ${instrumented.exit}, the plain one ${plain.exit} (see the logs)`);
    exitCode = 1;
  }
  if (count(plain.state, (o) => o === OK) === 0) {
    console.log('FAILED: no test passed in the plain run: nothing was compared');
    exitCode = 1;
  }
  if (mainEvents.starts + mainEvents.exits + mainEvents.logs + mainEvents.sync === 0) {
    console.log('FAILED: the helper reported nothing in the instrumented run, so it did not load: nothing was compared');
    exitCode = 1;
  }
  const seconds = (performance.now() - began) / 1000;
  console.log(`total time ${seconds.toFixed(1)} s; outcomes and logs in ${artifacts}`);
  writeFileSync(join(artifacts, 'summary.json'), `${JSON.stringify({
    python: plain.state.python, selection, planned: planned.length, seconds,
    plain: { seconds: plain.seconds, exit: plain.exit, ...Object.fromEntries(rows.map(([label, value]) => [label, value(plain.state)])) },
    instrumented: { seconds: instrumented.seconds, exit: instrumented.exit, ...Object.fromEntries(rows.map(([label, value]) => [label, value(instrumented.state)])) },
    events: mainEvents, instrumentedOnlyOutput: extra, regressions, flaky: flaky.map((id) => ({ id, ...history.get(id) })),
    unconfirmed: [...unconfirmed],
  }, null, 2)}\n`);
  console.log(`${planned.length - regressions.length} passed, ${regressions.length} failed`);
} catch (error) {
  console.log(`test:cpython: FAILED to run: ${error instanceof Error ? error.message : error}`);
  exitCode = 1;
} finally {
  server.dispose();
}
process.exit(exitCode);
