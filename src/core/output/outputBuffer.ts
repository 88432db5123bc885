// Keeps the last N bytes of a process's stdout and stderr as whole lines, in arrival order, with each line's stream.
//
// The lines are copied into one ring of at most N bytes instead of keeping the chunks read from the pipe: a flood then
// allocates nothing that lives long (kept chunks survive into V8's old generation and cost major collections, which
// halved the ingest rate), and memory is the ring's, whatever the chunk sizes.

export const STDOUT = 0;
export const STDERR = 1;
export type StreamId = typeof STDOUT | typeof STDERR;

/** A run of whole lines from one stream (always ends with a newline). */
export interface Segment {
  stream: StreamId;
  data: Buffer;
}

/** A run of lines from one stream, by absolute byte offsets (the ring position is offset % capacity). */
interface Run {
  stream: StreamId;
  start: number;
  end: number;
}

const NEWLINE_BYTE = 10;
/** The ring is allocated with the first line, this small (or at the cap if smaller), and doubles up to the cap. */
const INITIAL_CAPACITY = 16 * 1024;
const EMPTY = Buffer.alloc(0);

export class OutputBuffer {
  private ring: Buffer = EMPTY;
  /** Absolute offsets of the oldest kept byte and one past the newest; the ring holds [head, tail). */
  private head = 0;
  private tail = 0;
  private runs: Run[] = [];
  private firstRun = 0;
  private readonly pending: [Buffer | undefined, Buffer | undefined] = [undefined, undefined];
  /** Bytes dropped from the front to stay within the cap. */
  droppedBytes = 0;
  /** Total bytes ever received. */
  totalBytes = 0;

  /**
   * @param maxBytes cap on the lines kept; older lines are dropped first.
   * @param maxLineBytes a line longer than this is cut there, so one endless line cannot grow without bound.
   */
  constructor(
    readonly maxBytes: number,
    private readonly maxLineBytes = 64 * 1024,
  ) {}

  /**
   * Takes a chunk as read from the pipe; returns the whole lines it completed (possibly undefined), for echoing.
   * The returned buffer is the caller's: it is not the storage, so later output never changes it.
   */
  append(stream: StreamId, chunk: Buffer): Buffer | undefined {
    this.totalBytes += chunk.length;
    const newline = chunk.lastIndexOf(NEWLINE_BYTE);
    const pending = this.pending[stream];
    if (newline === -1) {
      const joined = pending ? Buffer.concat([pending, chunk]) : chunk;
      if (joined.length < this.maxLineBytes) {
        this.pending[stream] = joined;
        return undefined;
      }
      this.pending[stream] = undefined;
      const cut = Buffer.concat([joined, NEWLINE]);
      this.commit(stream, cut);
      return cut;
    }
    // Short-lived (the pipe's chunk, or a copy handed to listeners and dropped): cheap for the young generation.
    const lines = pending ? Buffer.concat([pending, chunk.subarray(0, newline + 1)]) : chunk.subarray(0, newline + 1);
    this.pending[stream] = newline + 1 < chunk.length ? Buffer.from(chunk.subarray(newline + 1)) : undefined;
    this.commit(stream, lines);
    return lines;
  }

  /** The stream ended: keep its unterminated last line, if any, as a line of its own. */
  end(stream: StreamId): Buffer | undefined {
    const pending = this.pending[stream];
    if (!pending) return undefined;
    this.pending[stream] = undefined;
    const line = Buffer.concat([pending, NEWLINE]);
    this.commit(stream, line);
    return line;
  }

