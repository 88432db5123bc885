// The procscope.processes entries of a workspace folder, checked field by field: the good ones become definitions, each
// bad one a problem that names the entry and the field. A bad entry never stops the good ones.
import { validatePolicy, type ReadyProbe, type RestartPolicy } from '../supervisor/policies';
import type { ProcessSpec } from '../types';
import { describeValue, validateSpec } from '../validate';
import { endedInWords } from '../status';

export type DependencyCondition = 'started' | 'ready' | 'completed' | 'succeeded';
export const CONDITIONS: readonly DependencyCondition[] = ['started', 'ready', 'completed', 'succeeded'];

export interface Dependency {
  name: string;
  condition: DependencyCondition;
}

export interface Definition {
  name: string;
  /** The workspace folder it belongs to (its path); names are unique within a folder. */
  folder: string;
  /** Its place in the folder's procscope.processes array. */
  index: number;
  spec: ProcessSpec;
  autostart: boolean;
  dependsOn: Dependency[];
  ready: ReadyProbe | undefined;
  restart: RestartPolicy;
}

export interface DefinitionProblem {
  folder: string;
  index: number;
  /** The entry's name, when it has a usable one. */
  name: string | undefined;
  field: string;
  message: string;
}

const FIELDS = new Set(['name', 'command', 'args', 'cwd', 'env', 'daemon', 'shell', 'instrument', 'autostart', 'dependsOn', 'ready', 'restart']);

/** `web (entry 3)`, or `entry 3` for one without a usable name. */
export function entryLabel(problem: Pick<DefinitionProblem, 'index' | 'name'>): string {
  return problem.name ? `${problem.name} (entry ${problem.index + 1})` : `entry ${problem.index + 1}`;
}

/** The problem as one line for the log and the view: `procscope.processes: web (entry 3): field ready.port: …`. */
export function describeProblem(problem: DefinitionProblem): string {
  return `procscope.processes: ${entryLabel(problem)}: \`${problem.field}\`: ${problem.message}`;
}

function dependencies(value: unknown): Dependency[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) {
    return value.map((name, i) => {
      if (typeof name !== 'string' || name === '') throw new FieldError(`dependsOn[${i}]`, `expected the name of another entry, got ${describeValue(name)}`);
      return { name, condition: 'ready' as const };
    });
  }
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).map(([name, condition]) => {
      if (!CONDITIONS.includes(condition as DependencyCondition)) {
        throw new FieldError(`dependsOn.${name}`, `expected one of "started", "ready", "completed", "succeeded", got ${describeValue(condition)}`);
      }
      return { name, condition: condition as DependencyCondition };
    });
  }
  throw new FieldError('dependsOn', `expected a list of names or an object of name: condition, got ${describeValue(value)}`);
}

class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** The field a validation message names (`Expected \`args[1]\` …` → args[1]). */
function fieldOf(message: string, fallback: string): string {
  return /`([^`]+)`/.exec(message)?.[1] ?? fallback;
}

function checkEntry(entry: unknown, folder: string, index: number): Definition {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new FieldError('(entry)', `expected an object, got ${describeValue(entry)}`);
  const fields = entry as Record<string, unknown>;
  const { name } = fields;
  if (typeof name !== 'string' || name.trim() === '') throw new FieldError('name', `expected a non-empty string, got ${describeValue(name)}`);
  for (const key of Object.keys(fields)) if (!FIELDS.has(key)) throw new FieldError(key, `unknown field (expected one of ${[...FIELDS].join(', ')})`);
  const spec: ProcessSpec = { name, command: fields.command as string };
  for (const key of ['args', 'cwd', 'env', 'daemon', 'shell', 'instrument'] as const) if (fields[key] !== undefined) (spec as unknown as Record<string, unknown>)[key] = fields[key];
  try {
    // The cwd is checked when it starts (the folder may not exist yet); everything else now.
    validateSpec({ ...spec, cwd: undefined });
    if (spec.cwd !== undefined && (typeof spec.cwd !== 'string' || spec.cwd === '')) throw new TypeError(`Expected \`cwd\` to be a non-empty string, got ${describeValue(spec.cwd)}`);
  } catch (error) {
    const message = (error as Error).message;
    throw new FieldError(fieldOf(message, 'command'), message);
  }
  if (fields.autostart !== undefined && typeof fields.autostart !== 'boolean') throw new FieldError('autostart', `expected a boolean, got ${describeValue(fields.autostart)}`);
  let policy;
  try {
    policy = validatePolicy({ restart: fields.restart, ready: fields.ready });
  } catch (error) {
    const message = (error as Error).message;
    throw new FieldError(fieldOf(message, 'ready'), message);
  }
  return {
    name,
    folder,
    index,
    spec,
    autostart: fields.autostart === true,
    dependsOn: dependencies(fields.dependsOn),
    ready: policy.ready,
    restart: policy.restart,
  };
}

