// `npm start`: builds the extension, then serves VS Code in the browser (code-server) with ProcScope
// loaded and the examples workspace open, and prints the address to open. Ctrl+C stops everything.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupCodeServer } from './setup-code-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8080);
const folder = join(root, 'examples');
const state = join(root, '.vscode-test', 'start');

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed with exit code ${code}`))));
  });
}

console.log('[start] building the extension');
await run(process.execPath, ['scripts/build.mjs']);
const paths = await setupCodeServer();

// The extension is "installed" as a link to this checkout, so a rebuild (npm run watch) is picked up on reload.
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const extensionsDir = join(state, 'extensions');
const userDataDir = join(state, 'user-data');
mkdirSync(extensionsDir, { recursive: true });
mkdirSync(join(userDataDir, 'User'), { recursive: true });
const link = join(extensionsDir, `procscope.procscope-${version}`);
rmSync(link, { force: true, recursive: true });
symlinkSync(root, link);
const settingsFile = join(userDataDir, 'User', 'settings.json');
if (!existsSync(settingsFile)) {
  writeFileSync(settingsFile, `${JSON.stringify({
    'git.openRepositoryInParentFolders': 'never',
    'workbench.startupEditor': 'none',
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
  }, null, 2)}\n`);
}

const server = spawn(process.execPath, [
  paths.entry,
  '--config', paths.config,
  '--auth', 'none',
  '--bind-addr', `${host}:${port}`,
  '--disable-telemetry',
  '--disable-update-check',
  '--disable-workspace-trust',
  '--extensions-dir', extensionsDir,
  '--user-data-dir', userDataDir,
  folder,
], { cwd: folder, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_DATA_HOME: join(state, 'xdg-data') } });

let announced = false;
const onOutput = (chunk) => {
  const text = String(chunk);
  if (/EADDRINUSE/.test(text)) {
    console.error(`[start] port ${port} is taken: run \`PORT=8081 npm start\``);
  }
  if (!announced && /HTTP server listening/.test(text)) {
    announced = true;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/?folder=${encodeURIComponent(folder)}`;
    console.log(`\n  ProcScope is running in VS Code for the browser. Open:\n\n    ${url}\n\n  Then click the ProcScope icon in the activity bar, open an example and run "ProcScope: Run Active File".\n  Ctrl+C stops the server and every process ProcScope started.\n`);
  }
  if (process.env.PROCSCOPE_VERBOSE) process.stdout.write(text);
};
server.stdout.on('data', onOutput);
server.stderr.on('data', onOutput);
server.on('exit', (code, signal) => {
  console.log(`[start] code-server exited (${signal ?? code})`);
  process.exit(code ?? 0);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  console.log('[start] stopping: the extension host deactivates and ends its processes');
  try {
    process.kill(server.pid, 'SIGTERM'); // code-server first, so the extension host can deactivate cleanly
  } catch {
    // already gone
  }
  setTimeout(() => {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // gone
    }
    process.exit(0);
  }, 4000).unref();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
