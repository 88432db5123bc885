// A process's stdout and stderr, kept as whole lines in a bounded ring on disk: written by the supervisor, read by the host.
//
// On disk, not in memory: the supervisor stays small however many processes print (200 full 1 MB buffers would be 200 MB
// of RSS), output outlives a window reload and even a supervisor crash, and the host reads it without asking anyone.
// Each process has two generation files, `ID.0` (older) and `ID.1` (current); when the current one reaches the cap it
// becomes the older one and the oldest generation goes, so disk use stays under twice the cap and a read returns the
// last `cap` bytes. A file is a run of frames: a 16-byte header (stream, length, absolute offset) and whole lines.
import { closeSync, fstatSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writevSync, type Stats } from 'node:fs';
import { join } from 'node:path';

export const STDOUT = 0;
export const STDERR = 1;
/** Lines ProcScope writes into the output itself (a restart's boundary). */
export const NOTE = 2;
export type StreamId = typeof STDOUT | typeof STDERR | typeof NOTE;

/** A run of whole lines from one stream (always ends with a newline). */
export interface Segment {
  stream: StreamId;
  data: Buffer;
}

const HEADER_BYTES = 16;
const NEWLINE_BYTE = 10;
const NEWLINE = Buffer.from('\n');

function generationPath(dir: string, id: string, generation: 0 | 1): string {
  return join(dir, `${id}.${generation}`);
}

interface Queued {
  stream: StreamId;
  parts: Buffer[];
  bytes: number;
}

/** Output of more than this in one event-loop turn is a flood: held back for `holdMs`, so that what the cap would drop anyway is never written. */
const FLOOD_BYTES = 64 * 1024;
/** Bytes of hold buffers all writers together may have; a writer that finds no room writes a flood at once. */
const MAX_HELD_BYTES = 8 * 1024 * 1024;
/** iovecs per writev (IOV_MAX is 1024). */
const MAX_PARTS_PER_FRAME = 512;
let heldBytes = 0;

/** Bytes of hold buffers all writers have now (at most MAX_HELD_BYTES). */
export function heldOutputBytes(): number {
  return heldBytes;
}

/**
 * Writes one process's output. Lines are written as they complete; an unfinished line waits in memory (bounded).
 *
 * With `holdMs` > 0 (the supervisor), a flood (more than FLOOD_BYTES in one event-loop turn) is held back: for `holdMs`,
 * its lines are copied into a hold buffer of this writer's (a ring the size of the cap and one more chunk, allocated
 * once for the flood), and lines that the cap would push out before anyone could read them are dropped from it (still
 * counted in the offsets), so a flood costs a write of the last `cap` bytes per `holdMs` rather than a write of every
 * byte and a rotation every `cap` bytes. Nothing else is kept past the call that brought it: the chunks given to
 * take() may be a buffer the caller reuses. `flush()` and `close()` write what is held.
 */
export class OutputWriter {
  private fd: number | undefined;
  /** Files were made for it (a process that never printed has none to remove). */
  hasFiles = false;
  private currentBytes = 0;
  private readonly pending: [Buffer | undefined, Buffer | undefined] = [undefined, undefined];
  private readonly header = Buffer.alloc(HEADER_BYTES);
  /** While a flood is held: its lines, each a part or two of `ring`, oldest first, starting at `ringStart`. */
  private queue: Queued[] = [];
  private queued = 0;
  private ring: Buffer | undefined;
  private ringStart = 0;
  /** Bytes dropped from the queue since the last write. */
  private dropped = 0;
  /** Bytes written at once in this event-loop turn. */
  private recent = 0;
  private turn: NodeJS.Immediate | undefined;
  private holdTimer: NodeJS.Timeout | undefined;
  /** In close(): the last lines are written, never held. */
  private closing = false;
  /** Bytes of whole lines written so far (the next frame's offset). */
  totalBytes = 0;

  /**
   * @param maxBytes the cap on what a read returns; the oldest lines go first.
   * @param maxLineBytes a line longer than this is cut there, so one endless line cannot grow without bound.
   * @param holdMs how long a flood may wait in memory (0: every line is written at once).
   */
  constructor(
    private readonly dir: string,
    readonly id: string,
    private maxBytes: number,
    private readonly maxLineBytes = 64 * 1024,
    private readonly holdMs = 0,
  ) {}

