// Starts workspace definitions as process-compose does: dependencies first, each waited for until its condition holds
// (started, ready, completed, succeeded), one instance of each unless another is asked for, and a failed dependency
// keeping its dependents from starting. Readiness and restarts themselves are the supervisor's (they outlive a reload).
import { resolve } from 'node:path';
import { Emitter, type Event } from '../event';
import type { ProcessService } from '../host/processService';
import { MAIN_PROCESS, type Logger } from '../logger';
import type { ReadonlyRow } from '../model/row';
import type { ProcessSnapshot } from '../types';
import { describeValue } from '../validate';
import { conditionState, describeProblem, readDefinitions, startOrder, type Definition, type DefinitionProblem } from './definitions';

/** One workspace folder's procscope.processes value. */
export interface FolderValue {
  /** The folder's path (what definitions are grouped and named by). */
  folder: string;
  value: unknown;
}

export interface DefinitionInfo {
  name: string;
  folder: string;
  state: string;
  id: string | null;
}

/** `web`'s key within its folder. */
export function definitionKey(definition: Pick<Definition, 'folder' | 'name'>): string {
  return `${definition.folder}\u0000${definition.name}`;
}

export class DefinitionRunner {
  private definitionsNow: Definition[] = [];
  private problemsNow: DefinitionProblem[] = [];
  private reported = new Set<string>();
  /** Starts in flight (waiting for dependencies, or launching), by definition key. */
  private readonly starting = new Map<string, Promise<ProcessSnapshot>>();
  /** What a definition waits for before it starts (`waiting for db (ready)`), by key. */
  private readonly phases = new Map<string, string>();
  private readonly changeEmitter = new Emitter<void>();
  /** The definitions, their problems or their waiting changed. */
  readonly onDidChange: Event<void> = this.changeEmitter.event;

  constructor(
    private readonly service: ProcessService,
    private readonly logger: Logger,
    private readonly folders: () => FolderValue[],
    /** False in Restricted Mode: then nothing the workspace defines runs. */
    private readonly trusted: () => boolean = () => true,
  ) {
    this.refresh();
  }

  /** Reads the settings again; each problem not reported before goes to the log at ERROR. */
  refresh(): void {
    const definitions: Definition[] = [];
    const problems: DefinitionProblem[] = [];
    for (const { folder, value } of this.folders()) {
      const read = readDefinitions(value, folder);
      definitions.push(...read.definitions);
      problems.push(...read.problems);
    }
    this.definitionsNow = definitions;
    this.problemsNow = problems;
    const now = new Set(problems.map(describeProblem));
    for (const text of now) if (!this.reported.has(text)) this.logger.error(MAIN_PROCESS, text);
    this.reported = now;
    this.changeEmitter.fire();
  }

  definitions(): readonly Definition[] {
    return this.definitionsNow;
  }

  problems(): readonly DefinitionProblem[] {
    return this.problemsNow;
  }

  /** The row of a definition's current run, else of its last one. */
  rowOf(definition: Pick<Definition, 'folder' | 'name'>): ReadonlyRow | undefined {
    let last: ReadonlyRow | undefined;
    for (const row of this.service.state.roots()) {
      if (row.definition !== definition.name || row.folder !== definition.folder) continue;
      if (row.alive) return row;
      last = row;
    }
    return last;
  }

  /** What the definition waits for, while it does. */
  phaseOf(definition: Pick<Definition, 'folder' | 'name'>): string | undefined {
    return this.phases.get(definitionKey(definition));
  }

  /** `not started`, `waiting for db (ready)`, `starting`, `running`, `ready`, `not ready`, `exited`, `crash loop`… */
  stateOf(definition: Definition): string {
    const phase = this.phaseOf(definition);
    if (phase) return phase;
    if (this.starting.has(definitionKey(definition))) return 'starting';
    const row = this.rowOf(definition);
    if (!row) return 'not started';
    if (row.phase) return row.phase;
    if (row.alive) return row.ready === true ? 'ready' : row.ready === false ? 'not ready' : 'running';
    return 'exited';
  }

