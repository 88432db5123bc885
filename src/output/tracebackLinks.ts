// Makes each `File "…", line N` in a process's output a link that opens the file at that line, and a
// `BrokenProcessPool` a link to the row of the pool worker whose death caused it.
import * as vscode from 'vscode';
import { findBrokenPoolLinks } from '../core/brokenPool';
import type { ProcessService } from '../core/host/processService';
import { findTracebackFrames } from '../core/traceback';
import { revealRowUri } from '../tree/revealRow';
import { OUTPUT_SCHEME } from './processOutputDocuments';

export function registerTracebackLinks(table: ProcessService): vscode.Disposable {
  return vscode.languages.registerDocumentLinkProvider({ scheme: OUTPUT_SCHEME }, {
    provideDocumentLinks(document) {
      const id = document.uri.query;
      const text = document.getText();
      const cwd = table.row(id)?.cwd ?? '/';
      const frames = findTracebackFrames(text, cwd).map((frame) => {
        const range = new vscode.Range(frame.line, frame.start, frame.line, frame.end);
        const link = new vscode.DocumentLink(range, vscode.Uri.file(frame.file).with({ fragment: `L${frame.lineNumber}` }));
        link.tooltip = `Open ${frame.file} at line ${frame.lineNumber}`;
        return link;
      });
      const workers = findBrokenPoolLinks(text, table.row(id) ? table.state.subtree(id) : []).map((broken) => {
        const link = new vscode.DocumentLink(new vscode.Range(broken.line, broken.start, broken.line, broken.end), revealRowUri(broken.worker.id));
        link.tooltip = broken.tooltip;
        return link;
      });
      return [...frames, ...workers];
    },
  });
}
