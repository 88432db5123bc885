// The Processes view: elements are process ids, rows are built from the live table, refreshes are coalesced.
import * as vscode from 'vscode';
import { contextValue, describeState, rowState, stripControl, tooltipLines, type RowState } from '../core/describe';
import type { ProcessTable } from '../core/processTable';

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
};

function iconFor(state: RowState, kind: string): vscode.ThemeIcon {
  const [id, color] = ICONS[state];
  const icon = state === 'alive' && kind === 'launched' ? 'play-circle' : id;
  return new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
}

export class ProcessTreeProvider implements vscode.TreeDataProvider<string>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<string | string[] | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastRefresh = 0;
  private readonly subscription: { dispose(): void };
  private readonly shownAsParent = new Set<string>();
  /** How many refreshes were sent, for the benchmark of coalescing. */
  refreshCount = 0;

  constructor(private readonly table: ProcessTable) {
    this.subscription = table.onDidChange((ids) => this.schedule(ids));
  }

  private schedule(ids: ReadonlySet<string>): void {
    for (const id of ids) this.pending.add(id);
    if (this.timer) return;
    const wait = Math.max(0, this.lastRefresh + REFRESH_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Sends the pending refreshes now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    this.lastRefresh = Date.now();
    this.refreshCount++;
    const ids = [...this.pending].filter((id) => id === '' || this.table.entry(id) !== undefined).map((id) => this.refreshTarget(id));
    this.pending.clear();
    if (ids.includes('') || ids.length > PARTIAL_REFRESH_LIMIT) this.emitter.fire(undefined);
    else if (ids.length > 0) this.emitter.fire(ids);
  }

  /** A row that gained its first children gets a new TreeItem id: that takes a refresh of its parent's children. */
  private refreshTarget(id: string): string {
    const entry = this.table.entry(id);
    if (!entry || entry.childIds.length === 0 || this.shownAsParent.has(id)) return id;
    return entry.parentId === null ? '' : this.refreshTarget(entry.parentId);
  }

  getTreeItem(id: string): vscode.TreeItem {
    const entry = this.table.entry(id);
    if (!entry) return new vscode.TreeItem('(gone)');
    const p = entry.snapshot();
    const hasChildren = entry.childIds.length > 0;
    const item = new vscode.TreeItem(stripControl(p.name), hasChildren ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    // VS Code keeps a row's collapsed state by id: a new id when children first appear lets the row open itself.
    item.id = hasChildren ? `${id}/parent` : id;
    if (hasChildren) this.shownAsParent.add(id);
    item.description = describeState(p);
    item.iconPath = iconFor(rowState(p), p.kind);
    item.contextValue = contextValue(p);
    item.tooltip = new vscode.MarkdownString(
      tooltipLines(p, { cpuPercent: entry.cpuPercent, rssBytes: entry.rssBytes, startMethod: entry.startMethod })
        .map((line) => line.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&'))
        .join('  \n'),
    );
    item.accessibilityInformation = { label: `${stripControl(p.name)}, ${item.description}` };
    if (p.kind === 'launched') item.command = { command: 'procscope.showOutput', title: 'Show Output', arguments: [id] };
    return item;
  }

  getChildren(id?: string): string[] {
    return this.table.children(id).map((e) => e.id);
  }

  getParent(id: string): string | undefined {
    return this.table.entry(id)?.parentId ?? undefined;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subscription.dispose();
    this.emitter.dispose();
  }
}
