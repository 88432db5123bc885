// Finds the descendants of launched processes in the OS process table, and keeps their liveness, CPU and memory current.
import { formatCommandLine } from './commandLine';
import { Entry } from './entry';
import type { Logger } from './logger';
import { MAIN_PROCESS } from './logger';
import type { ProcessModel } from './model';
import { isDead, type OsProcess } from './os/osProcess';
import type { ProcessSource } from './os/processSource';
import type { WatchdogClient } from './watchdog/client';

export interface DiscoverySettings {
  pollIntervalMs: number;
  /** How long the row of a discovered process that ended stays in the table. */
  transientRowMs: number;
}

export class Discovery {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Set at shutdown: no more periodic polls. */
  stopped = false;
  private readonly subscription: { dispose(): void };

  constructor(
    private readonly model: ProcessModel,
    private readonly source: ProcessSource | undefined,
    private readonly logger: Logger,
    private readonly settings: () => DiscoverySettings,
    private readonly watchdog: WatchdogClient | undefined,
    /** Called after each look at a launched tree (to forget it once it has ended). */
    private readonly afterPoll: (root: Entry) => void,
  ) {
    this.subscription = model.onDidEnd(({ entry, wasAlive }) => {
      if (!wasAlive) return;
      if (entry.kind !== 'launched' && entry.pid !== null) this.watchdog?.removeProcess(entry.pid);
      if (entry.kind === 'discovered') {
        this.logger.debug(entry.name, `process with pid ${entry.pid} has ended`);
        // Nothing more is known of it (no exit code: it was not our child), so its row goes after a while: rows stay
        // few however many helpers a long-lived process runs.
        setTimeout(() => this.prune(entry), this.settings().transientRowMs).unref?.();
      }
    });
  }

  /** Polls after `delayMs`; a shorter delay replaces a pending longer one. Nothing is scheduled while nothing lives. */
  schedule(delayMs = this.settings().pollIntervalMs): void {
    if (this.stopped && delayMs !== 0) return;
    if (this.timer) {
      if (delayMs >= this.settings().pollIntervalMs) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll().then(() => {
        if (this.anythingAlive()) this.schedule();
      });
    }, delayMs);
    this.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private anythingAlive(): boolean {
    for (const entry of this.model.all()) if (entry.alive) return true;
    return false;
  }

  /** One look at the OS: new descendants, ended ones, CPU and memory. Looks run one after another. */
  poll(): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (!this.source) return;
      for (const root of this.model.roots()) {
        try {
          if (this.model.treeAlive(root)) await this.pollTree(root, this.source);
        } catch (error) {
          this.logger.error(MAIN_PROCESS, `polling ${root.name} failed: ${(error as Error).stack ?? error}`);
        }
      }
    });
    return this.chain;
  }

  private async pollTree(root: Entry, source: ProcessSource): Promise<void> {
    const members = [root, ...this.model.subtree(root)];
    // Walk from every live process whose parent is no longer there to link it: the root, and orphans.
    const starts = members.filter((e) => e.alive && e.pid !== null && (e === root || !this.model.get(e.parentId ?? '')?.alive));
    const seen = new Map<number, OsProcess>();
    for (const start of starts) {
      const self = await source.get(start.pid as number);
      if (!self || isDead(self) || (start.startTime !== undefined && self.startTime !== start.startTime)) {
        if (start !== root) this.model.end(start, null);
        continue;
      }
      seen.set(self.pid, self);
      for (const p of await source.descendants(self.pid)) if (!isDead(p)) seen.set(p.pid, p);
    }
    const now = Date.now();
    for (const p of seen.values()) {
      let entry = this.model.liveEntry(root, p.pid);
      if (entry && entry.startTime !== undefined && entry.startTime !== p.startTime) {
        this.model.end(entry, null); // the pid was reused by a new process
        entry = undefined;
      }
      if (!entry) {
        entry = this.addDiscovered(root, p);
      } else if (entry.kind === 'discovered' && entry.comm !== p.comm) {
        entry.comm = p.comm; // seen between fork and exec: it runs something else now
        void this.readCommand(entry);
      }
      if (entry.startTime === undefined) this.identify(entry, p);
      this.sample(entry, p, now);
    }
    for (const e of members) {
      if (e.alive && e !== root && e.pid !== null && !seen.has(e.pid)) {
        const still = await source.get(e.pid);
        if (!still || isDead(still) || (e.startTime !== undefined && still.startTime !== e.startTime)) this.model.end(e, null);
      }
    }
    this.afterPoll(root);
  }

  private sample(entry: Entry, p: OsProcess, now: number): void {
    const before = entry.cpuPercent;
    const rssBefore = entry.rssBytes;
    if (entry.lastCpuMs !== undefined && entry.lastSampleAt !== undefined && now > entry.lastSampleAt) {
      entry.cpuPercent = Math.max(0, ((p.cpuMs - entry.lastCpuMs) / (now - entry.lastSampleAt)) * 100);
    }
    Object.assign(entry, { lastCpuMs: p.cpuMs, lastSampleAt: now, rssBytes: p.rssBytes, pgid: p.pgid, threads: p.threads });
    if (before !== entry.cpuPercent || rssBefore !== entry.rssBytes) this.model.changed(entry.id);
  }

  /** A new row for a descendant seen in the OS table, named as multiprocessing would; its argv follows a moment later. */
  private addDiscovered(root: Entry, p: OsProcess): Entry {
    const parent = this.model.liveEntry(root, p.ppid) ?? root;
    const entry = new Entry(this.model.nextId(), `${parent.name}:${++parent.childCounter}`, 'discovered', root.id, Date.now());
    Object.assign(entry, { pid: p.pid, ppid: p.ppid, alive: true, command: p.comm, cwd: null, comm: p.comm });
    this.identify(entry, p);
    this.model.attach(entry, parent);
    void this.readCommand(entry).then(() => {
      this.logger.debug(entry.name, `discovered child process with pid ${p.pid} of ${parent.name}: ${formatCommandLine(entry.command, entry.args)}`);
    });
    return entry;
  }

  /** Records the OS start stamp of an entry's pid, which makes it safe to signal, and tells the watchdog. */
  identify(entry: Entry, p: OsProcess): void {
    entry.startTime = p.startTime;
    if (entry.alive) this.watchdog?.addProcess(p.pid, p.startTime);
  }

  /** Reads the entry's argv (only while the process lives: the OS forgets it after). */
  async readCommand(entry: Entry): Promise<void> {
    if (!this.source || entry.pid === null) return;
    const argv = await this.source.cmdline(entry.pid);
    if (argv.length === 0) return;
    entry.command = argv[0];
    entry.args = argv.slice(1);
    this.model.changed(entry.id);
  }

  private prune(entry: Entry): void {
    if (this.model.get(entry.id) === entry && !this.model.treeAlive(entry)) this.model.remove(entry);
  }

  dispose(): void {
    this.stop();
    this.subscription.dispose();
  }
}