/** A dependency cycle through `start`, as names (`web → migrate → web`), if there is one. */
function cycleFrom(start: string, byName: Map<string, Definition>): string[] | undefined {
  const path: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string): string[] | undefined => {
    if (visiting.has(name)) return [...path.slice(path.indexOf(name)), name];
    const definition = byName.get(name);
    if (!definition) return undefined;
    visiting.add(name);
    path.push(name);
    for (const dependency of definition.dependsOn) {
      const cycle = visit(dependency.name);
      if (cycle) return cycle;
    }
    path.pop();
    visiting.delete(name);
    return undefined;
  };
  return visit(start);
}

/** Checks a folder's procscope.processes value: the definitions that can run, and a problem for each that cannot. */
export function readDefinitions(value: unknown, folder: string): { definitions: Definition[]; problems: DefinitionProblem[] } {
  const problems: DefinitionProblem[] = [];
  if (value === undefined || value === null) return { definitions: [], problems };
  if (!Array.isArray(value)) {
    return { definitions: [], problems: [{ folder, index: -1, name: undefined, field: 'procscope.processes', message: `expected a list of process definitions, got ${describeValue(value)}` }] };
  }
  const checked = new Map<string, Definition>();
  value.forEach((entry, index) => {
    const name = typeof (entry as { name?: unknown })?.name === 'string' ? ((entry as { name: string }).name || undefined) : undefined;
    try {
      const definition = checkEntry(entry, folder, index);
      if (checked.has(definition.name)) throw new FieldError('name', `another entry of this folder is named ${JSON.stringify(definition.name)} already (entry ${(checked.get(definition.name) as Definition).index + 1})`);
      checked.set(definition.name, definition);
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      problems.push({ folder, index, name, field: error.field, message: error.message });
    }
  });
  // Dependencies: unknown names, self-dependencies and cycles make the entry bad; so does depending on a bad entry.
  let changed = true;
  const bad = (definition: Definition, field: string, message: string) => {
    problems.push({ folder, index: definition.index, name: definition.name, field, message });
    checked.delete(definition.name);
    changed = true;
  };
  while (changed) {
    changed = false;
    for (const definition of [...checked.values()]) {
      for (const dependency of definition.dependsOn) {
        if (dependency.name === definition.name) {
          bad(definition, `dependsOn.${dependency.name}`, 'an entry cannot depend on itself');
          break;
        }
        if (!checked.has(dependency.name)) {
          const exists = value.some((e) => (e as { name?: unknown })?.name === dependency.name);
          bad(definition, `dependsOn.${dependency.name}`, exists ? `depends on ${JSON.stringify(dependency.name)}, which is not valid itself` : `no entry of this folder is named ${JSON.stringify(dependency.name)}`);
          break;
        }
      }
    }
    for (const definition of [...checked.values()]) {
      const cycle = cycleFrom(definition.name, checked);
      if (cycle) {
        for (const name of new Set(cycle)) {
          const member = checked.get(name);
          if (member) bad(member, 'dependsOn', `dependency cycle: ${cycle.join(' → ')}`);
        }
        break;
      }
    }
  }
  problems.sort((a, b) => a.index - b.index);
  return { definitions: [...checked.values()].sort((a, b) => a.index - b.index), problems };
}

/** The definitions to start for `target`, dependencies first (each once), `target` last. */
export function startOrder(target: Definition, definitions: readonly Definition[]): Definition[] {
  const byName = new Map(definitions.filter((d) => d.folder === target.folder).map((d) => [d.name, d]));
  const order: Definition[] = [];
  const visit = (definition: Definition) => {
    if (order.includes(definition)) return;
    for (const dependency of definition.dependsOn) {
      const next = byName.get(dependency.name);
      if (next) visit(next);
    }
    order.push(definition);
  };
  visit(target);
  return order;
}

/** How a dependency stands, read from its row: met, failed (with why), or still to wait for. */
export type ConditionState = { met: true } | { met: false; failed: string } | { met: false; failed?: undefined };

export function conditionState(
  condition: DependencyCondition,
  row: { alive: boolean; pid: number | null; exitCode: number | null; ready?: boolean | undefined } | undefined,
  hasProbe: boolean,
): ConditionState {
  if (!row || row.pid === null) return { met: false };
  const ended = !row.alive;
  const exit = endedInWords(row.exitCode);
  switch (condition) {
    case 'started':
      return { met: true };
    case 'ready':
      if (!hasProbe || row.ready === true) return { met: true };
      if (row.ready === false) return { met: false, failed: 'it was not ready in time' };
      return ended ? { met: false, failed: `it ${exit} before it was ready` } : { met: false };
    case 'completed':
      return ended ? { met: true } : { met: false };
    case 'succeeded':
      if (!ended) return { met: false };
      return row.exitCode === 0 ? { met: true } : { met: false, failed: `it ${exit}` };
  }
}
