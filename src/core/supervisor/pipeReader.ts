// Reads a child's stdout or stderr into one buffer shared by every pipe of the supervisor, reused for every read.
//
// Node's own reads ('data' events) allocate a fresh 64 KB block a read and shrink it to what was read: with 200 children
// printing at once, those blocks of every size and lifetime fragment the malloc heap, and the supervisor's RSS stays
// tens of megabytes above what it holds (bench/pipeReadMemory.ts shows it on a bare Node process). Here the pipe's
// handle is taken over by a socket that reads with `onread` into SHARED: a read is handled in its callback and nothing
// of it is kept unless the listener copies it (OutputWriter keeps only unfinished lines and held floods, in buffers of
// its own).
import * as net from 'node:net';

/** A read fills at most this much; libuv's own reads are this size. */
export const READ_BYTES = 64 * 1024;
const SHARED = Buffer.allocUnsafeSlow(READ_BYTES);

export interface PipeListener {
  /** Bytes read: a view of the shared buffer, valid only during the call. */
  data(chunk: Buffer): void;
  /** End of stream, or the pipe failed: called once, before the promise resolves. */
  end(): void;
}

/** Whatever the original socket read before the takeover (nothing, when taken over right after 'spawn'). */
function handOver(stream: net.Socket, listener: PipeListener): void {
  for (let early = stream.read() as Buffer | null; early !== null; early = stream.read() as Buffer | null) listener.data(early);
}

/**
 * Reads `stream` (a child's pipe, not read from yet) until it ends, or fails; resolves then.
 * `buffer`: where reads go (a benchmark compares a fresh buffer a read).
 */
export function readPipe(stream: net.Socket, listener: PipeListener, buffer: Buffer | (() => Buffer) = SHARED): Promise<void> {
  const internal = stream as unknown as { _handle: { readStop(): number; reading: boolean } | null };
  const handle = internal._handle;
  if (!handle) {
    // Already closed (the pipe ended before it was taken over): what was read is in the socket.
    handOver(stream, listener);
    listener.end();
    return Promise.resolve();
  }
  handle.readStop();
  handle.reading = false;
  internal._handle = null;
  handOver(stream, listener);
  stream.destroy();
  const reader = new net.Socket({
    handle,
    readable: true,
    writable: false,
    onread: { buffer, callback: (bytes: number, buffer: Uint8Array) => void listener.data(Buffer.from(buffer.buffer, buffer.byteOffset, bytes)) },
  } as net.SocketConstructorOpts);
  return new Promise((resolve) => {
    // The end of the stream is the end of the output: the socket's close comes a phase of the event loop later.
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      listener.end();
      resolve();
    };
    reader.on('end', end);
    reader.on('error', () => undefined); // a failed read ends the stream as EOF does: 'close' follows, without 'end'
    reader.on('close', end);
  });
}
