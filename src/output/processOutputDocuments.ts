// "Show Output": a read-only document per launched process, stderr lines tinted, refreshed while output arrives.
import * as vscode from 'vscode';
import type { ProcessService } from '../core/host/processService';
import { STDERR } from '../core/output/outputStore';

export const OUTPUT_SCHEME = 'procscope-output';
const REFRESH_MS = 250;

/** procscope-output:/Process-1.log?p3 (the path is what the tab shows, the query which process). */
export function outputUri(id: string, name: string): vscode.Uri {
  return vscode.Uri.from({ scheme: OUTPUT_SCHEME, path: `/${name.replace(/[/\\]/g, '_')}.log`, query: id });
}

export class ProcessOutputDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly stale = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** Line numbers of stderr lines, per process, as of the last render. */
  private readonly stderrLines = new Map<string, number[]>();
  private readonly stderrDecoration = vscode.window.createTextEditorDecorationType({
    color: new vscode.ThemeColor('errorForeground'),
    isWholeLine: true,
  });
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly table: ProcessService) {
    this.disposables.push(
      vscode.workspace.registerTextDocumentContentProvider(OUTPUT_SCHEME, this),
      this.emitter,
      this.stderrDecoration,
      vscode.window.onDidChangeVisibleTextEditors(() => this.decorateAll()),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document.uri.scheme === OUTPUT_SCHEME) this.decorateAll();
      }),
    );
    const onOutput = table.onOutput(({ id }) => this.markStale(id));
    const onChange = table.onDidChange((ids) => ids.forEach((id) => this.markStale(id)));
    this.disposables.push(onOutput, onChange);
  }

  private isOpen(id: string): boolean {
    return vscode.workspace.textDocuments.some((d) => d.uri.scheme === OUTPUT_SCHEME && d.uri.query === id);
  }

  private markStale(id: string): void {
    if (!this.isOpen(id)) return;
    this.stale.add(id);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      for (const doc of vscode.workspace.textDocuments) {
        if (doc.uri.scheme === OUTPUT_SCHEME && this.stale.has(doc.uri.query)) this.emitter.fire(doc.uri);
      }
      this.stale.clear();
    }, REFRESH_MS);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const id = uri.query;
    const row = this.table.row(id);
    if (!row || row.kind !== 'launched') return `No output is kept for ${uri.path.slice(1)}: the process is gone from the table or was not launched by ProcScope.\n`;
    const output = this.table.storedOutput(id);
    const parts: string[] = [];
    const stderr: number[] = [];
    let line = 0;
    if (output.droppedBytes > 0) {
      parts.push(`… ${output.droppedBytes} earlier bytes dropped (procscope.outputBufferKb) …\n`);
      line++;
    }
    for (const segment of output.segments) {
      const text = segment.data.toString('utf8');
      const count = countNewlines(text);
      if (segment.stream === STDERR) for (let i = 0; i < count; i++) stderr.push(line + i);
      line += count;
      parts.push(text);
    }
    const p = this.table.get(id);
    parts.push(!p || p.alive ? '' : `\n[${p.name} ${p.status}]\n`);
    this.stderrLines.set(id, stderr);
    return parts.join('');
  }

  private decorateAll(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const uri = editor.document.uri;
      if (uri.scheme !== OUTPUT_SCHEME) continue;
      const lines = this.stderrLines.get(uri.query) ?? [];
      editor.setDecorations(
        this.stderrDecoration,
        lines.filter((l) => l < editor.document.lineCount).map((l) => editor.document.lineAt(l).range),
      );
    }
  }

  /** Opens (or brings forward) the output of process `id`; `beside` puts it next to the active editor, which keeps focus. */
  async show(id: string, name: string, beside = false): Promise<vscode.TextEditor> {
    const doc = await vscode.workspace.openTextDocument(outputUri(id, name));
    await vscode.languages.setTextDocumentLanguage(doc, 'procscope-output');
    const editor = await vscode.window.showTextDocument(doc, beside
      ? { viewColumn: vscode.ViewColumn.Beside, preview: false, preserveFocus: true }
      : { preview: false, preserveFocus: false });
    this.decorateAll();
    return editor;
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
  return count;
}
