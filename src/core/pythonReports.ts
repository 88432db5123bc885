// What the Python helper reports, applied to the table: multiprocessing children with their real names and exit codes.
import type { Discovery } from './discovery';
import { Entry } from './entry';
import type { Logger } from './logger';
import type { ProcessModel } from './model';
import { isDead } from './os/osProcess';
import type { ProcessSource } from './os/processSource';

export interface PythonStart {
  pid: number;
  ppid: number;
  name: string;
  daemon: boolean;
  method?: string;
  time?: number;
}

/** First poll after a report, so the child's own children are seen soon. */
const POLL_AFTER_REPORT_MS = 50;

export class PythonReports {
  constructor(
    private readonly model: ProcessModel,
    private readonly discovery: Discovery,
    private readonly source: ProcessSource | undefined,
    private readonly logger: Logger,
  ) {}

  /** A multiprocessing.Process was started by a process of launch `rootId` (reports arrive in order: handled at once). */
  start(rootId: string, report: PythonStart): void {
    const root = this.model.get(rootId);
    if (!root) return;
    // Nest by the reported parent (the process that called start()): for forkserver children the OS parent differs.
    const parent = this.model.liveEntry(root, report.ppid) ?? root;
    let entry = this.model.liveEntry(root, report.pid);
    if (entry === root) return;
    if (entry) {
      // Seen first in the OS table: it is this multiprocessing child; take its real name and place.
      if (entry.parentId !== parent.id) {
        this.model.detach(entry);
        this.model.attach(entry, parent);
      }
    } else {
      entry = new Entry(this.model.nextId(), report.name, 'python', root.id, report.time ?? Date.now());
      // A forked child runs its parent's command line; the real one is read from the OS while the child lives.
      Object.assign(entry, { pid: report.pid, alive: true, command: parent.command, args: [...parent.args] });
      this.model.attach(entry, parent);
      void this.identify(entry);
    }
    Object.assign(entry, { kind: 'python', name: report.name, daemon: report.daemon, ppid: report.ppid, startMethod: report.method, cwd: root.cwd });
    // Children reported before their parent was: move them under it.
    for (const orphan of this.model.children(root.id)) {
      if (orphan !== entry && orphan.ppid === report.pid && orphan.kind !== 'launched') {
        this.model.detach(orphan);
        this.model.attach(orphan, entry);
      }
    }
    this.logger.debug(entry.name, `${report.daemon ? 'daemon ' : ''}process started by ${parent.name} with pid ${report.pid}${report.method ? ` (${report.method})` : ''}`);
    this.model.changed(entry.id);
    this.discovery.schedule(POLL_AFTER_REPORT_MS);
  }

  /** Start stamp and command line of a reported child; if it is already over, it shows as ended until its exit code comes. */
  private async identify(entry: Entry): Promise<void> {
    const os = this.source && entry.pid !== null ? await this.source.get(entry.pid) : undefined;
    if (!os || isDead(os)) {
      if (this.source) this.model.end(entry, null);
      return;
    }
    this.discovery.identify(entry, os);
    await this.discovery.readCommand(entry);
  }

  /** The parent observed a multiprocessing child's exit code. */
  exit(rootId: string, pid: number, code: number): void {
    const root = this.model.get(rootId);
    if (!root) return;
    const candidates = this.model.subtree(root).filter((e) => e.pid === pid && e.kind === 'python');
    const entry = candidates.find((e) => e.alive) ?? candidates.reverse().find((e) => e.exitCode === null);
    if (entry) this.model.end(entry, code);
  }

  /** A record of multiprocessing's own logger, shown as log_to_stderr() prints it, after the launched program's name. */
  log(rootId: string, level: number, processName: string, message: string): void {
    const root = this.model.get(rootId);
    if (root) this.logger.log(level, processName, message, root.name);
  }
}
