// Context for the supervisor's RSS bar: what reading 200 children's pipes leaves in one Node process, by the way the
// reads are buffered. Run by bench/supervisorRss.ts as `node out/bench/pipeReadMemory.js MODE COUNT LINES LINE`, with
// the supervisor's Node options and malloc settings; prints one JSON line: { anon, rss (bytes, 3 s after the last
// byte, a full collection 2.5 s after it), readMs }. MODE:
//   idle    nothing started, nothing read: the floor of any Node process run so
//   node    Node's own reads ('data' events): a fresh 64 KB block per read, shrunk to what was read
//   reused  the supervisor's reads (src/core/supervisor/pipeReader.ts): each pipe's handle taken over by a socket whose
//           `onread` reads into one 64 KB buffer, used at once
//   fresh   the same, with a new 64 KB buffer for every read, each kept until the end of the event-loop turn
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type * as net from 'node:net';
import { READ_BYTES, readPipe } from '../src/core/supervisor/pipeReader';

const [mode, countText, linesText, line] = process.argv.slice(2);
const count = mode === 'idle' ? 0 : Number(countText);
const lines = Number(linesText);
const expected = count * lines * (line.length + 1);
const statusField = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) * 1024;

let total = 0;
let last = 0;
const held: Buffer[] = [];
let release: NodeJS.Immediate | undefined;
function take(view: Buffer, keep: boolean): void {
  total += view.length;
  last ^= view[view.length - 1];
  if (!keep) return;
  held.push(view);
  release ??= setImmediate(() => {
    release = undefined;
    held.length = 0;
  });
}

const children: ChildProcess[] = [];
const started = performance.now();
for (let i = 0; i < count; i++) {
  const child = spawn('sh', ['-c', `yes '${line}' | head -n ${lines}; exec sleep 60`], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  children.push(child);
  const stdout = child.stdout as net.Socket;
  if (mode === 'node') stdout.on('data', (chunk: Buffer) => take(chunk, false));
  else if (mode === 'reused') void readPipe(stdout, { data: (chunk) => take(chunk, false), end: () => undefined });
  else void readPipe(stdout, { data: (chunk) => take(chunk, true), end: () => undefined }, () => Buffer.allocUnsafeSlow(READ_BYTES));
}
const end = () => {
  for (const child of children) {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // gone
    }
  }
};
process.on('exit', end);
const deadline = Date.now() + 30_000;
const timer = setInterval(() => {
  if (total < expected && Date.now() < deadline) return;
  clearInterval(timer);
  const readMs = performance.now() - started;
  // A full collection after 2.5 s, as the supervisor makes one once its RSS goes quiet; its buffers are freed behind it.
  setTimeout(() => (globalThis as { gc?: () => void }).gc?.(), 2500);
  setTimeout(() => {
    console.log(JSON.stringify({ mode, anon: statusField('RssAnon'), rss: statusField('VmRSS'), readMs, complete: total === expected, last }));
    process.exit(0);
  }, 3000);
}, 20);
