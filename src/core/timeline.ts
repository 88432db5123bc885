// What the timeline webview draws (SPEC §3 "A timeline"): every process of the session, live rows and the history of
// removed ones, as plain JSON bars in the tree's order; and the diff that keeps the page's copy current cheaply.
import { describeWait, stripControl } from './describe';
import type { PastRow, ReadonlyRow, Span } from './model/row';
import { exitDescription } from './status';

/** A bar's colour: running, exit 0, exit > 0, killed by a signal (exit < 0), or ended with no code known. */
export type Outcome = 'alive' | 'ok' | 'error' | 'signal' | 'ended';

/** An earlier run of a restarted row, drawn on the same line. */
export interface TimelineRun {
  from: number;
  to: number;
  outcome: Outcome;
  /** `exitcode 3`, `exitcode -15 (SIGTERM)`, `ended`. */
  state: string;
}

/** A wait on a multiprocessing synchronisation object; `to` null while it lasts. */
export interface TimelineWait {
  from: number;
  to: number | null;
  /** `Lock`, or for the current wait `Lock (bank.py:12) held by Process-2`. */
  label: string;
}

export interface TimelineBar {
  id: string;
  name: string;
  parentId: string | null;
  /** Nesting level, as in the tree: 0 for a top-level row. */
  depth: number;
  /** The current (last) run: from its start to its exit, `to` null while it runs. */
  from: number;
  to: number | null;
  outcome: Outcome;
  /** `alive`, or how it ended in the tree's words: `exitcode 0`, `exitcode -9 (SIGKILL)`, `ended`. */
  state: string;
  daemon: boolean;
  /** Its row was removed (Clear Exited, or folded into `+N ended`): only the timeline still has it. */
  removed: boolean;
  /** Earlier runs, oldest first (a restarted row). */
  runs: TimelineRun[];
  waits: TimelineWait[];
  /** When its readiness probe passed (current run). */
  readyAt: number | null;
  deadlocked: boolean;
}

/** What the model is read from: ProcessState has it all. */
export interface TimelineSource {
  /** Top-level rows, in the order they were created. */
  roots(): readonly ReadonlyRow[];
  get(id: string): ReadonlyRow | undefined;
  history(): readonly PastRow[];
}

/** Bars of removed rows, which never change, built once (keyed by the history entry itself). */
export type PastBarCache = WeakMap<PastRow, TimelineBar>;

export function outcomeOf(alive: boolean, exitCode: number | null): Outcome {
  if (alive) return 'alive';
  if (exitCode === null) return 'ended';
  if (exitCode === 0) return 'ok';
  return exitCode > 0 ? 'error' : 'signal';
}

function runsOf(spans: readonly Span[]): TimelineRun[] {
  return spans.map((span) => {
    const code = typeof span.label === 'number' ? span.label : null;
    return { from: span.from, to: span.to ?? span.from, outcome: outcomeOf(false, code), state: exitDescription(code) };
  });
}

function waitsOf(spans: readonly Span[]): TimelineWait[] {
  return spans.map((span) => ({ from: span.from, to: span.to ?? span.from, label: stripControl(String(span.label ?? 'wait'), 64) }));
}

function liveBar(row: ReadonlyRow, depth: number): TimelineBar {
  const waits = waitsOf(row.waits);
  if (row.alive && row.waitingOn) waits.push({ from: row.waitingSince ?? row.startedAt, to: null, label: describeWait(row.waitingOn) });
  return {
    id: row.id,
    name: stripControl(row.name, 256),
    parentId: row.parentId,
    depth,
    from: row.startedAt,
    to: row.alive ? null : (row.endedAt ?? row.startedAt),
    outcome: outcomeOf(row.alive, row.exitCode),
    state: row.alive ? 'alive' : exitDescription(row.exitCode),
    daemon: row.daemon,
    removed: false,
    runs: runsOf(row.runs),
    waits,
    readyAt: row.readyAt ?? null,
    deadlocked: row.deadlocked && row.alive,
  };
}

function pastBar(row: PastRow, depth: number, cache: PastBarCache | undefined): TimelineBar {
  const cached = cache?.get(row);
  if (cached && cached.depth === depth) return cached;
  const bar: TimelineBar = {
    id: row.id,
    name: stripControl(row.name, 256),
    parentId: row.parentId,
    depth,
    from: row.startedAt,
    to: row.endedAt ?? row.startedAt,
    outcome: outcomeOf(false, row.exitCode),
    state: exitDescription(row.exitCode),
    daemon: row.daemon,
    removed: true,
    runs: runsOf(row.runs),
    waits: waitsOf(row.waits),
    readyAt: row.readyAt ?? null,
    deadlocked: false,
  };
  cache?.set(row, bar);
  return bar;
}

