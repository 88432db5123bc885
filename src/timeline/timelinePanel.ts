// The timeline (SPEC §3): a webview panel drawing every process of the session as a bar, kept live by coalesced diffs
// of the core's timeline model; a click on a bar reveals its row in the Processes view.
import * as vscode from 'vscode';
import type { DefinitionRunner } from '../core/definitions/runner';
import type { ProcessService } from '../core/host/processService';
import { TimelineFeed } from '../core/timeline';
import { revealRow } from '../tree/revealRow';
import { timelinePage } from './timelinePage';

/** At most this many updates a second reach the page, however fast processes change (as the tree refreshes). */
const UPDATE_INTERVAL_MS = 100;

/** Registers Show Timeline; the panel (one at a time) is created only when the command runs. */
export function registerTimeline(extensionUri: vscode.Uri, service: ProcessService, treeView: vscode.TreeView<string>, runner?: DefinitionRunner): vscode.Disposable {
  let panel: TimelinePanel | undefined;
  return vscode.Disposable.from(
    vscode.commands.registerCommand('procscope.showTimeline', () => {
      if (panel) return panel.reveal();
      panel = new TimelinePanel(extensionUri, service, treeView, runner);
      panel.onDidDispose(() => (panel = undefined));
    }),
    { dispose: () => panel?.dispose() },
  );
}

class TimelinePanel {
  private readonly panel: vscode.WebviewPanel;
  private readonly feed = new TimelineFeed();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly disposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposeEmitter.event;
  private timer: NodeJS.Timeout | undefined;
  private lastSent = 0;
  /** The page said it is ready (it loads again each time the panel is shown). */
  private ready = false;
  private disposed = false;

  constructor(
    extensionUri: vscode.Uri,
    private readonly service: ProcessService,
    private readonly treeView: vscode.TreeView<string>,
    private readonly runner: DefinitionRunner | undefined,
  ) {
    const media = vscode.Uri.joinPath(extensionUri, 'media', 'timeline');
    this.panel = vscode.window.createWebviewPanel('procscope.timeline', 'Process Timeline', vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [media],
    });
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'procscope.svg');
    this.panel.webview.html = page(this.panel.webview, media);
    this.subscriptions.push(
      this.panel.webview.onDidReceiveMessage((message: unknown) => this.receive(message)),
      this.panel.onDidChangeViewState(() => {
        if (!this.panel.visible) this.ready = false; // hidden: the page is unloaded, and says ready when shown again
      }),
      this.panel.onDidDispose(() => this.dispose()),
    );
    this.subscriptions.push(service.onDidChange(() => this.schedule()));
    if (runner) this.subscriptions.push(runner.onDidChange(() => this.schedule()));
  }

  reveal(): void {
    this.panel.reveal();
  }

  private receive(message: unknown): void {
    if (typeof message !== 'object' || message === null) return;
    const { type, id } = message as { type?: unknown; id?: unknown };
    if (type === 'ready') {
      this.ready = true;
      this.feed.reset();
      this.send();
    } else if (type === 'reveal' && typeof id === 'string') {
      void revealRow(this.service, this.treeView, id);
    }
  }

  private schedule(): void {
    if (this.timer || this.disposed) return;
    const wait = Math.max(0, this.lastSent + UPDATE_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.send();
    }, wait);
  }

  /** Sends what changed since the last update, if the page is there to take it. */
  private send(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.disposed || !this.ready) return;
    const update = this.feed.update(this.service.state, this.definitionsFirst());
    if (!update) return;
    this.lastSent = Date.now();
    void this.panel.webview.postMessage(update);
  }

  /** The rows the tree shows first: the workspace definitions' runs, grouped by folder in a multi-root window. */
  private definitionsFirst(): string[] {
    if (!this.runner) return [];
    const byFolder = new Map<string, string[]>();
    for (const definition of this.runner.definitions()) {
      const row = this.runner.rowOf(definition);
      if (!row) continue;
      const ids = byFolder.get(definition.folder) ?? [];
      ids.push(row.id);
      byFolder.set(definition.folder, ids);
    }
    return [...byFolder.values()].flat();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.timer);
    for (const subscription of this.subscriptions) subscription.dispose();
    this.panel.dispose();
    this.disposeEmitter.fire();
    this.disposeEmitter.dispose();
  }
}

/** The page, its assets given as webview URIs. */
function page(webview: vscode.Webview, media: vscode.Uri): string {
  return timelinePage({
    cspSource: webview.cspSource,
    script: webview.asWebviewUri(vscode.Uri.joinPath(media, 'timeline.js')).toString(),
    style: webview.asWebviewUri(vscode.Uri.joinPath(media, 'timeline.css')).toString(),
  });
}
