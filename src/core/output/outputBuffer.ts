// Keeps the last N bytes of a process's stdout and stderr as whole lines, in arrival order, with each line's stream.

export const STDOUT = 0;
export const STDERR = 1;
export type StreamId = typeof STDOUT | typeof STDERR;

/** A run of whole lines from one stream (always ends with a newline). */
export interface Segment {
  stream: StreamId;
  data: Buffer;
}

const SMALL = 8 * 1024; // writes below this are copied together into shared blocks, so many tiny lines cost few objects
const BLOCK = 64 * 1024;

export class OutputBuffer {
  private segments: Segment[] = [];
  private head = 0;
  private bytes = 0;
  private readonly pending: [Buffer | undefined, Buffer | undefined] = [undefined, undefined];
  /** The open block small writes go into, and how much of it is used. */
  private block: Buffer | undefined;
  private blockUsed = 0;
  private blockSegment: Segment | undefined;
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

  /** Takes a chunk as read from the pipe; returns the whole lines it completed (possibly empty), for echoing. */
  append(stream: StreamId, chunk: Buffer): Buffer | undefined {
    this.totalBytes += chunk.length;
    const newline = chunk.lastIndexOf(10);
    const pending = this.pending[stream];
    if (newline === -1) {
      const joined = pending ? Buffer.concat([pending, chunk]) : chunk;
      if (joined.length < this.maxLineBytes) {
        this.pending[stream] = joined;
        return undefined;
      }
      this.pending[stream] = undefined;
      const cut = Buffer.concat([joined, NEWLINE]);
      this.push(stream, cut);
      return cut;
    }
    const lines = pending ? Buffer.concat([pending, chunk.subarray(0, newline + 1)]) : chunk.subarray(0, newline + 1);
    this.pending[stream] = newline + 1 < chunk.length ? Buffer.from(chunk.subarray(newline + 1)) : undefined;
    this.push(stream, lines);
    return lines;
  }

  /** The stream ended: keep its unterminated last line, if any, as a line of its own. */
  end(stream: StreamId): Buffer | undefined {
    const pending = this.pending[stream];
    if (!pending) return undefined;
    this.pending[stream] = undefined;
    const line = Buffer.concat([pending, NEWLINE]);
    this.push(stream, line);
    return line;
  }

  private push(stream: StreamId, data: Buffer): void {
    if (data.length < SMALL) {
      const open = this.blockSegment;
      if (open && open.stream === stream && this.block && this.blockUsed + data.length <= this.block.length && this.isLast(open)) {
        data.copy(this.block, this.blockUsed);
        this.blockUsed += data.length;
        open.data = this.block.subarray(this.blockUsed - open.data.length - data.length, this.blockUsed);
      } else {
        this.block = Buffer.allocUnsafe(BLOCK);
        data.copy(this.block, 0);
        this.blockUsed = data.length;
        this.blockSegment = { stream, data: this.block.subarray(0, data.length) };
        this.segments.push(this.blockSegment);
      }
    } else {
      this.blockSegment = undefined;
      this.segments.push({ stream, data });
    }
    this.bytes += data.length;
    this.evict();
  }

  private isLast(segment: Segment): boolean {
    return this.segments.length > this.head && this.segments[this.segments.length - 1] === segment;
  }

  private evict(): void {
    while (this.bytes > this.maxBytes && this.head < this.segments.length) {
      const first = this.segments[this.head];
      const excess = this.bytes - this.maxBytes;
      if (first.data.length <= excess) {
        this.bytes -= first.data.length;
        this.droppedBytes += first.data.length;
        if (first === this.blockSegment) this.blockSegment = undefined;
        this.head++;
        continue;
      }
      // Drop the excess and the rest of the line it ends in, so the buffer still starts on a line.
      const cut = first.data.indexOf(10, excess - 1) + 1;
      const keep = cut <= 0 ? first.data.length : cut;
      if (first === this.blockSegment) this.blockSegment = undefined;
      first.data = first.data.subarray(keep);
      this.bytes -= keep;
      this.droppedBytes += keep;
      if (first.data.length === 0) this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.segments.length) {
      this.segments = this.segments.slice(this.head);
      this.head = 0;
    }
  }

  /** Bytes currently held. */
  get size(): number {
    return this.bytes;
  }

  /** The kept lines, oldest first. */
  *lines(): Generator<Segment> {
    for (let i = this.head; i < this.segments.length; i++) yield this.segments[i];
  }

  /** All kept output as text, stdout and stderr interleaved line by line in arrival order. */
  text(): string {
    const parts: Buffer[] = [];
    for (let i = this.head; i < this.segments.length; i++) parts.push(this.segments[i].data);
    return Buffer.concat(parts).toString('utf8');
  }
}

const NEWLINE = Buffer.from('\n');
