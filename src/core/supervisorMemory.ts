// How the supervisor process is kept small: a young generation of 1 MB (output flows through it in 64 KB reads), and
// glibc's malloc told to map those read buffers on their own and to keep one arena, so that what 200 pipes read is
// given back rather than left as a fragmented heap (the supervisor bench: 150 MB → 100 MB).

/** Node's options for the supervisor, before its script. */
export const SUPERVISOR_NODE_OPTIONS = ['--max-semi-space-size=1'];

const MALLOC: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1', MALLOC_MMAP_THRESHOLD_: '65536' };
/** Names the malloc variables the supervisor got from us (not from the user), so that it drops them for its children. */
const OURS = 'PROCSCOPE_SUPERVISOR_MALLOC';

/** The variables to add to the supervisor's environment: those of MALLOC the user did not set. */
export function supervisorMallocEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const added: Record<string, string> = {};
  for (const [name, value] of Object.entries(MALLOC)) if (env[name] === undefined) added[name] = value;
  return { ...added, [OURS]: Object.keys(added).join(',') };
}

/** In the supervisor, once malloc has read them: the processes it starts get the user's environment, not these. */
export function dropSupervisorMallocEnv(env: NodeJS.ProcessEnv): void {
  for (const name of (env[OURS] ?? '').split(',')) if (name in MALLOC) delete env[name];
  delete env[OURS];
}
