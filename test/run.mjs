// `npm test`: every check the project counts, in order, each stage's output streamed, then one
// summary table and the closing line `N passed, N failed` (totals). A stage that crashes or
// reports nothing counts as failed, never as zero tests.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const artifacts = join(root, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });

let current; // the running stage's child, so that Ctrl+C reaches its whole process group
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (current) {
      try { process.kill(-current.pid, signal); } catch { /* already gone */ }
    }
    process.exit(130);
  });
}

/**
 * Runs a command in its own process group, streaming its output; resolves with { code, output }.
 * A stage that outlives `timeoutMs` is killed (group-wide) and reported as such.
 */
function runStreamed(cmd, args, { timeoutMs }) {
  return new Promise((resolve) => {
    let output = '';
    let timedOut = false;
    const child = spawn(cmd, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    const onData = (stream) => (data) => {
      stream.write(data);
      output += data;
    };
    child.stdout.on('data', onData(process.stdout));
    child.stderr.on('data', onData(process.stderr));
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, timeoutMs);
    let settled = false;
    const finish = (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      current = undefined;
      resolve({ code: code ?? -1, signal, timedOut, output });
    };
    child.on('error', (error) => {
      output += `\n${error.message}\n`;
      finish(-1, null);
    });
    child.on('close', finish);
    // A process the stage leaked may keep its pipes open forever: give 'close' 2 s after exit, no more.
    child.on('exit', (code, signal) => {
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code, signal);
      }, 2000).unref();
    });
  });
}

/** Strips ANSI colour codes before parsing a tool's output. */
const plain = (text) => text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''); // eslint-disable-line no-control-regex

/** The last `N passed, N failed` line a runner printed, or undefined. */
function closingCounts(output) {
  const lines = plain(output).split('\n').map((l) => l.trim()).filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^(\d+) passed, (\d+) failed$/.exec(lines[i]);
    if (m) return { passed: Number(m[1]), failed: Number(m[2]) };
  }
  return undefined;
}

/** Counts from the TAP file that `node --test` wrote: `# pass N`, `# fail N`, `# cancelled N`. */
function tapCounts(file) {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const count = (key) => {
    const m = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const pass = count('pass');
  const fail = count('fail');
  if (pass === undefined || fail === undefined) return undefined;
  return { passed: pass, failed: fail + (count('cancelled') ?? 0), tests: count('tests') ?? 0 };
}

function testFilesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => join(dir, f));
}

/** A check that counts as one test: passed when the command exits 0. */
const single = (cmd, args, timeoutMs = 10 * 60_000) => async () => {
  const r = await runStreamed(cmd, args, { timeoutMs });
  const ok = r.code === 0 && !r.timedOut;
  return { passed: ok ? 1 : 0, failed: ok ? 0 : 1, note: ok ? '' : r.timedOut ? 'timed out' : `exit ${r.code}${r.signal ? ` ${r.signal}` : ''}` };
};

/** A step that must succeed for later stages; it counts only when it fails. */
const prerequisite = (cmd, args, timeoutMs = 10 * 60_000) => async () => {
  const r = await runStreamed(cmd, args, { timeoutMs });
  const ok = r.code === 0 && !r.timedOut;
  return { passed: 0, failed: ok ? 0 : 1, note: ok ? '' : r.timedOut ? 'timed out' : `exit ${r.code}`, broken: !ok };
};

/** A runner that ends with `N passed, N failed`; no such line, or a non-zero exit with no failure, counts as a failure. */
const counted = (cmd, args, timeoutMs) => async () => {
  const r = await runStreamed(cmd, args, { timeoutMs });
  const counts = closingCounts(r.output);
  if (!counts) return { passed: 0, failed: 1, note: r.timedOut ? 'timed out, no result' : `crashed (exit ${r.code}), no result line` };
  if (r.code !== 0 && counts.failed === 0) return { ...counts, failed: 1, note: `exit ${r.code} with no failed test` };
  return { ...counts, note: r.timedOut ? 'timed out' : '' };
};

