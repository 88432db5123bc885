// Starts and stops a code-server (real VS Code server + web workbench) for one test run:
// a free port, fresh temp dirs, its own process group so that stop() takes every process it made.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { codeServerPaths } from '../../scripts/setup-code-server.mjs';

/** A TCP port that was free a moment ago. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Resolves with the HTTP status of GET url, or undefined when nothing answers. */
function httpStatus(url) {
  return new Promise((resolveStatus) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolveStatus(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveStatus(undefined));
    req.end();
  });
}

/** User settings that keep popups which are not ours out of screenshots and of the tests' way. */
export const QUIET_USER_SETTINGS = {
  'git.openRepositoryInParentFolders': 'never', // the workspace sits inside this repository
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
};

/** Every code-server still running, so that an abrupt exit of the test process takes them along. */
const running = new Set();
process.on('exit', () => {
  for (const server of running) server.killNow();
});

/**
 * Starts code-server and waits until it answers.
 * @param {object} options
 * @param {string} options.folder workspace folder to open
 * @param {string} [options.root] repository root (for .vscode-test/)
 * @param {string} [options.extensionsDir] default: a fresh temp dir
 * @param {string} [options.userDataDir] default: a fresh temp dir
 * @param {boolean} [options.disableWorkspaceTrust] default true
 * @param {Record<string, unknown>} [options.userSettings] merged over QUIET_USER_SETTINGS
 * @param {boolean} [options.keepTemp] keep the temp dirs after stop()
 * @param {Record<string, string>} [options.env] extra environment for the server and so the extension host
 * @param {(chunk: string) => void} [options.onOutput] receives the server's stdout+stderr
 * @param {number} [options.startTimeoutMs] default 60 s
 */
export async function startCodeServer(options) {
  const paths = codeServerPaths(options.root);
  const tmp = mkdtempSync(join(tmpdir(), 'procscope-code-server-'));
  const userDataDir = options.userDataDir ?? join(tmp, 'user-data');
  const extensionsDir = options.extensionsDir ?? join(tmp, 'extensions');
  const xdgDataHome = join(tmp, 'xdg-data');
  for (const dir of [userDataDir, extensionsDir, xdgDataHome]) mkdirSync(dir, { recursive: true });
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...QUIET_USER_SETTINGS, ...options.userSettings }, null, 2));
  const folder = resolve(options.folder);
  const port = await freePort();
  const args = [
    paths.entry,
    '--config', paths.config,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--extensions-dir', extensionsDir,
    '--user-data-dir', userDataDir,
    ...(options.disableWorkspaceTrust === false ? [] : ['--disable-workspace-trust']),
    folder,
  ];
  const child = spawn(process.execPath, args, {
    cwd: folder.endsWith('.code-workspace') ? dirname(folder) : folder,
    detached: true, // own process group: stop() kills the group
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      // code-server keeps logs and a heartbeat file under XDG_DATA_HOME/code-server.
      XDG_DATA_HOME: xdgDataHome,
      ...options.env,
    },
  });
  let output = '';
  const onData = (data) => {
    const text = String(data);
    output += text;
    if (output.length > 4_000_000) output = output.slice(-2_000_000);
    options.onOutput?.(text);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exited = null;
  const exitPromise = new Promise((resolveExit) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolveExit(exited);
    });
  });
  child.on('error', (error) => { output += `\n[spawn error] ${error.message}\n`; });

  const baseUrl = `http://127.0.0.1:${port}`;
  const server = {
    port,
    pid: child.pid,
    baseUrl,
    folder,
    userDataDir,
    extensionsDir,
    tmpDir: tmp,
    /** All output so far. */
    output: () => output,
    /** Undefined while running, else `{ code, signal }`. */
    exitStatus: () => exited ?? undefined,
    /** Workbench URL for the folder, with a payload (array of [key, value]) as VS Code's test launchers use it. */
    workbenchUrl(payload = []) {
      const url = new URL(`${baseUrl}/`);
      // A .code-workspace file opens as a (multi-root) workspace, anything else as a folder.
      url.searchParams.set(folder.endsWith('.code-workspace') ? 'workspace' : 'folder', folder);
      if (payload.length) url.searchParams.set('payload', JSON.stringify(payload));
      return url.href;
    },
    /** A `vscode-remote://` URI for a path on this server (what payload entries need). */
    remoteUri(path) {
      return `vscode-remote://127.0.0.1:${port}${resolve(path)}`;
    },
    /** SIGKILLs the whole process group at once (synchronous; for process exit). */
    killNow() {
      running.delete(server);
      if (exited) return;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    },
    /** SIGTERM to the process group, SIGKILL after graceMs; removes the temp dirs. */
    async stop(graceMs = 3000) {
      running.delete(server);
      if (!exited) {
        try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
        const result = await Promise.race([exitPromise, delay(graceMs).then(() => 'timeout')]);
        // The group may hold more than the leader (the VS Code server, the extension host).
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* group already empty */ }
        if (result === 'timeout') await Promise.race([exitPromise, delay(2000)]);
      }
      if (!options.keepTemp) rmSync(tmp, { recursive: true, force: true });
    },
  };
  running.add(server);

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (exited) break;
    if ((await httpStatus(`${baseUrl}/healthz`)) === 200) return server;
    await delay(150);
  }
  await server.stop();
  const why = exited ? `exited (${exited.signal ?? `code ${exited.code}`})` : 'did not answer in time';
  throw new Error(`code-server ${why} on port ${port}. Output:\n${output.split('\n').slice(-40).join('\n')}`);
}
