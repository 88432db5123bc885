// The rows of the table: every entry by id and the live ones by pid, their nesting, and batched change notices.
import { Entry } from './entry';
import { Emitter } from './event';

export interface Ended {
  entry: Entry;
  /** False when only a late exit code was filled in. */
  wasAlive: boolean;
}

export class ProcessModel {
  private readonly entries = new Map<string, Entry>();
  /** Live entries by pid: what a pid seen in the OS table or a report refers to. */
  private readonly live = new Map<number, Entry>();
  private idCounter = 0;
  private readonly pending = new Set<string>();
  private flushScheduled = false;
  private readonly changeEmitter = new Emitter<ReadonlySet<string>>();
  private readonly endEmitter = new Emitter<Ended>();
  /** Batched per tick: the ids whose row changed; a new or removed row puts its parent's id in, or '' for the top level. */
  readonly onDidChange = this.changeEmitter.event;
  /** An entry ended, or learnt its exit code late. */
  readonly onDidEnd = this.endEmitter.event;

  nextId(): string {
    return `p${++this.idCounter}`;
  }

  get(id: string): Entry | undefined {
    return this.entries.get(id);
  }

  all(): IterableIterator<Entry> {
    return this.entries.values();
  }

  roots(): Entry[] {
    return [...this.entries.values()].filter((e) => e.parentId === null);
  }

  children(parentId: string | undefined): Entry[] {
    if (parentId === undefined) return this.roots();
    const parent = this.entries.get(parentId);
    return parent ? parent.childIds.map((id) => this.entries.get(id)).filter((e): e is Entry => e !== undefined) : [];
  }

  /** Everything below `entry`. */
  subtree(entry: Entry): Entry[] {
    const found: Entry[] = [];
    const stack = [...entry.childIds];
    while (stack.length > 0) {
      const child = this.entries.get(stack.pop() as string);
      if (!child) continue;
      found.push(child);
      stack.push(...child.childIds);
    }
    return found;
  }

  /** Is this entry or anything below it still running? */
  treeAlive(entry: Entry): boolean {
    return entry.alive || entry.childIds.some((childId) => {
      const child = this.entries.get(childId);
      return child !== undefined && this.treeAlive(child);
    });
  }

  /** The live entry of `root`'s tree with this pid, if any. */
  liveEntry(root: Entry, pid: number): Entry | undefined {
    const entry = this.live.get(pid);
    return entry && entry.rootId === root.id ? entry : undefined;
  }

  get liveCount(): number {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.alive) count++;
    return count;
  }

  /** A new top-level row. */
  addRoot(entry: Entry): void {
    this.entries.set(entry.id, entry);
    if (entry.alive && entry.pid !== null) this.live.set(entry.pid, entry);
    this.changed('');
  }

  attach(entry: Entry, parent: Entry): void {
    entry.parentId = parent.id;
    parent.childIds.push(entry.id);
    this.entries.set(entry.id, entry);
    if (entry.alive && entry.pid !== null) this.live.set(entry.pid, entry);
    this.changed(parent.id);
  }

  detach(entry: Entry): void {
    const parent = this.entries.get(entry.parentId ?? '');
    if (!parent) return;
    parent.childIds.splice(parent.childIds.indexOf(entry.id), 1);
    this.changed(parent.id);
  }

  /** Drops an entry and everything below it. */
  remove(entry: Entry): void {
    for (const e of [entry, ...this.subtree(entry)]) {
      this.entries.delete(e.id);
      if (e.pid !== null && this.live.get(e.pid) === e) this.live.delete(e.pid);
    }
    const parent = entry.parentId === null ? undefined : this.entries.get(entry.parentId);
    if (parent) parent.childIds.splice(parent.childIds.indexOf(entry.id), 1);
    this.changed(parent ? parent.id : '');
  }

  /** Marks an entry ended (once; a later exit code still fills in) and stops tracking its pid. */
  end(entry: Entry, exitCode: number | null): void {
    const wasAlive = entry.alive;
    if (!entry.markEnded(exitCode)) return;
    if (entry.pid !== null && this.live.get(entry.pid) === entry) this.live.delete(entry.pid);
    this.changed(entry.id);
    this.endEmitter.fire({ entry, wasAlive });
  }

  changed(id: string): void {
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
    this.endEmitter.dispose();
  }
}
