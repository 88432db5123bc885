// The Processes view: elements are row ids, items are built from the state, and a row is re-rendered only when what
// it shows changed (its tooltip, with CPU and memory, is resolved on hover instead).
import * as vscode from 'vscode';
import { contextValue, describeState, rowState, stripControl, tooltipLines, usageOf, type RowState } from '../core/describe';
import type { ProcessService } from '../core/host/processService';
import type { ReadonlyRow } from '../core/model/row';
import { snapshotOf } from '../core/model/row';

/** At most this many refreshes a second, however fast processes change. */
const REFRESH_INTERVAL_MS = 100;
/** Past this many changed rows, one full refresh is cheaper than many partial ones. */
const PARTIAL_REFRESH_LIMIT = 50;
/** The element of a parent's `+N ended` row. */
const FOLDED_SUFFIX = '#ended';

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
  const state = rowState(row);
  const [id, color] = ICONS[state];
  let icon = state === 'alive' && row.kind === 'launched' ? 'play-circle' : id;
  if (state === 'alive' && row.waitingOn) icon = 'watch';
  return new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
}

/** Everything a row shows, its children included, as one string: when it is unchanged, the row is not re-rendered. */
function visibleKey(row: ReadonlyRow): string {
  return [row.name, describeState(row), iconFor(row).id, contextValue(row), row.childIds.join(','), row.foldedEnded].join('\u0000');
}

export class ProcessTreeProvider implements vscode.TreeDataProvider<string>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<string | string[] | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastRefresh = 0;
  private readonly subscription: { dispose(): void };
  /** What each row showed when it was last rendered. */
  private readonly rendered = new Map<string, string>();
  private readonly shownAsParent = new Set<string>();
  /** How many refreshes were sent, for the benchmark of coalescing. */
  refreshCount = 0;

  constructor(private readonly service: ProcessService) {
    this.subscription = service.onDidChange((ids) => this.schedule(ids));
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
      const target = this.refreshTarget(row);
      if (target === '') all = true;
      else if (target !== id || this.rendered.get(id) !== visibleKey(row)) targets.add(target);
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

  private hasChildren(row: ReadonlyRow): boolean {
    return row.childIds.length > 0 || row.foldedEnded > 0;
  }

  /**
   * The element to refresh for a changed row: itself, or (when it gained its first children or its child list changed
   * shape) its parent, since VS Code re-asks a row's children only when the parent is refreshed.
   */
  private refreshTarget(row: ReadonlyRow): string {
    if (!this.hasChildren(row) || this.shownAsParent.has(row.id)) return row.id;
    return row.parentId === null ? '' : row.parentId;
  }

  getTreeItem(element: string): vscode.TreeItem {
    if (element.endsWith(FOLDED_SUFFIX)) {
      const parent = this.service.row(element.slice(0, -FOLDED_SUFFIX.length));
      const item = new vscode.TreeItem(`+${parent?.foldedEnded ?? 0} ended`, vscode.TreeItemCollapsibleState.None);
      item.id = element;
      item.description = 'short-lived children, folded';
      item.iconPath = new vscode.ThemeIcon('history');
      item.contextValue = 'folded';
      item.tooltip = 'Children that ended, beyond the last few, are counted here rather than shown.';
      return item;
    }
    const row = this.service.row(element);
    if (!row) return new vscode.TreeItem('(gone)');
    const hasChildren = this.hasChildren(row);
    const label = stripControl(row.name, 256);
    const item = new vscode.TreeItem(label, hasChildren ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    // VS Code keeps a row's collapsed state by id: a new id when children first appear lets the row open itself.
    item.id = hasChildren ? `${element}/parent` : element;
    if (hasChildren) this.shownAsParent.add(element);
    item.description = describeState(row);
    item.iconPath = iconFor(row);
    item.contextValue = contextValue(row);
    item.accessibilityInformation = { label: `${label}, ${item.description}` };
    if (row.kind === 'launched') item.command = { command: 'procscope.showOutput', title: 'Show Output', arguments: [element] };
    this.rendered.set(element, visibleKey(row));
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

  getChildren(element?: string): string[] {
    if (element?.endsWith(FOLDED_SUFFIX)) return [];
    const children = this.service.children(element).map((row) => row.id);
    const parent = element === undefined ? undefined : this.service.row(element);
    if (parent && parent.foldedEnded > 0) children.push(`${parent.id}${FOLDED_SUFFIX}`);
    return children;
  }

  getParent(element: string): string | undefined {
    if (element.endsWith(FOLDED_SUFFIX)) return element.slice(0, -FOLDED_SUFFIX.length);
    return this.service.row(element)?.parentId ?? undefined;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subscription.dispose();
    this.emitter.dispose();
  }
}
