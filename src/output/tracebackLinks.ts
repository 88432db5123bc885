// Makes each `File "…", line N` in a process's output a link that opens the file at that line.
import * as vscode from 'vscode';
import type { ProcessService } from '../core/host/processService';
import { findTracebackFrames } from '../core/traceback';
import { OUTPUT_SCHEME } from './processOutputDocuments';

export function registerTracebackLinks(table: ProcessService): vscode.Disposable {
  return vscode.languages.registerDocumentLinkProvider({ scheme: OUTPUT_SCHEME }, {
    provideDocumentLinks(document) {
      const cwd = table.row(document.uri.query)?.cwd ?? '/';
      return findTracebackFrames(document.getText(), cwd).map((frame) => {
        const range = new vscode.Range(frame.line, frame.start, frame.line, frame.end);
        const link = new vscode.DocumentLink(range, vscode.Uri.file(frame.file).with({ fragment: `L${frame.lineNumber}` }));
        link.tooltip = `Open ${frame.file} at line ${frame.lineNumber}`;
        return link;
      });
    },
  });
}