  /** A new cap, for lines written from now on. */
  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
  }

  /**
   * Takes a chunk as read from the pipe; returns the whole lines it completed (possibly undefined), for listeners.
   * The returned buffer may be `chunk` itself or a part of it: copy it to keep it.
   */
  append(stream: typeof STDOUT | typeof STDERR, chunk: Buffer): Buffer | undefined {
    const parts = this.take(stream, chunk);
    return parts === undefined ? undefined : parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /**
   * As append(), without joining the lines into one buffer: the rest of an unfinished line and the chunk's whole lines
   * (parts of `chunk` itself: copy them to keep them). The chunk is scanned once, from its end, and not kept.
   */
  take(stream: typeof STDOUT | typeof STDERR, chunk: Buffer): Buffer[] | undefined {
    const newline = chunk.lastIndexOf(NEWLINE_BYTE);
    const pending = this.pending[stream];
    if (newline === -1) {
      const joined = pending ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
      if (joined.length < this.maxLineBytes) {
        this.pending[stream] = joined;
        return undefined;
      }
      this.pending[stream] = undefined;
      const cut = [joined, NEWLINE];
      this.write(stream, cut);
      return cut;
    }
    const head = chunk.subarray(0, newline + 1);
    const lines = pending ? [pending, head] : [head];
    this.pending[stream] = newline + 1 < chunk.length ? Buffer.from(chunk.subarray(newline + 1)) : undefined;
    this.write(stream, lines);
    return lines;
  }

  /** The stream ended: keep its unterminated last line, if any, as a line of its own. */
  end(stream: typeof STDOUT | typeof STDERR): Buffer | undefined {
    const pending = this.pending[stream];
    if (!pending) return undefined;
    this.pending[stream] = undefined;
    const line = Buffer.concat([pending, NEWLINE]);
    this.write(stream, [line]);
    return line;
  }

  /** A line of ProcScope's own, such as a restart's boundary. */
  note(text: string): Buffer {
    const line = Buffer.from(`${text.replace(/\n/g, ' ')}\n`);
    this.write(NOTE, [line]);
    return line;
  }

  private write(stream: StreamId, parts: Buffer[]): void {
    let bytes = 0;
    for (const part of parts) bytes += part.length;
    if (bytes === 0) return;
    if (this.holdTimer !== undefined && this.hold(stream, parts, bytes)) return;
    this.writeFrames([{ stream, parts, bytes }]);
    if (this.holdMs <= 0 || this.closing) return;
    this.recent += bytes;
    if (this.recent >= FLOOD_BYTES && this.ringReady()) this.holdTimer = setTimeout(() => this.flush(), this.holdMs);
    this.turn ??= setImmediate(() => this.turnEnded());
  }

  /** A hold buffer for a flood: this writer's, or a new one if all writers' together leave room for it. */
  private ringReady(): boolean {
    const size = this.maxBytes + this.maxLineBytes + FLOOD_BYTES;
    if (this.ring && this.ring.length >= size) return true;
    this.releaseRing();
    if (heldBytes + size > MAX_HELD_BYTES) return false;
    this.ring = Buffer.allocUnsafeSlow(size);
    heldBytes += size;
    return true;
  }

  private releaseRing(): void {
    if (!this.ring) return;
    heldBytes -= this.ring.length;
    this.ring = undefined;
  }

  /**
   * Copies lines into the hold buffer, first dropping the held lines the cap pushes out with them (they are only
   * counted). False when they do not fit even so: then what is held is written, and they are to be written after it.
   */
  private hold(stream: StreamId, parts: Buffer[], bytes: number): boolean {
    const ring = this.ring as Buffer;
    while (this.queue.length > 0 && this.queued + bytes - this.queue[0].bytes >= this.maxBytes) {
      const gone = this.queue.shift() as Queued;
      this.queued -= gone.bytes;
      this.dropped += gone.bytes;
      this.ringStart = (this.ringStart + gone.bytes) % ring.length;
    }
    if (this.queued + bytes > ring.length) {
      this.flush();
      return false;
    }
    const at = (this.ringStart + this.queued) % ring.length;
    let end = at;
    for (const part of parts) {
      const first = Math.min(part.length, ring.length - end);
      part.copy(ring, end, 0, first);
      if (first < part.length) part.copy(ring, 0, first);
      end = (end + part.length) % ring.length;
    }
    const held = at + bytes <= ring.length ? [ring.subarray(at, at + bytes)] : [ring.subarray(at), ring.subarray(0, at + bytes - ring.length)];
    this.queue.push({ stream, parts: held, bytes });
    this.queued += bytes;
    return true;
  }

  /** The end of an event-loop turn in which lines were written: the next flood is counted afresh; a hold buffer no flood holds is let go. */
  private turnEnded(): void {
    this.turn = undefined;
    this.recent = 0;
    if (this.holdTimer === undefined) this.releaseRing();
  }

  /** Writes what is held now. */
  flush(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.recent = 0;
    // The ring is kept for a flood that goes on, and let go at the end of a turn without one.
    if (this.ring) this.turn ??= setImmediate(() => this.turnEnded());
    if (this.queue.length === 0) {
      // Everything held was dropped (by a line as long as the cap, written next): counted all the same.
      this.totalBytes += this.dropped;
      this.dropped = 0;
      return;
    }
    const queue = this.queue;
    this.queue = [];
    this.queued = 0;
    this.ringStart = 0;
    if (this.dropped > 0) this.replaceWith(queue);
    else this.writeFrames(queue);
  }

  /** Writes queued lines as frames (consecutive lines of a stream in one frame), rotating at the cap. */
  private writeFrames(queue: Queued[]): void {
    let i = 0;
    while (i < queue.length) {
      const stream = queue[i].stream;
      const room = Math.max(1, this.maxBytes - this.currentBytes);
      const iov: Buffer[] = [this.header];
      let bytes = 0;
      while (i < queue.length && queue[i].stream === stream && (bytes === 0 || (bytes < room && iov.length + queue[i].parts.length <= MAX_PARTS_PER_FRAME))) {
        for (const part of queue[i].parts) iov.push(part);
        bytes += queue[i].bytes;
        i++;
      }
      if (this.fd === undefined) {
        this.fd = openSync(generationPath(this.dir, this.id, 1), 'a', 0o600);
        this.hasFiles = true;
      }
      this.frame(this.fd, stream, bytes, iov);
      this.currentBytes += bytes;
      if (this.currentBytes >= this.maxBytes) this.rotate();
    }
  }

  private frame(fd: number, stream: StreamId, bytes: number, iov: Buffer[]): void {
    const header = this.header;
    header.writeUInt8(stream, 0);
    header.writeUInt32LE(bytes, 4);
    header.writeDoubleLE(this.totalBytes, 8);
    let written = writevSync(fd, iov);
    // A regular file takes it all at once; should it not, write the rest.
    const total = HEADER_BYTES + bytes;
    while (written < total) {
      const rest = Buffer.concat(iov).subarray(written);
      written += writevSync(fd, [rest]);
    }
    this.totalBytes += bytes;
  }

  /**
   * The queue holds at least `cap` bytes of the newest lines and lines before them were dropped: those lines alone
   * are what a read returns, so they replace both generations. Written aside first, then put in place of the older
   * one, then the current one goes: a reader at any moment sees either the old pair, or generations whose offsets do
   * not meet or whose older file changed under it (and looks again), or the new one.
   */
  private replaceWith(queue: Queued[]): void {
    // The current generation is there exactly when something was written to it since the last rotation.
    this.totalBytes += this.dropped;
    this.dropped = 0;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    const aside = join(this.dir, `${this.id}.new`);
    const fd = openSync(aside, 'w', 0o600);
    try {
      let i = 0;
      while (i < queue.length) {
        const stream = queue[i].stream;
        const iov: Buffer[] = [this.header];
        let bytes = 0;
        while (i < queue.length && queue[i].stream === stream && (bytes === 0 || iov.length + queue[i].parts.length <= MAX_PARTS_PER_FRAME)) {
          for (const part of queue[i].parts) iov.push(part);
          bytes += queue[i].bytes;
          i++;
        }
        this.frame(fd, stream, bytes, iov);
      }
    } finally {
      closeSync(fd);
    }
    // Never renamed over an existing file (see rotate()), and never a moment with neither generation there.
    const older = generationPath(this.dir, this.id, 0);
    const current = generationPath(this.dir, this.id, 1);
    if (this.currentBytes > 0) {
      unlinkIfThere(older); // the current generation alone: the newest lines
      renameSync(aside, older); // offsets that do not meet
      unlinkIfThere(current);
      this.currentBytes = 0;
    } else {
      renameSync(aside, current); // offsets that do not meet
      unlinkIfThere(older);
      this.currentBytes = this.maxBytes;
      this.rotate();
    }
  }

  /**
   * The current generation becomes the older one; the oldest goes. The oldest is unlinked first and the rename then
   * replaces nothing: on ext4 a rename over an existing file forces the source's delayed blocks to be allocated and
   * written back (auto_da_alloc), which cost about 1 ms per rotation, most of the supervisor's time under a flood (and
   * wrote every megabyte of output to the disk). Readers see the moment between the two steps and look again
   * (readOutput).
   */
  private rotate(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    const older = generationPath(this.dir, this.id, 0);
    unlinkIfThere(older);
    renameSync(generationPath(this.dir, this.id, 1), older);
    this.currentBytes = 0;
  }

  /** Stops writing (the process ended); what was written stays readable. */
  close(): void {
    this.closing = true;
    for (const stream of [STDOUT, STDERR] as const) this.end(stream);
    this.closing = false;
    this.flush();
    clearImmediate(this.turn);
    this.turn = undefined;
    this.releaseRing();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function unlinkIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Deletes a process's output files. */
export function removeOutput(dir: string, id: string): void {
  for (const generation of [0, 1] as const) unlinkIfThere(generationPath(dir, id, generation));
  unlinkIfThere(join(dir, `${id}.new`));
}

export interface StoredOutput {
  /** The kept lines, oldest first. */
  segments: Segment[];
  /** Bytes of output that came before the first kept line. */
  droppedBytes: number;
  /** Bytes of output in all. */
  totalBytes: number;
}

interface Frame {
  stream: StreamId;
  offset: number;
  data: Buffer;
}

/** Which file a name stood for when it was read (undefined: none); a rotation changes it. */
type FileIdentity = string | undefined;

function identity(stats: Stats): FileIdentity {
  return `${stats.ino}:${stats.ctimeMs}:${stats.size}`;
}

function identityOf(path: string): FileIdentity {
  try {
    return identity(statSync(path));
  } catch {
    return undefined;
  }
}

function readFrames(path: string, seen?: { identity: FileIdentity }): Frame[] {
  let bytes: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      if (seen) seen.identity = identity(fstatSync(fd));
      bytes = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    if (seen) seen.identity = undefined;
    return [];
  }
  const frames: Frame[] = [];
  let at = 0;
  // A frame being written as we read is incomplete at the end: it is left for the next read.
  while (at + HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(at + 4);
    if (at + HEADER_BYTES + length > bytes.length) break;
    frames.push({ stream: bytes.readUInt8(at) as StreamId, offset: bytes.readDoubleLE(at + 8), data: bytes.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length) });
    at += HEADER_BYTES + length;
  }
  return frames;
}

