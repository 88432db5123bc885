// How the supervisor process is kept small, and its starts quick from the first. Output is read into one reused
// buffer (supervisor/pipeReader.ts) and nothing of a read is kept but unfinished lines and held floods
// (output/outputStore.ts), so reading 200 pipes at once allocates next to nothing. Besides:
// - V8: a young generation of 1 MB; every full collection compacts the old generation (a heap of a few megabytes
//   compacts in a few milliseconds, and its free pages go back). Optimising compilations run on V8's workers, as by
//   default: they ran on the main thread for a while, when their working memory fragmented the malloc heap, but that
//   blocked the supervisor for up to 35 ms a compilation (the /proc poll's functions) and is no longer needed
//   (below). Functions are optimised after a quarter of V8's default interrupt budget: a new supervisor's starts
//   were slow for its first couple of thousand (Node's spawn path and ours still unoptimised; a bare Node process
//   shows the same curve), so that the bench's start + reap one after another, run on a fresh supervisor, was
//   1.23-1.31x raw spawn over 4 runs, and is 1.15-1.21x with it over 3 (1.11-1.19x with --always-sparkplug as well,
//   which costs 1.5 MB of RSS; this costs 0.5 MB).
// - glibc's malloc: one arena; no per-thread caches or fast bins of small freed blocks, which are merged with their
//   neighbours at once instead; blocks of 8 KB or more mapped on their own, and the heap grown by no more than a
//   request needs. glibc maps a large block on its own only when the free top of the heap cannot hold it, and by
//   default grows the heap 128 KB beyond each request, so that it often can: then an optimising compilation's
//   working memory (up to 6 MB in 8-32 KB pieces for the /proc poll's functions) went to the top of the heap,
//   long-lived blocks malloc'd meanwhile landed above it (a dump of the heap's live blocks found V8's bookkeeping of
//   new heap pages, made as a collection compacts, at the top), and the freed megabytes below stayed resident, since
//   glibc gives back only the top: the supervisor bench was 57-58 or 60-62.7 MB from run to run, and malloc_trim(0),
//   called from a debugger in a bad run, took it from 60.4 to 57.1 MB. With the top kept tight, such blocks are
//   mapped on their own and unmapped when freed: 55.9-57.3 MB over 8 runs, with the compilations on V8's workers.
//   (An explicit threshold also keeps glibc from raising it to the size of the last mapped block freed.)
// - a full collection when the RSS goes quiet well above its settled size, or garbage buffers are many (below).
import { heldOutputBytes } from './output/outputStore';

/** Node's options for the supervisor, before its script (--expose-gc: see trimAfterGrowth; the rest: above). */
export const SUPERVISOR_NODE_OPTIONS = ['--max-semi-space-size=1', '--expose-gc', '--compact-on-every-full-gc', '--interrupt-budget=16384'];

const MALLOC: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1', MALLOC_MMAP_THRESHOLD_: '8192', MALLOC_TOP_PAD_: '0', GLIBC_TUNABLES: 'glibc.malloc.mxfast=0:glibc.malloc.tcache_count=0' };
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