/** When a row first started (its first run, for a restarted row): what removed rows are placed by among their siblings. */
function firstStart(row: { startedAt: number; runs: readonly Span[] }): number {
  return row.runs.length > 0 ? row.runs[0].from : row.startedAt;
}

/**
 * The bars of every process of the session, nested like the tree: parents before children, live rows in the tree's
 * order (`first`: top-level rows the tree shows first, the workspace definitions' runs), removed rows under the parent
 * they had (or at the top level) among their siblings by start time.
 */
export function timelineModel(source: TimelineSource, first: readonly string[] = [], cache?: PastBarCache): TimelineBar[] {
  const past = source.history();
  const pastIds = new Set(past.map((row) => row.id));
  const removedUnder = new Map<string | null, PastRow[]>();
  for (const row of past) {
    const parent = row.parentId !== null && (source.get(row.parentId) || pastIds.has(row.parentId)) ? row.parentId : null;
    const siblings = removedUnder.get(parent);
    if (siblings) siblings.push(row);
    else removedUnder.set(parent, [row]);
  }
  // History is in the order rows were removed (children before their parent): siblings go by start time.
  for (const siblings of removedUnder.values()) siblings.sort((a, b) => firstStart(a) - firstStart(b));

  const bars: TimelineBar[] = [];
  const seen = new Set<string>();
  const siblingsOf = (live: readonly ReadonlyRow[], parentId: string | null, depth: number): void => {
    const removed = removedUnder.get(parentId) ?? [];
    let next = 0;
    const emitRemoved = (row: PastRow) => {
      if (seen.has(row.id)) return;
      seen.add(row.id);
      bars.push(pastBar(row, depth, cache));
      siblingsOf([], row.id, depth + 1);
    };
    for (const row of live) {
      while (next < removed.length && firstStart(removed[next]) < firstStart(row)) emitRemoved(removed[next++]);
      if (seen.has(row.id)) continue;
      seen.add(row.id);
      bars.push(liveBar(row, depth));
      const children: ReadonlyRow[] = [];
      for (const id of row.childIds) {
        const child = source.get(id);
        if (child) children.push(child);
      }
      siblingsOf(children, row.id, depth + 1);
    }
    while (next < removed.length) emitRemoved(removed[next++]);
  };

  const roots = source.roots();
  const firstRows = first.map((id) => source.get(id)).filter((row): row is ReadonlyRow => row !== undefined && row.parentId === null);
  const leading = new Set(firstRows.map((row) => row.id));
  siblingsOf([...firstRows, ...roots.filter((row) => !leading.has(row.id))], null, 0);
  return bars;
}

/** A message to the page: bars that are new or changed, ids that went, and the order when it changed. */
export interface TimelineUpdate {
  type: 'update';
  /** The extension host's clock when sent: the page draws live bars up to its own clock, corrected by this. */
  now: number;
  /** The page drops what it has first (it was just opened, or reloaded). */
  reset: boolean;
  bars: TimelineBar[];
  removed: string[];
  /** Every id, top to bottom; only when it changed. */
  order?: string[];
}

/** Turns successive models into updates that carry only what changed since the last one sent. */
export class TimelineFeed {
  private readonly cache: PastBarCache = new WeakMap();
  /** Per id: the bar object sent (a removed row's is reused, so the same object means unchanged) and its JSON. */
  private sent = new Map<string, { bar: TimelineBar; json: string }>();
  private sentOrder = '';
  private resetNext = true;

  /** The next update sends everything (the page starts over). */
  reset(): void {
    this.sent = new Map();
    this.sentOrder = '';
    this.resetNext = true;
  }

  /** The update that brings the page to the source's current state; undefined when nothing changed. */
  update(source: TimelineSource, first: readonly string[] = [], now = Date.now()): TimelineUpdate | undefined {
    const model = timelineModel(source, first, this.cache);
    const changed: TimelineBar[] = [];
    const next = new Map<string, { bar: TimelineBar; json: string }>();
    for (const bar of model) {
      const before = this.sent.get(bar.id);
      if (before && before.bar === bar) {
        next.set(bar.id, before);
        continue;
      }
      const json = JSON.stringify(bar);
      if (before?.json !== json) changed.push(bar);
      next.set(bar.id, { bar, json });
    }
    const removed = [...this.sent.keys()].filter((id) => !next.has(id));
    const ids = model.map((bar) => bar.id);
    const order = ids.join('\n');
    const reset = this.resetNext;
    this.sent = next;
    if (!reset && changed.length === 0 && removed.length === 0 && order === this.sentOrder) return undefined;
    const update: TimelineUpdate = { type: 'update', now, reset, bars: changed, removed };
    if (order !== this.sentOrder || reset) update.order = ids;
    this.sentOrder = order;
    this.resetNext = false;
    return update;
  }
}
