// Spawns one process from a validated spec: its own process group, no shell unless asked, piped output.
import { spawn, type ChildProcess } from 'node:child_process';
import { findExecutable } from './executable';
import type { ValidSpec } from './validate';

export interface SpawnResult {
  child: ChildProcess;
  pid: number;
}

/** The environment a launched process gets: ours, minus what only makes sense inside the editor, plus the spec's. */
export function launchEnvironment(spec: ValidSpec): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
  delete env.ELECTRON_RUN_AS_NODE; // set in the extension host; it would turn a launched Electron app into plain Node
  return { ...env, ...spec.env };
}

/** Starts the process; rejects with a clear Error (and nothing left running) when it cannot start. */
export function spawnProcess(spec: ValidSpec, cwd: string, env: NodeJS.ProcessEnv): Promise<SpawnResult> {
  if (!spec.shell && findExecutable(spec.command, cwd, env.PATH) === undefined) {
    return Promise.reject(new Error(`Cannot start ${JSON.stringify(spec.command)}: executable not found (ENOENT) in PATH or relative to ${JSON.stringify(cwd)}`));
  }
  let child: ChildProcess;
  try {
    child = spawn(spec.command, spec.args, {
      cwd,
      env,
      shell: spec.shell,
      detached: process.platform !== 'win32', // a new session and process group: the whole tree can be signalled at once
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
  } catch (error) {
    return Promise.reject(new Error(`Cannot start ${JSON.stringify(spec.command)}: ${(error as Error).message}`));
  }
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      child.removeListener('spawn', onSpawn);
      const reason = error.code === 'ENOENT' ? 'executable not found (ENOENT)' : error.message;
      reject(new Error(`Cannot start ${JSON.stringify(spec.command)}: ${reason}`));
    };
    const onSpawn = () => {
      child.removeListener('error', onError);
      child.on('error', () => undefined); // later errors (e.g. a failed kill) are reported through exit codes
      resolve({ child, pid: child.pid as number });
    };
    child.once('error', onError);
    child.once('spawn', onSpawn);
  });
}
