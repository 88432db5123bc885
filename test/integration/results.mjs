// Reads the results file written by suite/index.ts and prints it the same way for every launcher.
import { existsSync, readFileSync } from 'node:fs';

/**
 * The parsed results, or undefined; anything wrong is pushed onto `problems` (each counts as a failure).
 * @param {string} path
 * @param {string[]} problems
 */
export function readResults(path, problems) {
  if (!existsSync(path)) {
    problems.push('no results file: the suite never started (see the log above)');
    return undefined;
  }
  let results;
  try {
    results = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    problems.push(`unreadable results file ${path}: ${error instanceof Error ? error.message : error}`);
    return undefined;
  }
  if (!results.done) {
    const during = results.running ? `, during "${results.running}"` : '';
    problems.push(`the suite did not finish: the extension host stopped after ${results.tests?.length ?? 0} test(s)${during}`);
  }
  if (!results.tests?.length) problems.push('the suite ran no tests');
  return results;
}

/**
 * Prints one line per test, the failures' errors, the run's problems, and finally `N passed, N failed`.
 * @returns {{ passed: number, failed: number }}
 */
export function printResults(label, results, problems = []) {
  const tests = results?.tests ?? [];
  console.log(`\n${label} results:`);
  for (const test of tests) {
    const mark = test.state === 'passed' ? '✓' : test.state === 'failed' ? '✗' : '-';
    const time = test.durationMs === undefined ? '' : ` (${test.durationMs} ms)`;
    console.log(`  ${mark} ${test.title}${test.state === 'pending' ? ' (pending)' : time}`);
    if (test.state === 'failed' && test.error) {
      console.log(test.error.split('\n').slice(0, 12).map((line) => `      ${line}`).join('\n'));
    }
  }
  for (const problem of problems) console.log(`  ✗ [${label}] ${problem}`);
  const passed = tests.filter((t) => t.state === 'passed').length;
  const failed = tests.filter((t) => t.state === 'failed').length + problems.length;
  console.log(`${passed} passed, ${failed} failed`);
  return { passed, failed };
}
