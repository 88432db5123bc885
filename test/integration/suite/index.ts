// Mocha entry point loaded by VS Code's extension host (code-server or @vscode/test-electron):
// runs every *.test.js beside it and writes the results where the launcher can read them.
//
// Tests of a window reload run in two phases. Phase 1 runs every *.test.js, then *.before-reload.js, then reloads
// the window; the workbench runs this entry again in the window's next extension host, which (seeing the phase
// file) runs *.after-reload.js and adds its results to phase 1's.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import * as vscode from 'vscode';

interface TestResult {
  title: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs?: number;
  error?: string;
}

interface ResultsFile {
  /** False while running: a launcher that finds `done: false` knows the host died mid-run. */
  done: boolean;
  passed: number;
  failed: number;
  pending: number;
  tests: TestResult[];
  /** The test running when the file was last written: the culprit if the host dies. */
  running?: string;
}

const { EVENT_TEST_BEGIN, EVENT_TEST_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_RUN_END } = Mocha.Runner.constants;

function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/** Prints each test as it ends, then every failure with its stack; keeps results for the launcher. */
class ResultsReporter extends Mocha.reporters.Base {
  constructor(runner: Mocha.Runner, options: Mocha.MochaOptions) {
    super(runner, options);
    const resultsPath = process.env.PROCSCOPE_TEST_RESULTS;
    const { carryOver, last } = (options.reporterOptions ?? {}) as { carryOver?: ResultsFile; last?: boolean };
    const results: ResultsFile = carryOver ?? { done: false, passed: 0, failed: 0, pending: 0, tests: [] };
    const failures: { title: string; error: string }[] = [];
    const save = (): void => {
      if (resultsPath) fs.writeFileSync(resultsPath, JSON.stringify(results, null, 2));
    };
    save();

    runner.on(EVENT_TEST_BEGIN, (test) => {
      results.running = test.fullTitle();
      save();
    });
    runner.on(EVENT_TEST_END, () => {
      results.running = undefined;
    });
    runner.on(EVENT_TEST_PASS, (test) => {
      results.passed++;
      results.tests.push({ title: test.fullTitle(), state: 'passed', durationMs: test.duration });
      console.log(`  ✓ ${test.fullTitle()} (${test.duration ?? 0} ms)`);
      save();
    });
    // Also fires for failed hooks, whose tests then never run: each counts as one failure.
    runner.on(EVENT_TEST_FAIL, (test, error) => {
      const detail = describeError(error);
      results.failed++;
      results.tests.push({ title: test.fullTitle(), state: 'failed', durationMs: test.duration, error: detail });
      failures.push({ title: test.fullTitle(), error: detail });
      console.log(`  ✗ ${test.fullTitle()}`);
      save();
    });
    runner.on(EVENT_TEST_PENDING, (test) => {
      results.pending++;
      results.tests.push({ title: test.fullTitle(), state: 'pending' });
      console.log(`  - ${test.fullTitle()} (pending)`);
      save();
    });
    runner.once(EVENT_RUN_END, () => {
      failures.forEach((failure, i) => {
        console.log(`\n  ${i + 1}) ${failure.title}\n${failure.error.replace(/^/gm, '     ')}`);
      });
      console.log(`\n  integration: ${results.passed} passed, ${results.failed} failed, ${results.pending} pending`);
      results.done = last !== false;
      save();
    });
  }
}

/** Every file under `dir` whose name ends with `.test.js`, sorted for a stable order. */
function testFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.js'))
    .sort()
    .map((file) => path.join(dir, file));
}

function mochaFor(files: string[], reporterOptions: { carryOver?: ResultsFile; last?: boolean }): Mocha {
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 30_000,
    color: false,
    reporter: ResultsReporter,
    reporterOptions,
    grep: process.env.PROCSCOPE_TEST_GREP || undefined,
  });
  for (const file of files) mocha.addFile(file);
  return mocha;
}

function runMocha(mocha: Mocha): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    try {
      mocha.run(resolve);
    } catch (error) {
      reject(error);
    }
  });
}

/** Files of one phase of a reload test, beside this entry. */
function phaseFiles(dir: string, suffix: string): string[] {
  return fs.readdirSync(dir).filter((file) => file.endsWith(suffix)).sort().map((file) => path.join(dir, file));
}

export async function run(): Promise<void> {
  const resultsPath = process.env.PROCSCOPE_TEST_RESULTS;
  const phaseFile = resultsPath ? `${resultsPath}.phase` : undefined;
  const before = phaseFiles(__dirname, '.before-reload.js');
  const grep = process.env.PROCSCOPE_TEST_GREP;
  if (phaseFile && fs.existsSync(phaseFile)) {
    // Phase 2: this host came up after the reload phase 1 asked for.
    const carryOver = JSON.parse(fs.readFileSync(resultsPath as string, 'utf8')) as ResultsFile;
    fs.rmSync(phaseFile);
    const failures = await runMocha(mochaFor(phaseFiles(__dirname, '.after-reload.js'), { carryOver, last: true }));
    const total = carryOver.failed;
    if (failures > 0 || total > 0) throw new Error(`${total} integration test(s) failed`);
    return;
  }
  const files = testFiles(__dirname);
  const reload = phaseFile !== undefined && before.length > 0 && !(grep && !/reload/i.test(grep));
  console.log(`[suite] ${files.length} test file(s) under ${__dirname}${reload ? ', then a window reload' : ''}`);
  const failures = await runMocha(mochaFor(reload ? [...files, ...before] : files, { last: !reload }));
  if (!reload) {
    if (failures > 0) throw new Error(`${failures} integration test(s) failed`);
    return;
  }
  fs.writeFileSync(phaseFile, 'after-reload');
  console.log('[suite] reloading the window for the tests after it');
  await vscode.commands.executeCommand('workbench.action.reloadWindow');
  await new Promise(() => undefined); // this host is about to go
}