  list(): DefinitionInfo[] {
    const listed: DefinitionInfo[] = this.definitionsNow.map((d) => ({ name: d.name, folder: d.folder, state: this.stateOf(d), id: this.rowOf(d)?.id ?? null }));
    for (const problem of this.problemsNow) {
      if (problem.name && !listed.some((d) => d.name === problem.name && d.folder === problem.folder)) {
        listed.push({ name: problem.name, folder: problem.folder, state: 'invalid', id: null });
      }
    }
    return listed;
  }

  /** The definition named `name` (in `folder`, or the only folder that has one by that name). */
  find(name: unknown, folder?: unknown): Definition {
    if (typeof name !== 'string' || name === '') throw new Error(`Expected a definition name, got ${describeValue(name)}`);
    if (folder !== undefined && typeof folder !== 'string') throw new Error(`Expected \`folder\` to be a folder path, got ${describeValue(folder)}`);
    const matches = this.definitionsNow.filter((d) => d.name === name && (folder === undefined || d.folder === folder));
    if (matches.length === 1) return matches[0];
    const problem = this.problemsNow.find((p) => p.name === name && (folder === undefined || p.folder === folder));
    if (problem) throw new Error(`The definition ${JSON.stringify(name)} cannot run: ${describeProblem(problem)}`);
    if (matches.length > 1) throw new Error(`More than one workspace folder defines ${JSON.stringify(name)}: name the folder (${matches.map((d) => d.folder).join(', ')})`);
    throw new Error(`No procscope.processes definition named ${describeValue(name)}${folder === undefined ? '' : ` in ${folder}`}`);
  }

  private requireTrust(): void {
    if (!this.trusted()) throw new Error('This workspace is in Restricted Mode: the processes it defines run only once you trust it');
  }

  /**
   * Starts a definition, its dependencies first; resolves with its snapshot once it runs. One instance: if it runs
   * already, that one is returned, unless `another` asks for a second.
   */
  async start(definition: Definition, options: { another?: boolean } = {}): Promise<ProcessSnapshot> {
    this.requireTrust();
    if (options.another) return this.launch(definition, true);
    const order = startOrder(definition, this.definitionsNow);
    // Whatever waits for a dependency says so at once, not only once its turn comes.
    for (const next of order) {
      const key = definitionKey(next);
      if (next.dependsOn.length > 0 && !this.rowOf(next)?.alive && !this.starting.has(key) && !this.phases.has(key)) {
        this.phases.set(key, `waiting for ${next.dependsOn[0].name} (${next.dependsOn[0].condition})`);
      }
    }
    this.changeEmitter.fire();
    let result: ProcessSnapshot | undefined;
    try {
      result = await this.startInOrder(definition, order);
    } finally {
      for (const next of order) if (!this.starting.has(definitionKey(next))) this.phases.delete(definitionKey(next));
      this.changeEmitter.fire();
    }
    return result;
  }

  private async startInOrder(definition: Definition, order: Definition[]): Promise<ProcessSnapshot> {
    let result: ProcessSnapshot | undefined;
    for (const next of order) {
      // A dependency whose last run already meets what its dependents wait for (a migration that succeeded) is not
      // run again.
      if (next !== definition && this.alreadyMet(next, order)) continue;
      try {
        result = await this.ensure(next);
      } catch (error) {
        if (next !== definition) {
          const reason = `not started: its dependency ${next.name} could not start: ${(error as Error).message}`;
          this.logger.error(definition.name, reason);
          throw new Error(`${definition.name} was ${reason}`);
        }
        throw error;
      }
    }
    return result as ProcessSnapshot;
  }

