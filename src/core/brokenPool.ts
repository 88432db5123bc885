// Ties a `BrokenProcessPool` in a process's output to the pool worker whose death caused it, so the line can lead to its row.
import type { ReadonlyRow } from './model/row';
import { endedInWords } from './status';

export interface BrokenPoolLink {
  /** Zero-based line of the text the exception is on. */
  line: number;
  /** Character range of the exception's name on that line. */
  start: number;
  end: number;
  /** The dead worker's row. */
  worker: ReadonlyRow;
  /** Names the worker, its pid and how it ended. */
  tooltip: string;
}

/** The exception line of a traceback (`concurrent.futures.process.BrokenProcessPool: …`), not a mention in prose. */
const EXCEPTION_LINE = /^((?:[\w.]+\.)?BrokenProcessPool)(?::|$)/;

/** A worker that ended other than by its pool shutting it down (exit 0) or terminating it (-15): it broke its pool. */
function diedUnderPool(row: ReadonlyRow): boolean {
  return row.role === 'pool-worker' && !row.alive && row.exitCode !== null && row.exitCode !== 0 && row.exitCode !== -15;
}

/**
 * Every `BrokenProcessPool` exception line in `text`, linked to the worker that died among `rows` (the subtree of the
 * process whose output it is). The n-th exception goes with the n-th worker to die; later ones with the last.
 */
export function findBrokenPoolLinks(text: string, rows: readonly ReadonlyRow[]): BrokenPoolLink[] {
  const dead = rows.filter(diedUnderPool).sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
  if (dead.length === 0) return [];
  const links: BrokenPoolLink[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = EXCEPTION_LINE.exec(lines[i]);
    if (!match) continue;
    const worker = dead[Math.min(links.length, dead.length - 1)];
    links.push({
      line: i,
      start: 0,
      end: match[1].length,
      worker,
      tooltip: `Caused by pool worker ${worker.name} (pid ${worker.pid ?? '?'}), which ${endedInWords(worker.exitCode)}: reveal its row`,
    });
  }
  return links;
}
