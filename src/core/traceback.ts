// Finds the `File "…", line N` frames of Python tracebacks in text, so each can link to its source line.
import { isAbsolute, resolve } from 'node:path';

export interface TracebackFrame {
  /** Zero-based line of the text the frame is on. */
  line: number;
  /** Character range of `File "…", line N` on that line. */
  start: number;
  end: number;
  /** The file, made absolute against `cwd`. */
  file: string;
  /** One-based line number in that file. */
  lineNumber: number;
}

const FRAME = /File "([^"]+)", line (\d+)/;

/** Every frame in `text` that names a real file (not `<string>`, `<frozen …>` or `<stdin>`). */
export function findTracebackFrames(text: string, cwd: string): TracebackFrame[] {
  const frames: TracebackFrame[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = FRAME.exec(lines[i]);
    if (!match || match[1].startsWith('<')) continue;
    frames.push({
      line: i,
      start: match.index,
      end: match.index + match[0].length,
      file: isAbsolute(match[1]) ? match[1] : resolve(cwd, match[1]),
      lineNumber: Number(match[2]),
    });
  }
  return frames;
}