/** A `node --test` stage over out/test/NAME/ (the unit tests; the stress suite, one file at a time). */
const nodeTestStage = (name, extraArgs = []) => async () => {
  const files = testFilesUnder(join(root, 'out/test', name));
  if (!files.length) {
    console.log(`no ${name} tests: out/test/${name}/ has no *.test.js (are there test/${name}/**/*.test.ts?)`);
    return { passed: 0, failed: 1, note: `no ${name} tests found` };
  }
  const tap = join(artifacts, `${name}.tap`);
  rmSync(tap, { force: true });
  const r = await runStreamed(process.execPath, [
    '--test', ...extraArgs,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    ...files.map((f) => relative(root, f)),
  ], { timeoutMs: 10 * 60_000 });
  const counts = tapCounts(tap);
  if (!counts) return { passed: 0, failed: 1, note: r.timedOut ? 'timed out, no result' : `crashed (exit ${r.code}), no TAP summary` };
  if (counts.tests === 0) return { passed: 0, failed: 1, note: 'ran no tests' };
  if (r.code !== 0 && counts.failed === 0) return { ...counts, failed: 1, note: `exit ${r.code} with no failed test` };
  return { passed: counts.passed, failed: counts.failed, note: '' };
};

const stages = [
  { name: 'lint', title: 'eslint .', run: single(bin('eslint'), ['.']) },
  { name: 'typecheck', title: 'tsc --noEmit -p .', run: single(bin('tsc'), ['--noEmit', '-p', '.']) },
  { name: 'build', title: 'node scripts/build.mjs --tests', run: prerequisite(process.execPath, ['scripts/build.mjs', '--tests']) },
  { name: 'code-server', title: 'node scripts/setup-code-server.mjs', run: prerequisite(process.execPath, ['scripts/setup-code-server.mjs']) },
  { name: 'unit', title: 'node --test out/test/unit/**/*.test.js', needs: ['build'], run: nodeTestStage('unit') },
  { name: 'stress', title: 'node --test --test-concurrency=1 out/test/stress/**/*.test.js (npm run test:stress)', needs: ['build'],
    run: nodeTestStage('stress', ['--test-concurrency=1']) },
  { name: 'integration', title: 'node test/integration/run.mjs', needs: ['build', 'code-server'],
    run: counted(process.execPath, ['test/integration/run.mjs'], 20 * 60_000) },
  { name: 'ui', title: 'node test/integration/ui.mjs', needs: ['build', 'code-server'],
    run: counted(process.execPath, ['test/integration/ui.mjs'], 20 * 60_000) },
  { name: 'cpython', title: 'node scripts/test-cpython.mjs (CPython\'s forkserver tests, plain and instrumented)', needs: ['build'],
    run: counted(process.execPath, ['scripts/test-cpython.mjs'], 15 * 60_000) },
  { name: 'package', title: 'node scripts/check-package.mjs', needs: ['build'],
    run: counted(process.execPath, ['scripts/check-package.mjs'], 5 * 60_000) },
];

const only = process.argv.slice(2);
const results = [];
const broken = new Set();
for (const stage of stages) {
  if (only.length && !only.includes(stage.name)) continue;
  console.log(`\n━━ ${stage.name}: ${stage.title}`);
  const started = performance.now();
  const missing = (stage.needs ?? []).filter((n) => broken.has(n));
  let result;
  if (missing.length) {
    result = { passed: 0, failed: 1, note: `not run: ${missing.join(', ')} failed` };
    console.log(result.note);
  } else {
    try {
      result = await stage.run();
    } catch (error) {
      result = { passed: 0, failed: 1, note: `crashed: ${error instanceof Error ? error.message : error}` };
    }
  }
  if (result.broken) broken.add(stage.name);
  results.push({ name: stage.name, ...result, seconds: (performance.now() - started) / 1000 });
}

const pad = (text, width, right = false) => (right ? String(text).padStart(width) : String(text).padEnd(width));
const total = results.reduce((t, r) => ({ passed: t.passed + r.passed, failed: t.failed + r.failed, seconds: t.seconds + r.seconds }), { passed: 0, failed: 0, seconds: 0 });
console.log('\n━━ summary');
console.log(`${pad('stage', 12)} ${pad('result', 7)} ${pad('passed', 6, true)} ${pad('failed', 6, true)} ${pad('time', 8, true)}  note`);
for (const r of results) {
  console.log(`${pad(r.name, 12)} ${pad(r.failed ? 'FAIL' : 'ok', 7)} ${pad(r.passed, 6, true)} ${pad(r.failed, 6, true)} ${pad(`${r.seconds.toFixed(1)} s`, 8, true)}  ${r.note ?? ''}`);
}
console.log(`${pad('total', 12)} ${pad(total.failed ? 'FAIL' : 'ok', 7)} ${pad(total.passed, 6, true)} ${pad(total.failed, 6, true)} ${pad(`${total.seconds.toFixed(1)} s`, 8, true)}`);
console.log(`${total.passed} passed, ${total.failed} failed`);
process.exitCode = total.failed > 0 || results.length === 0 ? 1 : 0;
