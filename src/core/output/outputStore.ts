// A process's stdout and stderr, kept as whole lines in a bounded ring on disk: written by the supervisor, read by the host.
//
// On disk, not in memory: the supervisor stays small however many processes print (200 full 1 MB buffers would be 200 MB
// of RSS), output outlives a window reload and even a supervisor crash, and the host reads it without asking anyone.
// Each process has two generation files, `ID.0` (older) and `ID.1` (current); when the current one reaches the cap it
// becomes the older one and the oldest generation goes, so disk use stays under twice the cap and a read returns the
// last `cap` bytes. A file is a run of frames: a 16-byte header (stream, length, absolute offset) and whole lines.
import { closeSync, openSync, readFileSync, renameSync, rmSync, writevSync } from 'node:fs';
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

/** Writes one process's output. Lines are written as they complete; an unfinished line waits in memory (bounded). */
export class OutputWriter {
  private fd: number | undefined;
  private currentBytes = 0;
  private readonly pending: [Buffer | undefined, Buffer | undefined] = [undefined, undefined];
  private readonly header = Buffer.alloc(HEADER_BYTES);
  /** Bytes of whole lines written so far (the next frame's offset). */
  totalBytes = 0;

  /**
   * @param maxBytes the cap on what a read returns; the oldest lines go first.
   * @param maxLineBytes a line longer than this is cut there, so one endless line cannot grow without bound.
   */
  constructor(
    private readonly dir: string,
    readonly id: string,
    private maxBytes: number,
    private readonly maxLineBytes = 64 * 1024,
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
    const newline = chunk.lastIndexOf(NEWLINE_BYTE);
    const pending = this.pending[stream];
    if (newline === -1) {
      const joined = pending ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
      if (joined.length < this.maxLineBytes) {
        this.pending[stream] = joined;
        return undefined;
      }
      this.pending[stream] = undefined;
      const cut = Buffer.concat([joined, NEWLINE]);
      this.write(stream, cut);
      return cut;
    }
    const lines = pending ? Buffer.concat([pending, chunk.subarray(0, newline + 1)]) : chunk.subarray(0, newline + 1);
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
    this.write(stream, line);
    return line;
  }

  /** A line of ProcScope's own, such as a restart's boundary. */
  note(text: string): Buffer {
    const line = Buffer.from(`${text.replace(/\n/g, ' ')}\n`);
    this.write(NOTE, line);
    return line;
  }

  private write(stream: StreamId, data: Buffer): void {
    if (data.length === 0) return;
    if (this.fd === undefined) this.fd = openSync(generationPath(this.dir, this.id, 1), 'a', 0o600);
    const header = this.header;
    header.writeUInt8(stream, 0);
    header.writeUInt32LE(data.length, 4);
    header.writeDoubleLE(this.totalBytes, 8);
    writevSync(this.fd, [header, data]);
    this.totalBytes += data.length;
    this.currentBytes += data.length;
    if (this.currentBytes >= this.maxBytes) this.rotate();
  }

  /** The current generation becomes the older one; the oldest goes. */
  private rotate(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    renameSync(generationPath(this.dir, this.id, 1), generationPath(this.dir, this.id, 0));
    this.currentBytes = 0;
  }

  /** Stops writing (the process ended); what was written stays readable. */
  close(): void {
    for (const stream of [STDOUT, STDERR] as const) this.end(stream);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Deletes a process's output files. */
export function removeOutput(dir: string, id: string): void {
  for (const generation of [0, 1] as const) rmSync(generationPath(dir, id, generation), { force: true });
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

function readFrames(path: string): Frame[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
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
  // The writer may rotate between our two reads: then the offsets do not meet, and a second look gets it right.
  for (let attempt = 0; attempt < 5; attempt++) {
    const older = readFrames(generationPath(dir, id, 0));
    const current = readFrames(generationPath(dir, id, 1));
    const olderEnd = older.length ? older[older.length - 1].offset + older[older.length - 1].data.length : undefined;
    frames = [...older, ...current];
    if (olderEnd === undefined || current.length === 0 || current[0].offset === olderEnd) break;
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
