// The output benchmarks' producer: text lines to stdout as fast as a pipe takes them, `mb` megabytes or for `seconds`.
// Usage: node out/bench/produceLines.js mb|seconds N
import { writeSync } from 'node:fs';

const [mode = 'mb', amount = '500'] = process.argv.slice(2);
const BLOCK_BYTES = 1_000_000;

// Lines of 12 to 111 bytes ("line 123 xxxx…\n"), like a chatty program's log.
let text = '';
for (let i = 0; text.length < BLOCK_BYTES; i++) text += `line ${i} ${'x'.repeat(i % 100)}\n`;
const block = Buffer.from(text.slice(0, text.lastIndexOf('\n', BLOCK_BYTES - 1) + 1).padEnd(BLOCK_BYTES - 1, 'y') + '\n');

function writeAll(buffer: Buffer): void {
  for (let offset = 0; offset < buffer.length; ) offset += writeSync(1, buffer, offset);
}

if (mode === 'seconds') {
  const end = Date.now() + Number(amount) * 1000;
  while (Date.now() < end) writeAll(block);
} else {
  for (let i = 0; i < Number(amount); i++) writeAll(block);
}
