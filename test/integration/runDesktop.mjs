// Runs the same Mocha integration suite in a desktop VS Code via @vscode/test-electron
// (`npm run test:desktop`). It downloads VS Code from Microsoft unless PROCSCOPE_VSCODE_EXECUTABLE
// names an installed one, so it cannot run on machines that only reach npm; `npm test` uses
// code-server instead (test/integration/run.mjs). Ends with the line `N passed, N failed`.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTests } from '@vscode/test-electron';
import { printResults, readResults } from './results.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const extensionDevelopmentPath = process.env.PROCSCOPE_EXTENSION_PATH ?? root;
const extensionTestsPath = process.env.PROCSCOPE_TESTS_PATH ?? join(root, 'out/test/integration/suite/index.js');
const workspace = join(root, 'test/integration/workspace');

/** True when an error comes from fetching VS Code rather than from the tests. */
function isDownloadFailure(error) {
  const text = `${error?.message ?? ''} ${error?.code ?? ''} ${error?.cause?.code ?? ''}`;
  return /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|getaddrinfo|download|update\.code\.visualstudio\.com|socket hang up|certificate/i.test(text);
}

const problems = [];
const tmp = mkdtempSync(join(tmpdir(), 'procscope-desktop-'));
const resultsPath = join(tmp, 'results.json');
let results;
if (!existsSync(extensionTestsPath)) {
  problems.push(`no test entry at ${extensionTestsPath}: run \`node scripts/build.mjs --tests\` first`);
} else {
  try {
    await runTests({
      extensionDevelopmentPath,
      extensionTestsPath,
      extensionTestsEnv: { PROCSCOPE_TEST_RESULTS: resultsPath },
      vscodeExecutablePath: process.env.PROCSCOPE_VSCODE_EXECUTABLE || undefined,
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
    });
  } catch (error) {
    if (!existsSync(resultsPath) && isDownloadFailure(error)) {
      console.error([
        '',
        'test:desktop could not download VS Code for @vscode/test-electron:',
        `  ${error instanceof Error ? error.message : error}`,
        'This machine cannot reach Microsoft\'s update service. Use `npm test` (code-server + headless Chromium)',
        'here, or set PROCSCOPE_VSCODE_EXECUTABLE to an installed VS Code binary.',
        '',
      ].join('\n'));
      problems.push('VS Code could not be downloaded (see above)');
    } else if (!existsSync(resultsPath)) {
      problems.push(`VS Code did not run the suite: ${error instanceof Error ? error.message : error}`);
    }
    // Otherwise the exit code only says that tests failed; the results file says which.
  }
  if (!problems.length) results = readResults(resultsPath, problems);
}
rmSync(tmp, { recursive: true, force: true });
const { failed } = printResults('desktop', results, problems);
process.exit(failed > 0 ? 1 : 0);
