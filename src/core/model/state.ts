// The reducer: the one owner of the process state. Events go in (apply), readonly rows and snapshots come out.
//
// The supervisor and the host each hold one, fed the same events in the same order, so they agree. Nothing outside
// this file mutates a row.
import { Emitter, type Event } from '../event';
import type { ProcessSnapshot, ProcessSpec } from '../types';
import type { ProcessEvent } from './events';
import { newRow, pastOf, snapshotOf, type PastRow, type ReadonlyRow, type Row, type StateImage } from './row';

/** Rows the timeline remembers after they were removed. */
const MAX_PAST = 5000;
/** Earlier runs and past waits kept per row. */
const MAX_SPANS = 100;

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

function idNumber(id: string): number {
  const n = Number(id.slice(1));
  return Number.isSafeInteger(n) ? n : 0;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** A spec of the state's own (a launch costs a copy of a few fields, not a structured clone: ~25 µs a start). */
function copySpec(spec: ProcessSpec): ProcessSpec {
  return { ...spec, args: spec.args && [...spec.args], env: spec.env && { ...spec.env } };
}

export class ProcessState {
  private rows = new Map<string, Row>();
  /** Live rows by pid: what a pid seen in the OS table or in a report refers to. */
  private livePids = new Map<number, string>();
  private launchCount = 0;
  private lastId = 0;
  private past: PastRow[] = [];
  private readonly pending = new Set<string>();
  private flushScheduled = false;
  private readonly changeEmitter = new Emitter<ReadonlySet<string>>();
  private readonly applyEmitter = new Emitter<ProcessEvent>();

  /** Batched per tick: the ids whose row changed; a new or removed row puts its parent's id in, or '' for the top level. */
  readonly onDidChange: Event<ReadonlySet<string>> = this.changeEmitter.event;
  /** Every event, right after it was applied, in order. */
  readonly onDidApply: Event<ProcessEvent> = this.applyEmitter.event;

  // ---- reading ----

  get(id: string): ReadonlyRow | undefined {
    return this.rows.get(id);
  }

  /** Every row, in the order they were first created. */
  all(): IterableIterator<ReadonlyRow> {
    return this.rows.values();
  }

  roots(): ReadonlyRow[] {
    const roots: ReadonlyRow[] = [];
    for (const row of this.rows.values()) if (row.parentId === null) roots.push(row);
    return roots;
  }

  children(parentId: string | undefined): ReadonlyRow[] {
    if (parentId === undefined) return this.roots();
    const parent = this.rows.get(parentId);
    if (!parent) return [];
    const children: ReadonlyRow[] = [];
    for (const id of parent.childIds) {
      const child = this.rows.get(id);
      if (child) children.push(child);
    }
    return children;
  }

  /** Everything below the row, nearest first. */
  subtree(id: string): ReadonlyRow[] {
    const found: ReadonlyRow[] = [];
    const queue = [...(this.rows.get(id)?.childIds ?? [])];
    for (let i = 0; i < queue.length; i++) {
      const row = this.rows.get(queue[i]);
      if (!row) continue;
      found.push(row);
      queue.push(...row.childIds);
    }
    return found;
  }

  /** Is this row, or anything below it, still running? */
  treeAlive(id: string): boolean {
    const row = this.rows.get(id);
    if (!row) return false;
    if (row.alive) return true;
    return row.childIds.some((child) => this.treeAlive(child));
  }

  /** The live row with this pid, if any. */
  liveByPid(pid: number): ReadonlyRow | undefined {
    const id = this.livePids.get(pid);
    return id === undefined ? undefined : this.rows.get(id);
  }

  get liveCount(): number {
    return this.livePids.size;
  }

  get size(): number {
    return this.rows.size;
  }

  /** How many processes were launched (restarts not counted): the N of Process-N counts these. */
  get launches(): number {
    return this.launchCount;
  }

  /** Rows removed earlier, oldest first, for the timeline. */
  history(): readonly PastRow[] {
    return this.past;
  }

  snapshot(id: string): ProcessSnapshot | undefined {
    const row = this.rows.get(id);
    return row ? snapshotOf(row) : undefined;
  }

  snapshots(): ProcessSnapshot[] {
    return [...this.rows.values()].map(snapshotOf);
  }

  /** A fresh row id. Only the producer (the supervisor) allocates; a copy learns the ids from the events. */
  allocateId(): string {
    return `p${++this.lastId}`;
  }

  /** The whole state as plain data (a deep copy). */
  image(): StateImage {
    return clone({ rows: [...this.rows.values()], launches: this.launchCount, lastId: this.lastId, past: this.past });
  }

  // ---- the reducer ----

  apply(event: ProcessEvent): void {
    this.reduce(event);
    this.applyEmitter.fire(event);
  }

  private reduce(event: ProcessEvent): void {
    switch (event.type) {
      case 'launched': {
        this.seeId(event.id);
        const existing = event.restart ? this.rows.get(event.id) : undefined;
        const fields = {
          pid: event.pid,
          ppid: event.ppid,
          startTime: event.startTime,
          alive: true,
          exitCode: null,
          startedAt: event.at,
          endedAt: null,
          stoppedByRequest: false,
          command: event.command,
          args: [...event.args],
          cwd: event.cwd,
          daemon: event.daemon,
          instrumented: event.instrumented,
          settled: false,
          note: event.note,
          definition: event.definition,
          folder: event.folder,
          spec: copySpec(event.spec),
          outputDir: event.outputDir,
        };
        if (existing) {
          this.unlive(existing);
          for (const childId of existing.childIds) this.removeTree(childId);
          pushBounded(existing.runs, { from: existing.startedAt, to: existing.endedAt, label: existing.exitCode }, MAX_SPANS);
          Object.assign(existing, fields, {
            name: event.name,
            lastExitCode: existing.exitCode,
            restarts: existing.restarts + 1,
            childIds: [],
            role: undefined,
            ready: undefined,
            readyAt: undefined,
            phase: undefined,
            ports: undefined,
            cpuPercent: undefined,
            rssBytes: undefined,
            waitingOn: undefined,
            waitingSince: undefined,
            deadlocked: false,
            childCounter: 0,
            foldedEnded: 0,
          } satisfies Partial<Row>);
          this.livePids.set(event.pid, existing.id);
          this.changed(existing.id);
        } else {
          if (!event.restart) this.launchCount++;
          const row = newRow({ id: event.id, name: event.name, kind: 'launched', rootId: event.id, ...fields });
          this.rows.set(row.id, row);
          this.livePids.set(event.pid, row.id);
          this.changed('');
        }
        return;
      }
      case 'exited': {
        const row = this.rows.get(event.id);
        if (!row) return;
        if (row.alive) {
          row.alive = false;
          row.endedAt = event.at;
          row.cpuPercent = undefined;
          if (row.waitingOn) this.endWait(row, event.at);
          row.waitingOn = undefined;
          this.unlive(row);
          row.stoppedByRequest = event.byRequest === true;
          if (event.exitCode !== null) row.exitCode = event.exitCode;
        } else if (event.exitCode !== null && row.exitCode === null) {
          row.exitCode = event.exitCode; // the parent's word came after the OS showed it gone
        } else {
          return;
        }
        this.changed(row.id);
        return;
      }
      case 'settled': {
        const row = this.rows.get(event.id);
        if (row) row.settled = true;
        return;
      }
      case 'identified': {
        // Nothing shown changes: no change is fired.
        const row = this.rows.get(event.id);
        if (row?.alive && !row.startTime) row.startTime = event.startTime;
        return;
      }
      case 'discovered': {
        this.seeId(event.id);
        const parent = this.rows.get(event.parentId);
        if (!parent || this.rows.has(event.id)) return;
        const row = newRow({
          id: event.id,
          name: event.name,
          kind: 'discovered',
          rootId: parent.rootId,
          startedAt: event.at,
          parentId: parent.id,
          pid: event.pid,
          ppid: event.ppid,
          startTime: event.startTime,
          alive: true,
          command: event.command,
          args: [...event.args],
          role: event.role,
          escaped: event.escaped === true,
        });
        this.rows.set(row.id, row);
        parent.childIds.push(row.id);
        parent.childCounter++;
        this.livePids.set(event.pid, row.id);
        this.changed(parent.id);
        return;
      }
      case 'command': {
        const row = this.rows.get(event.id);
        if (!row) return;
        row.command = event.command;
        row.args = [...event.args];
        this.changed(row.id);
        return;
      }
      case 'pythonStarted': {
        this.seeId(event.id);
        const parent = this.rows.get(event.parentId);
        if (!parent) return;
        let row = this.rows.get(event.id);
        if (row) {
          if (row.parentId !== parent.id) this.move(row, parent);
        } else {
          const root = this.rows.get(parent.rootId);
          row = newRow({
            id: event.id,
            name: event.name,
            kind: 'python',
            rootId: parent.rootId,
            startedAt: event.at,
            parentId: parent.id,
            alive: true,
            // A forked child runs its parent's command line; the real one is read from the OS while the child lives.
            command: parent.command,
            args: [...parent.args],
            cwd: root?.cwd ?? null,
          });
          this.rows.set(row.id, row);
          parent.childIds.push(row.id);
          this.changed(parent.id);
        }
        Object.assign(row, {
          kind: 'python',
          name: event.name,
          pid: event.pid,
          ppid: event.ppid,
          daemon: event.daemon,
          startMethod: event.method,
          // What it is now is known: a Process (forked by the forkserver, it carried the forkserver's argv when first seen).
          role: event.role,
          osParentPid: event.osParentPid,
          startTime: event.startTime ?? row.startTime,
          cwd: this.rows.get(row.rootId)?.cwd ?? row.cwd,
        } satisfies Partial<Row>);
        if (row.alive) this.livePids.set(event.pid, row.id);
        this.changed(row.id);
        return;
      }
      case 'moved': {
        const row = this.rows.get(event.id);
        const parent = this.rows.get(event.parentId);
        if (row && parent && row.parentId !== parent.id && row.id !== parent.id) this.move(row, parent);
        return;
      }
      case 'role': {
        const row = this.rows.get(event.id);
        if (!row || row.role === event.role) return;
        row.role = event.role;
        this.changed(row.id);
        return;
      }
      case 'sampled': {
        for (const sample of event.samples) {
          const row = this.rows.get(sample.id);
          if (!row || !row.alive) continue;
          let changed = false;
          if (sample.cpuPercent !== undefined && sample.cpuPercent !== row.cpuPercent) {
            row.cpuPercent = sample.cpuPercent;
            changed = true;
          }
          if (sample.rssBytes !== undefined && sample.rssBytes !== row.rssBytes) {
            row.rssBytes = sample.rssBytes;
            changed = true;
          }
          if (sample.ports !== undefined && !samePorts(sample.ports, row.ports)) {
            row.ports = [...sample.ports];
            changed = true;
          }
          if (changed) this.changed(row.id);
        }
        return;
      }
      case 'folded': {
        const parent = this.rows.get(event.parentId);
        if (!parent) return;
        let folded = 0;
        for (const id of event.ids) {
          const row = this.rows.get(id);
          if (!row || row.parentId !== parent.id) continue;
          this.removeTree(id);
          folded++;
        }
        parent.foldedEnded += folded;
        this.changed(parent.id);
        return;
      }
      case 'removed': {
        for (const id of event.ids) {
          const row = this.rows.get(id);
          if (!row) continue;
          this.changed(row.parentId ?? '');
          this.removeTree(id);
        }
        return;
      }
      case 'record':
        return; // the log's, not the state's
      case 'ready': {
        const row = this.rows.get(event.id);
        if (!row) return;
        row.ready = event.ready;
        if (event.ready) row.readyAt = event.at;
        this.changed(row.id);
        return;
      }
      case 'phase': {
        const row = this.rows.get(event.id);
        if (!row || row.phase === event.phase) return;
        row.phase = event.phase;
        this.changed(row.id);
        return;
      }
      case 'wait': {
        const row = this.rows.get(event.id);
        if (!row || !row.alive) return;
        if (row.waitingOn) this.endWait(row, event.at);
        row.waitingOn = event.waitingOn;
        row.waitingSince = event.waitingOn ? event.at : undefined;
        this.changed(row.id);
        return;
      }
      case 'deadlock': {
        const marked = new Set(event.ids);
        for (const row of this.rows.values()) {
          const now = marked.has(row.id);
          if (row.deadlocked !== now) {
            row.deadlocked = now;
            this.changed(row.id);
          }
        }
        return;
      }
      case 'snapshot': {
        const image = clone(event.image);
        this.rows = new Map(image.rows.map((row) => [row.id, row]));
        this.livePids = new Map();
        for (const row of this.rows.values()) if (row.alive && row.pid !== null) this.livePids.set(row.pid, row.id);
        this.launchCount = image.launches;
        this.lastId = Math.max(this.lastId, image.lastId);
        this.past = image.past;
        this.changed('');
        return;
      }
    }
  }

  private seeId(id: string): void {
    this.lastId = Math.max(this.lastId, idNumber(id));
  }

  private unlive(row: Row): void {
    if (row.pid !== null && this.livePids.get(row.pid) === row.id) this.livePids.delete(row.pid);
  }

  private endWait(row: Row, at: number): void {
    pushBounded(row.waits, { from: row.waitingSince ?? at, to: at, label: row.waitingOn?.kind ?? null }, MAX_SPANS);
  }

  private move(row: Row, parent: Row): void {
    const old = row.parentId === null ? undefined : this.rows.get(row.parentId);
    if (old) {
      old.childIds.splice(old.childIds.indexOf(row.id), 1);
      this.changed(old.id);
    }
    row.parentId = parent.id;
    parent.childIds.push(row.id);
    this.changed(parent.id);
  }

  /** Drops a row and everything below it, remembering them for the timeline. */
  private removeTree(id: string): void {
    const row = this.rows.get(id);
    if (!row) return;
    for (const childId of [...row.childIds]) this.removeTree(childId);
    const parent = row.parentId === null ? undefined : this.rows.get(row.parentId);
    if (parent) {
      const at = parent.childIds.indexOf(id);
      if (at >= 0) parent.childIds.splice(at, 1);
    }
    this.unlive(row);
    this.rows.delete(id);
    pushBounded(this.past, pastOf(row), MAX_PAST);
  }

  private changed(id: string): void {
    this.pending.add(id);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      const ids = new Set(this.pending);
      this.pending.clear();
      this.changeEmitter.fire(ids);
    });
  }

  dispose(): void {
    this.changeEmitter.dispose();
    this.applyEmitter.dispose();
  }
}

function samePorts(a: readonly number[], b: readonly number[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((port, i) => port === b[i]);
}
