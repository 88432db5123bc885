// Runs the Mocha integration suite inside a real VS Code extension host: code-server's, driven by
// headless Chromium. Builds nothing: run `node scripts/build.mjs --tests` first (npm test does).
//
//   node test/integration/run.mjs [--extension DIR] [--tests FILE] [--workspace DIR] [--timeout MS] [--grep TEXT]
//
// Defaults: the repository (extensionDevelopmentPath), out/test/integration/suite/index.js,
// test/integration/workspace/, 15 minutes. Env: PROCSCOPE_EXTENSION_PATH, PROCSCOPE_TESTS_PATH,
// PROCSCOPE_TEST_TIMEOUT_MS, PROCSCOPE_TEST_GREP. Ends with the line `N passed, N failed`.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setupCodeServer } from '../../scripts/setup-code-server.mjs';
import { artifactsDir, launchBrowser, newWorkbenchPage } from './browser.mjs';
import { startCodeServer } from './codeServer.mjs';
import { printResults, readResults } from './results.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    extension: { type: 'string', default: process.env.PROCSCOPE_EXTENSION_PATH ?? root },
    tests: { type: 'string', default: process.env.PROCSCOPE_TESTS_PATH ?? join(root, 'out/test/integration/suite/index.js') },
    workspace: { type: 'string', default: join(root, 'test/integration/workspace') },
    timeout: { type: 'string', default: process.env.PROCSCOPE_TEST_TIMEOUT_MS ?? String(15 * 60_000) },
    grep: { type: 'string', default: process.env.PROCSCOPE_TEST_GREP ?? '' },
  },
});
const extensionPath = resolve(opts.extension);
const testsPath = resolve(opts.tests);
const timeoutMs = Number(opts.timeout);
if (!(timeoutMs > 0)) {
  console.error(`--timeout / PROCSCOPE_TEST_TIMEOUT_MS must be a positive number of ms, got \`${opts.timeout}\``);
  process.exit(2);
}
const artifacts = artifactsDir(root);

/** Messages that say nothing about ProcScope: no network here, so the extension gallery fails. */
function isKnownNoise(text) {
  return /ENOTFOUND|open-vsx\.org|marketplace|EAI_AGAIN/.test(text);
}

/** Writes the `{ relativePath, contents }` log files that codeAutomationExit hands over. */
function saveLogs(dir, logs) {
  for (const { relativePath, contents } of logs) {
    const file = join(dir, relativePath);
    if (!file.startsWith(dir)) continue;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, contents);
  }
}

/** Runs the suite; resolves with `{ results, problems }` (problems: why the run itself went wrong). */
async function runSuite() {
  const problems = [];
  if (!existsSync(testsPath)) {
    return { problems: [`no test entry at ${testsPath}: run \`node scripts/build.mjs --tests\` first`] };
  }
  if (!existsSync(join(extensionPath, 'package.json'))) {
    return { problems: [`no extension at ${extensionPath} (package.json missing)`] };
  }
  await setupCodeServer();

  const tmp = mkdtempSync(join(tmpdir(), 'procscope-integration-'));
  const resultsPath = join(tmp, 'results.json');
  const serverLog = join(artifacts, 'integration-code-server.log');
  const browserLog = join(artifacts, 'integration-browser.log');
  const logsDir = join(artifacts, 'integration-logs');
  rmSync(logsDir, { recursive: true, force: true });
  writeFileSync(serverLog, '');
  writeFileSync(browserLog, '');
  let serverText = '';
  let browserText = '';

  const started = performance.now();
  const server = await startCodeServer({
    root,
    folder: opts.workspace,
    env: { PROCSCOPE_TEST_RESULTS: resultsPath, ...(opts.grep ? { PROCSCOPE_TEST_GREP: opts.grep } : {}) },
    onOutput: (text) => { serverText += text; },
  });
  console.log(`[run] code-server ${server.baseUrl} (pid ${server.pid}) up in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  let browser;
  let exitCode;
  try {
    browser = await launchBrowser();
    let resolveExit;
    const exited = new Promise((r) => { resolveExit = r; });
    const page = await newWorkbenchPage(browser, {
      // The workbench's own log and the extension host's console arrive here mixed, as one call per message.
      onLog: (type, text) => {
        if (isKnownNoise(text)) {
          browserText += `[automation ${type}] ${text}\n`;
          return;
        }
        const prefix = `[vscode${type === 'info' ? '' : ` ${type}`}] `;
        for (const line of text.split('\n')) console.log(`${prefix}${line}`);
      },
      onExit: (code, logs) => {
        saveLogs(join(logsDir, 'window'), logs);
        resolveExit({ code });
      },
      onConsole: (text) => { browserText += `${text}\n`; },
    });
    page.on('crash', () => resolveExit({ problem: 'the browser page crashed' }));
    const url = server.workbenchUrl([
      ['extensionDevelopmentPath', server.remoteUri(extensionPath)],
      ['extensionTestsPath', server.remoteUri(testsPath)],
      ['skipWelcome', 'true'],
    ]);
    await page.goto(url);
    const serverDied = (async () => {
      while (!server.exitStatus()) await new Promise((r) => setTimeout(r, 500).unref());
      return { problem: `code-server exited early (${JSON.stringify(server.exitStatus())})` };
    })();
    const timedOut = new Promise((r) => setTimeout(() => r({ problem: `no result after ${timeoutMs} ms (timeout)` }), timeoutMs).unref());
    const outcome = await Promise.race([exited, serverDied, timedOut]);
    if (outcome.problem) problems.push(outcome.problem);
    exitCode = outcome.code;
    console.log(`[run] extension host finished with code ${exitCode ?? '-'} after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await page.screenshot({ path: join(artifacts, 'integration.png') }).catch((error) => {
      console.log(`[run] screenshot failed: ${error.message}`);
    });
  } finally {
    await browser?.close().catch(() => {});
    // The server's logs (remote extension host, server) live in the user-data dir, which stop() deletes.
    try {
      cpSync(join(server.userDataDir, 'logs'), join(logsDir, 'server'), { recursive: true });
    } catch {
      // no logs written (VS Code never started): nothing to keep
    }
    await server.stop();
    writeFileSync(serverLog, serverText);
    writeFileSync(browserLog, browserText);
  }

  const results = readResults(resultsPath, problems);
  // The exit code only backs up a finished results file: a crashed host is reported as code 0.
  if (results?.done && exitCode === 1 && results.failed === 0) {
    problems.push('the extension host reported failure (run() rejected) but no test failed');
  }
  if (results?.done && exitCode === 0 && results.failed > 0) {
    problems.push('the extension host reported success although tests failed');
  }
  rmSync(tmp, { recursive: true, force: true });
  if (problems.length) console.log(`[run] logs: ${serverLog}, ${browserLog}, ${logsDir}/`);
  return { results, problems };
}

let outcome;
try {
  outcome = await runSuite();
} catch (error) {
  outcome = { problems: [`the run crashed: ${error instanceof Error ? error.stack : error}`] };
}
const { failed } = printResults('integration', outcome.results, outcome.problems);
process.exit(failed > 0 ? 1 : 0);