  /** Copies whole lines into the ring, dropping the oldest lines first to make room. */
  private commit(stream: StreamId, lines: Buffer): void {
    if (lines.length > this.maxBytes) {
      // More than the whole cap at once: only its last lines can be kept, and nothing older.
      const start = lines.indexOf(NEWLINE_BYTE, lines.length - this.maxBytes - 1) + 1;
      this.dropAll();
      this.droppedBytes += start;
      lines = lines.subarray(start);
      if (lines.length === 0) return;
    }
    const needed = this.size + lines.length;
    if (needed > this.ring.length && this.ring.length < this.maxBytes) {
      this.grow(Math.min(this.maxBytes, Math.max(needed, this.ring.length * 2, INITIAL_CAPACITY)));
    }
    if (needed > this.ring.length) this.dropFront(needed - this.ring.length);
    this.write(lines);
    const last = this.runs.length > this.firstRun ? this.runs[this.runs.length - 1] : undefined;
    if (last && last.stream === stream && last.end === this.tail) last.end += lines.length;
    else this.runs.push({ stream, start: this.tail, end: this.tail + lines.length });
    this.tail += lines.length;
  }

  private write(data: Buffer): void {
    const capacity = this.ring.length;
    const at = this.tail % capacity;
    const first = Math.min(data.length, capacity - at);
    data.copy(this.ring, at, 0, first);
    if (first < data.length) data.copy(this.ring, 0, first);
  }

  /** Drops at least `bytes` from the front, and the rest of the line that ends in, so the buffer still starts on a line. */
  private dropFront(bytes: number): void {
    const capacity = this.ring.length;
    let from = this.head + bytes - 1; // the last byte that must go: the line it ends in goes too
    let cut = -1;
    while (cut === -1 && from < this.tail) {
      const at = from % capacity;
      const stop = Math.min(capacity, at + (this.tail - from));
      const found = this.ring.subarray(at, stop).indexOf(NEWLINE_BYTE);
      if (found !== -1) cut = from + found + 1;
      else from += stop - at;
    }
    const newHead = cut === -1 ? this.tail : cut;
    this.droppedBytes += newHead - this.head;
    this.head = newHead;
    while (this.firstRun < this.runs.length && this.runs[this.firstRun].end <= this.head) this.firstRun++;
    if (this.firstRun < this.runs.length) this.runs[this.firstRun].start = Math.max(this.runs[this.firstRun].start, this.head);
    if (this.firstRun > 1024 && this.firstRun * 2 > this.runs.length) {
      this.runs = this.runs.slice(this.firstRun);
      this.firstRun = 0;
    }
  }

  private dropAll(): void {
    this.droppedBytes += this.size;
    this.head = this.tail;
    this.runs = [];
    this.firstRun = 0;
  }

  /** A larger ring holding the same bytes (unwrapped, so absolute offsets map into it again). */
  private grow(capacity: number): void {
    const bigger = Buffer.allocUnsafe(capacity);
    this.copyOut(this.head, this.tail, bigger, this.head % capacity);
    this.ring = bigger;
  }

  /** Copies the kept bytes [from, to) into `target` at `at`, wrapping around `target`'s end. */
  private copyOut(from: number, to: number, target: Buffer, at: number): void {
    const capacity = this.ring.length;
    let offset = from;
    while (offset < to) {
      const src = offset % capacity;
      const n = Math.min(to - offset, capacity - src, target.length - at);
      this.ring.copy(target, at, src, src + n);
      offset += n;
      at = (at + n) % target.length;
    }
  }

  /** A copy of the kept bytes [from, to). */
  private slice(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe(to - from);
    this.copyOut(from, to, out, 0);
    return out;
  }

  /** Bytes currently held. */
  get size(): number {
    return this.tail - this.head;
  }

  /** The kept lines, oldest first, as copies (the ring is overwritten as output arrives). */
  *lines(): Generator<Segment> {
    for (let i = this.firstRun; i < this.runs.length; i++) {
      const run = this.runs[i];
      const start = Math.max(run.start, this.head);
      if (start < run.end) yield { stream: run.stream, data: this.slice(start, run.end) };
    }
  }

  /** All kept output as text, stdout and stderr interleaved line by line in arrival order. */
  text(): string {
    return this.slice(this.head, this.tail).toString('utf8');
  }
}

const NEWLINE = Buffer.from('\n');
