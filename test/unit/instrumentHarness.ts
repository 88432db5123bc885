// Shared by the instrumentation tests: a recording InstrumentServer, raw socket clients, and real Python runs.
import { spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { resolve } from 'node:path';
import { InstrumentServer, pythonEnv, type InstrumentServerOptions } from '../../src/core/instrument';
import type { PythonLogRecord, PythonProcessExited, PythonProcessStarted } from '../../src/core/instrument';

/** The repository root, from out/test/unit where the bundled tests run. */
export const ROOT = resolve(__dirname, '../../..');
export const HELPER_DIR = resolve(ROOT, 'src/python');
export const PYTHON_FIXTURES = resolve(ROOT, 'test/fixtures/python');
export const PYTHON = process.env.PROCSCOPE_TEST_PYTHON ?? 'python3';

/** Why the Python tests cannot run here, or undefined if they can. */
export function pythonMissing(python = PYTHON): string | undefined {
  if (process.platform === 'win32') return 'the helper is tested on unix sockets';
  const probe = spawnSync(python, ['-c', 'import sys; print(sys.version_info >= (3, 8))'], { encoding: 'utf8' });
  if (probe.error || probe.stdout.trim() !== 'True') return `${python} (3.8+) is not available`;
  return undefined;
}

export interface Recorded {
  starts: PythonProcessStarted[];
  exits: PythonProcessExited[];
  logs: PythonLogRecord[];
  warnings: string[];
}

/** A server whose events are all kept, for assertions. */
export function recordingServer(options: InstrumentServerOptions = {}): { server: InstrumentServer; recorded: Recorded } {
  const server = new InstrumentServer(options);
  const recorded: Recorded = { starts: [], exits: [], logs: [], warnings: [] };
  server.onDidStart((e) => recorded.starts.push(e));
  server.onDidExit((e) => recorded.exits.push(e));
  server.onDidLog((e) => recorded.logs.push(e));
  server.onWarning((w) => recorded.warnings.push(w));
  return { server, recorded };
}

/**
 * A raw client: connects to `path` and writes `text`. With `holdMs`, it keeps the connection open that long and reports
 * whether the server closed it first; without, it ends its side and resolves once the server has read everything.
 */
export function rawClient(path: string, text: string | Buffer, holdMs?: number): Promise<{ closedByServer: boolean }> {
  return new Promise((resolveClient, reject) => {
    const socket = net.connect(path);
    let closedByServer = false;
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(text);
      if (holdMs === undefined) socket.end();
      else timer = setTimeout(() => socket.destroy(), holdMs);
    });
    socket.on('end', () => {
      if (holdMs !== undefined) closedByServer = true;
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') closedByServer = true;
      else reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolveClient({ closedByServer });
    });
  });
}

export function line(fields: Record<string, unknown>): string {
  return `${JSON.stringify(fields)}\n`;
}

export interface PythonRun {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `python args…` with `env` (nothing else inherited but PATH and HOME) and collects its output. */
export function runPython(args: string[], env: Record<string, string>, options: { python?: string; cwd?: string } = {}): Promise<PythonRun> {
  const started = performance.now();
  return new Promise((resolveRun, reject) => {
    const child = spawn(options.python ?? PYTHON, args, { env, cwd: options.cwd ?? PYTHON_FIXTURES });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolveRun({ pid: child.pid ?? 0, code, signal, stdout, stderr, ms: performance.now() - started }));
  });
}

/** The environment a test Python runs in without the helper: PATH and HOME only, so the host's variables don't leak in. */
export function bareEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'PYENV_VERSION', 'PYENV_ROOT', 'LANG']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs a fixture under the helper through `server` for launch `launchId`, and waits until its reports are in. */
export async function runInstrumented(
  server: InstrumentServer,
  launchId: string,
  args: string[],
  options: { level?: number; python?: string; baseEnv?: Record<string, string> } = {},
): Promise<PythonRun> {
  const env = pythonEnv(HELPER_DIR, server.register(launchId), options.level ?? 10, options.baseEnv ?? bareEnv());
  const run = await runPython(args, env, { python: options.python });
  await server.whenIdle(launchId, 3000);
  server.unregister(launchId);
  return run;
}
