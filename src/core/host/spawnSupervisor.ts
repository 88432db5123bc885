// Starts a supervisor process for this window: its own session, a private 0700 directory with the socket, a token.
//
// The host forks exactly once for it (with process.execPath: plain Node in code-server and remote hosts, Electron run
// as Node in desktop VS Code); every launch after that is the supervisor's fork, whatever the host's size.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SupervisorClient, type ConnectResult } from './supervisorClient';
import { SUPERVISOR_NODE_OPTIONS, supervisorMallocEnv } from '../supervisorMemory';

export interface SupervisorRecord {
  pid: number;
  /** The private directory: the socket, the output files, the supervisor's log. */
  dir: string;
  socket: string;
  token: string;
  startedAt: number;
}

export interface SpawnOptions {
  /** dist/supervisor.js */
  script: string;
  /** dist/python, handed to the supervisor for Python launches. */
  helperDir: string;
  nodePath?: string;
  /** Where the private directory is made (default os.tmpdir()). */
  tmpdir?: string;
  /** Extra environment for the supervisor (tests). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

// sun_path holds 104 bytes on macOS, 108 on Linux.
const MAX_SOCKET_PATH = 100;

/** The supervisor's diagnostics, for an error message when it did not come up. */
function logTail(dir: string): string {
  try {
    return readFileSync(path.join(dir, 'supervisor.log'), 'utf8').split('\n').slice(-10).join('\n');
  } catch {
    return '';
  }
}

/** Spawns a supervisor and connects to it; rejects with what went wrong if it does not come up. */
export async function spawnSupervisor(options: SpawnOptions): Promise<{ record: SupervisorRecord } & Extract<ConnectResult, { client: unknown }>> {
  let base = options.tmpdir ?? os.tmpdir();
  if (path.join(base, 'procscope-XXXXXX', 'sock').length > MAX_SOCKET_PATH) base = '/tmp';
  const dir = mkdtempSync(path.join(base, 'procscope-'));
  chmodSync(dir, 0o700);
  const socket = path.join(dir, 'sock');
  const token = randomBytes(24).toString('hex');
  const child = spawn(options.nodePath ?? process.execPath, [...SUPERVISOR_NODE_OPTIONS, options.script, '--dir', dir, '--helper', options.helperDir], {
    detached: true, // its own session: a signal to the host's group does not reach it, and it outlives the host
    stdio: 'ignore',
    env: { ...process.env, ...options.env, ...supervisorMallocEnv({ ...process.env, ...options.env }), ELECTRON_RUN_AS_NODE: '1', PROCSCOPE_SUPERVISOR_TOKEN: token },
    windowsHide: true,
  });
  child.unref();
  let exited: string | undefined;
  let spawnError: string | undefined;
  child.on('error', (error) => (spawnError = error.message));
  child.on('exit', (code, signal) => (exited = signal ?? `exit code ${code}`));
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let last = '';
  while (Date.now() < deadline) {
    if (spawnError !== undefined || exited !== undefined) break;
    const result = await SupervisorClient.connect(socket, token, Math.max(100, deadline - Date.now()));
    if ('client' in result) {
      return { ...result, record: { pid: child.pid as number, dir, socket, token, startedAt: Date.now() } };
    }
    last = result.detail;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const why = spawnError ?? (exited !== undefined ? `it exited (${exited})` : `it did not answer within ${options.timeoutMs ?? 15_000} ms (${last})`);
  const tail = logTail(dir);
  try {
    if (child.pid !== undefined && exited === undefined) process.kill(child.pid, 'SIGKILL');
  } catch {
    // gone already
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`ProcScope could not start its supervisor process: ${why}${tail ? `\n${tail}` : ''}`);
}
