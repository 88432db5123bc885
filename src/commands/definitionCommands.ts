// Commands on a workspace definition's row and on ports: open the definition in .vscode/settings.json, open a port
// a process listens on in the browser (through asExternalUri, so it works over Remote-SSH and code-server).
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProcessService } from '../core/host/processService';
import { describeValue } from '../core/validate';
import type { WorkspaceDefinitions } from '../definitions/workspaceDefinitions';
import { definitionOf, isProblemElement, problemOf } from '../tree/elements';
import { runCommand } from './pickProcess';
import { isViewArgument, viewElements } from './viewArguments';

/** Where an entry of procscope.processes is in a settings file's text: its `"name": "…"`, else the setting itself. */
export function entryOffset(text: string, name: string | undefined): number {
  const setting = text.indexOf('"procscope.processes"');
  if (setting < 0) return 0;
  if (name === undefined) return setting + 1;
  const pattern = new RegExp(`"name"\\s*:\\s*${JSON.stringify(name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'g');
  pattern.lastIndex = setting;
  const match = pattern.exec(text);
  return match ? match.index + 1 : setting + 1;
}

export function registerDefinitionCommands(service: ProcessService, definitions: WorkspaceDefinitions): vscode.Disposable[] {
  const runner = definitions.runner;
  const isElement = viewElements((id) => service.row(id) !== undefined);

  const openDefinition = (arg?: unknown) =>
    runCommand(isViewArgument(isElement, arg), async () => {
      let folder: string;
      let name: string | undefined;
      if (typeof arg === 'string' && isProblemElement(arg)) {
        const problem = problemOf(runner.problems(), arg);
        if (!problem) throw new Error(`No such procscope.processes entry any more: ${describeValue(arg)}`);
        ({ folder, name } = problem);
      } else {
        ({ folder, name } = definitionOf(runner, arg));
      }
      const file = vscode.Uri.file(path.join(folder, '.vscode', 'settings.json'));
      const document = await vscode.workspace.openTextDocument(file);
      const offset = entryOffset(document.getText(), name);
      const at = document.positionAt(offset);
      await vscode.window.showTextDocument(document, { selection: new vscode.Range(at, at) });
      return file;
    });

  const openPort = (arg?: unknown) =>
    runCommand(isViewArgument(isElement, arg), async () => {
      const id = typeof arg === 'object' && arg !== null && 'id' in arg ? (arg as { id: unknown }).id : arg;
      const row = typeof id === 'string' ? service.row(id) : undefined;
      if (!row) throw new Error(`No process with id ${describeValue(id)}`);
      const ports = row.ports ?? [];
      if (ports.length === 0) throw new Error(`${row.name} listens on no TCP port`);
      const port = ports.length === 1
        ? ports[0]
        : (await vscode.window.showQuickPick(ports.map((p) => ({ label: `:${p}`, port: p })), { placeHolder: `Port of ${row.name} to open` }))?.port;
      if (port === undefined) return undefined;
      // asExternalUri forwards the port when the window is remote (Remote-SSH, Codespaces, code-server).
      const external = await vscode.env.asExternalUri(vscode.Uri.parse(`http://localhost:${port}/`));
      await vscode.env.openExternal(external);
      return external.toString();
    });

  return [
    vscode.commands.registerCommand('procscope.openDefinition', openDefinition),
    vscode.commands.registerCommand('procscope.openPort', openPort),
  ];
}
