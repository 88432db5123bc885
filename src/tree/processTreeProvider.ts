// The Processes view: the workspace's definitions (before and across runs, grouped by folder in a multi-root window),
// bad definitions, and every other process, nested as they spawn each other. A row is re-rendered only when what it
// shows changed; its tooltip, with CPU and memory, is built when the pointer rests on it.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { describeProblem, type Definition } from '../core/definitions/definitions';
import type { DefinitionRunner } from '../core/definitions/runner';
import { contextValue, describeState, rowState, stripControl, tooltipLines, usageOf, type RowState } from '../core/describe';
import type { ProcessService } from '../core/host/processService';
import { isRestartPending } from '../core/supervisor/phases';
import type { ReadonlyRow } from '../core/model/row';
import { snapshotOf } from '../core/model/row';
import { definitionElement, FOLDED_SUFFIX, folderElement, folderOf, isDefinitionElement, isFolderElement, isProblemElement, problemElement, problemOf } from './elements';

/** At most this many refreshes a second, however fast processes change. */
const REFRESH_INTERVAL_MS = 100;
/** Past this many changed rows, one full refresh is cheaper than many partial ones. */
const PARTIAL_REFRESH_LIMIT = 50;

const ICONS: Record<RowState, [string, string | undefined]> = {
  alive: ['circle-filled', 'charts.green'],
  ok: ['pass', 'charts.green'],
  failed: ['error', 'charts.red'],
  signalled: ['circle-slash', 'charts.orange'],
  ended: ['circle-outline', undefined],
  initial: ['circle-large-outline', undefined],
};

function iconFor(row: ReadonlyRow): vscode.ThemeIcon {
  if (row.deadlocked && row.alive) return new vscode.ThemeIcon('warning', new vscode.ThemeColor('charts.yellow'));
  if (row.phase === 'crash loop') return new vscode.ThemeIcon('error', new vscode.ThemeColor('charts.red'));
  const state = rowState(row);
  const [id, color] = ICONS[state];
  let icon = state === 'alive' && row.kind === 'launched' ? 'play-circle' : id;
  if (state === 'alive' && row.waitingOn) icon = 'watch';
  return new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
}