/** The last `maxBytes` (at most) of a process's output, line-whole, with each line's stream. */
export function readOutput(dir: string, id: string, maxBytes: number): StoredOutput {
  let frames: Frame[] = [];
  // The writer may rotate between our two reads (or be between the two steps of a rotation, the older file gone and the
  // current one not yet renamed): then the older file is no longer the one we read, or the offsets do not meet, and
  // another look gets it right.
  const olderPath = generationPath(dir, id, 0);
  for (let attempt = 0; attempt < 5; attempt++) {
    const seen: { identity: FileIdentity } = { identity: undefined };
    const older = readFrames(olderPath, seen);
    const current = readFrames(generationPath(dir, id, 1));
    const olderEnd = older.length ? older[older.length - 1].offset + older[older.length - 1].data.length : undefined;
    frames = [...older, ...current];
    const stable = identityOf(olderPath) === seen.identity;
    if (stable && (olderEnd === undefined || current.length === 0 || current[0].offset === olderEnd)) break;
  }
  if (frames.length === 0) return { segments: [], droppedBytes: 0, totalBytes: 0 };
  const last = frames[frames.length - 1];
  const totalBytes = last.offset + last.data.length;
  // Walk back from the newest frame to where the cap is reached; the frame there may keep only its last lines.
  let first = frames.length;
  let kept = 0;
  let firstData: Buffer | undefined;
  while (first > 0 && kept < maxBytes) {
    const data = frames[first - 1].data;
    if (kept + data.length > maxBytes) {
      const start = data.indexOf(NEWLINE_BYTE, data.length - (maxBytes - kept) - 1) + 1;
      if (start > 0 && start < data.length) {
        firstData = data.subarray(start);
        kept += firstData.length;
        first--;
      }
      break;
    }
    kept += data.length;
    first--;
  }
  const segments: Segment[] = [];
  let run: Buffer[] = [];
  let runStream: StreamId | undefined;
  for (let i = first; i < frames.length; i++) {
    const data = i === first && firstData ? firstData : frames[i].data;
    if (runStream !== frames[i].stream && run.length > 0) {
      segments.push({ stream: runStream as StreamId, data: Buffer.concat(run) });
      run = [];
    }
    runStream = frames[i].stream;
    run.push(data);
  }
  if (run.length > 0) segments.push({ stream: runStream as StreamId, data: Buffer.concat(run) });
  return { segments, droppedBytes: totalBytes - kept, totalBytes };
}

/** All kept output as text, the streams interleaved line by line in arrival order. */
export function outputText(output: StoredOutput): string {
  return Buffer.concat(output.segments.map((s) => s.data)).toString('utf8');
}