  /**
   * Every definition of every folder, each once, in dependency order; failures are logged and the rest go on. What
   * runs is not started again, nor what ended by itself (a finished job, a crash loop): Start All twice starts
   * nothing new; after Stop All it starts everything again. `onFailure` hears of each definition that did not start.
   */
  async startAll(
    filter: (definition: Definition) => boolean = () => true,
    onFailure?: (definition: Definition, error: Error) => void,
  ): Promise<ProcessSnapshot[]> {
    this.requireTrust();
    const wanted = this.definitionsNow.filter((d) => {
      if (!filter(d)) return false;
      const row = this.rowOf(d);
      return !row || (!row.alive && row.stoppedByRequest) || this.starting.has(definitionKey(d));
    });
    const results = await Promise.allSettled(wanted.map((d) => this.start(d)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') onFailure?.(wanted[i], r.reason as Error);
    });
    return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  /**
   * Starts the autostart definitions that have not run in this window (when a folder opens, trusted): one stopped by
   * hand stays stopped when another folder is added or the window reloads.
   */
  autostart(): Promise<ProcessSnapshot[]> {
    if (!this.trusted()) return Promise.resolve([]);
    return this.startAll((d) => d.autostart && this.rowOf(d) === undefined);
  }

  /** Whether every dependent in `order` finds what it waits for of `dependency` in its last run already. */
  private alreadyMet(dependency: Definition, order: readonly Definition[]): boolean {
    const row = this.rowOf(dependency);
    if (!row) return false;
    const conditions = order.flatMap((d) => d.dependsOn.filter((dep) => dep.name === dependency.name).map((dep) => dep.condition));
    return conditions.length > 0 && conditions.every((condition) => conditionState(condition, row, dependency.ready !== undefined).met);
  }

  /** Running: that one. Being started: that start. Else: start it (after its dependencies' conditions hold). */
  private ensure(definition: Definition): Promise<ProcessSnapshot> {
    const row = this.rowOf(definition);
    if (row?.alive) return Promise.resolve(this.service.get(row.id) as ProcessSnapshot);
    const key = definitionKey(definition);
    const inFlight = this.starting.get(key);
    if (inFlight) return inFlight;
    const started = (async () => {
      try {
        await this.waitForDependencies(definition);
        return await this.launch(definition, false);
      } finally {
        this.starting.delete(key);
        this.phases.delete(key);
        this.changeEmitter.fire();
      }
    })();
    this.starting.set(key, started);
    this.changeEmitter.fire();
    return started;
  }

  /** Launches it: in place of its last run (the same row), or as a new row. */
  private async launch(definition: Definition, another: boolean): Promise<ProcessSnapshot> {
    const policy = { restart: definition.restart, ready: definition.ready };
    // A relative cwd is the definition's folder's, not the first folder's.
    const spec = { ...definition.spec, cwd: resolve(definition.folder, definition.spec.cwd ?? '.') };
    const previous = another ? undefined : this.rowOf(definition);
    if (previous && !previous.alive) return this.service.restart(previous.id, { spec, policy, cwd: definition.folder });
    return this.service.start(spec, { definition: definition.name, folder: definition.folder, policy });
  }

  /** Waits until every dependency's condition holds; rejects (and logs at ERROR) when one fails or stops. */
  private async waitForDependencies(definition: Definition): Promise<void> {
    const key = definitionKey(definition);
    const byName = new Map(this.definitionsNow.filter((d) => d.folder === definition.folder).map((d) => [d.name, d]));
    for (const dependency of definition.dependsOn) {
      const target = byName.get(dependency.name) as Definition;
      const check = () => conditionState(dependency.condition, this.rowOf(target), target.ready !== undefined);
      let state = check();
      if (state.met) continue;
      this.phases.set(key, `waiting for ${dependency.name} (${dependency.condition})`);
      this.changeEmitter.fire();
      state = await new Promise((resolve) => {
        const subscription = this.service.state.onDidApply(() => {
          const now = check();
          if (now.met || now.failed !== undefined) {
            subscription.dispose();
            resolve(now);
          }
        });
        const now = check();
        if (now.met || now.failed !== undefined) {
          subscription.dispose();
          resolve(now);
        }
      });
      if (!state.met) {
        const reason = `not started: its dependency ${dependency.name} (${dependency.condition}) failed: ${state.failed}`;
        this.logger.error(definition.name, reason);
        throw new Error(`${definition.name} was ${reason}`);
      }
    }
  }

  dispose(): void {
    this.changeEmitter.dispose();
  }
}