export class ProcessTreeProvider implements vscode.TreeDataProvider<string>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<string | string[] | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastRefresh = 0;
  private readonly subscriptions: { dispose(): void }[] = [];
  /** What each row showed when it was last rendered. */
  private readonly rendered = new Map<string, string>();
  private readonly shownAsParent = new Set<string>();
  /** Rows that are some definition's run, shown where that definition is. */
  private claimed = new Map<string, Definition>();
  /** How many refreshes were sent, for the benchmark of coalescing. */
  refreshCount = 0;

  constructor(
    private readonly service: ProcessService,
    private readonly runner?: DefinitionRunner,
  ) {
    this.subscriptions.push(service.onDidChange((ids) => this.schedule(ids)));
    if (runner) this.subscriptions.push(runner.onDidChange(() => this.schedule(new Set(['']))));
  }

  private schedule(ids: ReadonlySet<string>): void {
    for (const id of ids) this.pending.add(id);
    if (this.timer) return;
    const wait = Math.max(0, this.lastRefresh + REFRESH_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Sends the pending refreshes now: only rows whose visible content changed, or whose children came or went. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const targets = new Set<string>();
    let all = false;
    for (const id of this.pending) {
      if (id === '') {
        all = true;
        continue;
      }
      const row = this.service.row(id);
      if (!row) {
        this.rendered.delete(id);
        continue;
      }
      // A definition's run becoming or ending its row changes the top level.
      if (row.definition !== undefined && row.parentId === null && !this.claimed.has(id)) all = true;
      const target = this.refreshTarget(row);
      if (target === '') all = true;
      else if (target !== id || this.rendered.get(id) !== this.visibleKey(row)) targets.add(target);
    }
    this.pending.clear();
    if (!all && targets.size === 0) return;
    this.lastRefresh = Date.now();
    this.refreshCount++;
    if (all || targets.size > PARTIAL_REFRESH_LIMIT) {
      this.rendered.clear();
      this.emitter.fire(undefined);
    } else {
      this.emitter.fire([...targets]);
    }
  }

  /** Everything a row shows, its children included, as one string: when it is unchanged, the row is not re-rendered. */
  private visibleKey(row: ReadonlyRow): string {
    return [row.name, this.description(row), iconFor(row).id, this.contextOf(row), row.childIds.join(','), row.foldedEnded].join('\u0000');
  }

  private hasChildren(row: ReadonlyRow): boolean {
    return row.childIds.length > 0 || row.foldedEnded > 0;
  }

  /**
   * The element to refresh for a changed row: itself, or (when it gained its first children) its parent, since VS Code
   * re-asks a row's children only when the parent is refreshed.
   */
  private refreshTarget(row: ReadonlyRow): string {
    if (!this.hasChildren(row) || this.shownAsParent.has(row.id)) return row.id;
    return row.parentId === null ? '' : row.parentId;
  }

  /** The row's description; a definition's run says what its definition waits for, if it does. */
  private description(row: ReadonlyRow): string {
    const definition = this.claimed.get(row.id);
    const phase = definition ? this.runner?.phaseOf(definition) : undefined;
    return describeState(phase ? { ...row, phase } : row);
  }

  private contextOf(row: ReadonlyRow): string {
    return `${contextValue(row)}${this.claimed.has(row.id) ? '.definition' : ''}${isRestartPending(row.phase) ? '.pending' : ''}`;
  }

  // ---- elements ----

  private multiRoot(): boolean {
    return (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
  }

  /** The elements of a folder's definitions: a definition's run row where it has one, else its own element. */
  private definitionElements(folder: string | undefined): string[] {
    if (!this.runner) return [];
    const elements: string[] = [];
    for (const definition of this.runner.definitions()) {
      if (folder !== undefined && definition.folder !== folder) continue;
      const row = this.runner.rowOf(definition);
      elements.push(row ? row.id : definitionElement(definition));
    }
    for (const problem of this.runner.problems()) if (folder === undefined || problem.folder === folder) elements.push(problemElement(problem));
    return elements;
  }

  private claim(): void {
    this.claimed = new Map();
    if (!this.runner) return;
    for (const definition of this.runner.definitions()) {
      const row = this.runner.rowOf(definition);
      if (row) this.claimed.set(row.id, definition);
    }
  }

  getChildren(element?: string): string[] {
    if (element === undefined) {
      this.claim();
      const others = this.service.children(undefined).filter((row) => !this.claimed.has(row.id)).map((row) => row.id);
      if (!this.runner || !this.multiRoot()) return [...this.definitionElements(undefined), ...others];
      const folders = new Set([...this.runner.definitions().map((d) => d.folder), ...this.runner.problems().map((p) => p.folder)]);
      return [...[...folders].map(folderElement), ...others];
    }
    if (isFolderElement(element)) return this.definitionElements(folderOf(element));
    if (element.endsWith(FOLDED_SUFFIX) || isDefinitionElement(element) || isProblemElement(element)) return [];
    const children = this.service.children(element).map((row) => row.id);
    const parent = this.service.row(element);
    if (parent && parent.foldedEnded > 0) children.push(`${parent.id}${FOLDED_SUFFIX}`);
    return children;
  }

  getParent(element: string): string | undefined {
    if (element.endsWith(FOLDED_SUFFIX)) return element.slice(0, -FOLDED_SUFFIX.length);
    const multiRoot = this.multiRoot();
    if (isDefinitionElement(element)) {
      const definition = this.runner?.definitions().find((d) => definitionElement(d) === element);
      return multiRoot && definition ? folderElement(definition.folder) : undefined;
    }
    if (isProblemElement(element)) {
      const problem = this.runner ? problemOf(this.runner.problems(), element) : undefined;
      return multiRoot && problem ? folderElement(problem.folder) : undefined;
    }
    if (isFolderElement(element)) return undefined;
    const row = this.service.row(element);
    if (!row) return undefined;
    if (row.parentId === null) {
      const definition = this.claimed.get(row.id);
      return multiRoot && definition ? folderElement(definition.folder) : undefined;
    }
    return row.parentId;
  }

  getTreeItem(element: string): vscode.TreeItem {
    if (element.endsWith(FOLDED_SUFFIX)) return this.foldedItem(element);
    if (isFolderElement(element)) {
      const folder = folderOf(element);
      const item = new vscode.TreeItem(path.basename(folder), vscode.TreeItemCollapsibleState.Expanded);
      item.id = element;
      item.description = vscode.workspace.asRelativePath(folder, true) === path.basename(folder) ? undefined : folder;
      item.iconPath = vscode.ThemeIcon.Folder;
      item.resourceUri = vscode.Uri.file(folder);
      item.contextValue = 'folder';
      return item;
    }
    if (isDefinitionElement(element)) return this.definitionItem(element);
    if (isProblemElement(element)) return this.problemItem(element);
    const row = this.service.row(element);
    if (!row) return new vscode.TreeItem('(gone)');
    const hasChildren = this.hasChildren(row);
    const label = stripControl(row.name, 256);
    const item = new vscode.TreeItem(label, hasChildren ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    // VS Code keeps a row's collapsed state by id: a new id when children first appear lets the row open itself.
    item.id = hasChildren ? `${element}/parent` : element;
    if (hasChildren) this.shownAsParent.add(element);
    item.description = this.description(row);
    item.iconPath = iconFor(row);
    item.contextValue = this.contextOf(row);
    item.accessibilityInformation = { label: `${label}, ${item.description}` };
    if (row.kind === 'launched') item.command = { command: 'procscope.showOutput', title: 'Show Output', arguments: [element] };
    this.rendered.set(element, this.visibleKey(row));
    return item;
  }

  private foldedItem(element: string): vscode.TreeItem {
    const parent = this.service.row(element.slice(0, -FOLDED_SUFFIX.length));
    const item = new vscode.TreeItem(`+${parent?.foldedEnded ?? 0} ended`, vscode.TreeItemCollapsibleState.None);
    item.id = element;
    item.description = 'short-lived children, folded';
    item.iconPath = new vscode.ThemeIcon('history');
    item.contextValue = 'folded';
    item.tooltip = 'Children that ended, beyond the last few, are counted here rather than shown.';
    return item;
  }

  private definitionItem(element: string): vscode.TreeItem {
    const definition = this.runner?.definitions().find((d) => definitionElement(d) === element);
    const item = new vscode.TreeItem(definition ? stripControl(definition.name, 256) : '(gone)', vscode.TreeItemCollapsibleState.None);
    item.id = element;
    if (!definition || !this.runner) return item;
    item.description = this.runner.stateOf(definition);
    item.iconPath = new vscode.ThemeIcon(item.description.startsWith('waiting') ? 'watch' : 'circle-large-outline');
    item.contextValue = 'definition.idle';
    item.tooltip = [
      `${definition.name} (procscope.processes)`,
      `Command: ${[definition.spec.command, ...(definition.spec.args ?? [])].join(' ')}`,
      ...(definition.dependsOn.length ? [`Depends on: ${definition.dependsOn.map((d) => `${d.name} (${d.condition})`).join(', ')}`] : []),
      ...(definition.ready ? [`Ready when: ${Object.entries(definition.ready).map(([k, v]) => `${k} ${v}`).join(', ')}`] : []),
      ...(definition.restart !== 'no' ? [`Restart: ${definition.restart}`] : []),
      ...(definition.autostart ? ['Starts when the folder opens'] : []),
    ].map((line) => stripControl(line)).join('\n');
    item.accessibilityInformation = { label: `${item.label}, ${item.description}` };
    return item;
  }

  private problemItem(element: string): vscode.TreeItem {
    const problem = this.runner ? problemOf(this.runner.problems(), element) : undefined;
    const item = new vscode.TreeItem(problem?.name ? stripControl(problem.name, 256) : `entry ${(problem?.index ?? 0) + 1}`, vscode.TreeItemCollapsibleState.None);
    item.id = element;
    if (!problem) return item;
    item.description = stripControl(`invalid: ${problem.field}: ${problem.message}`, 512);
    item.tooltip = stripControl(describeProblem(problem));
    item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
    item.contextValue = 'definition.invalid';
    return item;
  }

  /** The tooltip, built when the pointer rests on the row: CPU and memory change too often to re-render rows for. */
  resolveTreeItem(item: vscode.TreeItem, element: string): vscode.TreeItem {
    const row = this.service.row(element);
    if (!row) return item;
    item.tooltip = new vscode.MarkdownString(
      tooltipLines(snapshotOf(row), usageOf(row))
        .map((line) => line.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&'))
        .join('  \n'),
    );
    return item;
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const subscription of this.subscriptions) subscription.dispose();
    this.emitter.dispose();
  }
}
