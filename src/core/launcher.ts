// Spawns one process from a validated spec: its own process group, no shell unless asked, piped output.
import { spawn, type ChildProcess } from 'node:child_process';
import { lookUpExecutable } from './executable';
import type { ValidSpec } from './validate';

export interface SpawnResult {
  child: ChildProcess;
  pid: number;
}

/** `base` made ready for launches, once per base object (a base other than the live process.env is never changed). */
const preparedBases = new WeakMap<NodeJS.ProcessEnv, NodeJS.ProcessEnv>();

function launchBase(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  let prepared = base === process.env ? undefined : preparedBases.get(base);
  if (!prepared) {
    // ELECTRON_RUN_AS_NODE is set in the extension host; it would turn a launched Electron app into plain Node.
    const { ELECTRON_RUN_AS_NODE: _electron, ...rest } = base;
    prepared = { ...rest, PYTHONUNBUFFERED: '1' };
    if (base !== process.env) preparedBases.set(base, prepared);
  }
  return prepared;
}

/** The environment a launched process gets: `base` (the editor's), minus what only makes sense inside it, plus the spec's. */
export function launchEnvironment(spec: Pick<ValidSpec, 'env'>, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...launchBase(base), ...spec.env };
}

/** Why spawn failed, in words: the errno spawn gives is often not what a person needs to know. */
function spawnProblem(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return 'executable not found (ENOENT)';
    case 'EACCES':
      return 'is not executable (EACCES)';
    case 'E2BIG':
      return 'the arguments and environment are too long for the system (E2BIG)';
    case 'ENOEXEC':
      return 'is not a program the system can run (ENOEXEC)';
    default:
      return error.message;
  }
}

/** Starts the process; rejects with a clear Error (and nothing left running) when it cannot start. */
export function spawnProcess(spec: ValidSpec, cwd: string, env: NodeJS.ProcessEnv): Promise<SpawnResult> {
  const quoted = JSON.stringify(spec.command);
  if (!spec.shell) {
    const lookup = lookUpExecutable(spec.command, cwd, env.PATH);
    if (lookup.problem !== undefined) return Promise.reject(new Error(`Cannot start ${quoted}: ${lookup.problem}`));
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
    return Promise.reject(new Error(`Cannot start ${quoted}: ${spawnProblem(error as NodeJS.ErrnoException)}`));
  }
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      child.removeListener('spawn', onSpawn);
      reject(new Error(`Cannot start ${quoted}: ${spawnProblem(error)}`));
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
