// How the supervisor process is kept small. Output is read into one reused buffer (supervisor/pipeReader.ts) and
// nothing of a read is kept but unfinished lines and held floods (output/outputStore.ts), so reading 200 pipes at once
// allocates next to nothing. Besides:
// - V8: a young generation of 1 MB; every full collection compacts the old generation (a heap of a few megabytes
//   compacts in a few milliseconds, and its free pages go back); optimising compilations run on the main thread, one
//   at a time, rather than several at once on V8's workers, whose compiler zones, malloc'd alongside the long-lived
//   blocks of a burst of starts, left the malloc heap fragmented; neither changed start + reap or ingest measurably,
//   but a compilation on the main thread can fall into a short request (a 12-process terminate: ~1 ms more).
// - glibc's malloc: one arena; blocks of 64 KB or more mapped on their own (a flood's hold buffer, a large message to
//   the host), so that they are given back when freed rather than left in a fragmented heap (without the explicit
//   threshold glibc raises it to the size of the last such block freed); no per-thread caches or fast bins of small
//   freed blocks, which are merged with their neighbours at once instead.
// - a full collection when the RSS goes quiet well above its settled size, or garbage buffers are many (below).
// The supervisor bench: 62-64 MB with the malloc settings alone, 58-59 MB with all of it over three runs; over many
// runs since, 57-62 MB (see the README).
import { heldOutputBytes } from './output/outputStore';

/** Node's options for the supervisor, before its script (--expose-gc: see trimAfterGrowth; the rest: above). */
export const SUPERVISOR_NODE_OPTIONS = ['--max-semi-space-size=1', '--expose-gc', '--compact-on-every-full-gc', '--no-concurrent-recompilation'];

const MALLOC: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1', MALLOC_MMAP_THRESHOLD_: '65536', GLIBC_TUNABLES: 'glibc.malloc.mxfast=0:glibc.malloc.tcache_count=0' };
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

/** How often the supervisor looks at its RSS; how far above its settled size a quiet RSS must be for a collection. */
const GROWTH_CHECK_MS = 2000;
const GROWTH_BYTES = 16 * 2 ** 20;
/** An RSS that moved less than this between two looks is quiet (the burst is over, or has reached its plateau). */
const QUIET_BYTES = 2 ** 20;
/** Array buffers this far beyond what the output writers hold and the last collection left are garbage worth one. */
const GARBAGE_BUFFER_BYTES = 4 * 2 ** 20;
/** The longest wait between two collections while each keeps freeing much (output that never stops). */
const MAX_GAP_MS = 60_000;

/**
 * Runs a full garbage collection when the RSS has gone quiet GROWTH_BYTES above the supervisor's settled size, or
 * quiet with array buffers GARBAGE_BUFFER_BYTES beyond what the output writers hold and the last collection left
 * (live buffers: unfinished lines, the relay's): after a burst of output V8 keeps its garbage (floods' hold buffers,
 * each a megabyte the kernel gets back only when its buffer is collected; messages to the host) until its heap needs
 * room, which an idle supervisor never does.
 * A collection that frees little means the memory is live (more processes): that becomes the settled size. Under
 * output that never stops, collections that keep freeing much come at doubling intervals (up to MAX_GAP_MS). A look
 * every GROWTH_CHECK_MS is a read of the RSS and of V8's heap statistics. Needs --expose-gc.
 */
export function trimAfterGrowth(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  let settled = process.memoryUsage.rss();
  let last = settled;
  let gap = GROWTH_CHECK_MS;
  let next = 0;
  /** Array buffers not held by the output writers that the last collection left: live, not garbage. */
  let liveBuffers = 0;
  const unheldBuffers = () => process.memoryUsage().arrayBuffers - heldOutputBytes();
  setInterval(() => {
    const rss = process.memoryUsage.rss();
    const quiet = Math.abs(rss - last) < QUIET_BYTES;
    last = rss;
    if (rss < settled) settled = rss;
    if (!quiet || Date.now() < next) return;
    const buffers = unheldBuffers();
    if (buffers < liveBuffers) liveBuffers = buffers;
    if (rss - settled < GROWTH_BYTES && buffers - liveBuffers < GARBAGE_BUFFER_BYTES) return;
    gc();
    liveBuffers = unheldBuffers();
    last = process.memoryUsage.rss();
    if (rss - last < GROWTH_BYTES / 4) {
      settled = last;
      gap = GROWTH_CHECK_MS;
    } else {
      gap = Math.min(gap * 2, MAX_GAP_MS);
    }
    next = Date.now() + gap;
  }, GROWTH_CHECK_MS).unref();
}
