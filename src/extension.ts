// Activation wires the core to VS Code; deactivation ends every process the way multiprocessing's exit handler does.
import { homedir } from 'node:os';
import * as vscode from 'vscode';
import { createApi, type ProcScopeApi } from './api';
import { registerLogCommands } from './commands/logCommands';
import { registerProcessCommands } from './commands/processCommands';
import { registerStartCommands } from './commands/startCommands';
import { SettingsWatcher } from './config';
import { PythonInstrumentation } from './core/instrument/pythonInstrumentation';
import { Logger } from './core/logger';
import { createProcessSource } from './core/os/processSource';
import { ProcessTable } from './core/processTable';
import { WatchdogClient } from './core/watchdog/client';
import { OutputEcho } from './output/echo';
import { LogChannel } from './output/logChannel';
import { ProcessOutputDocuments } from './output/processOutputDocuments';
import { registerTracebackLinks } from './output/tracebackLinks';
import { ProcessStatusBar } from './statusBar';
import { ProcessTreeProvider } from './tree/processTreeProvider';

let table: ProcessTable | undefined;

export function activate(context: vscode.ExtensionContext): ProcScopeApi {
  const settings = new SettingsWatcher();
  const logger = new Logger(settings.level);
  const channel = new LogChannel(logger);
  const python = new PythonInstrumentation(context.asAbsolutePath('dist/python'), logger);
  table = new ProcessTable({
    source: createProcessSource(),
    logger,
    settings: () => settings.value,
    watchdog: new WatchdogClient(context.asAbsolutePath('dist/watchdog.js')),
    instrumentation: python,
    defaultCwd: () => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? homedir(),
  });
  python.attach(table);
  const tree = new ProcessTreeProvider(table);
  const outputs = new ProcessOutputDocuments(table);
  const changes = new vscode.EventEmitter<void>();
  context.subscriptions.push(
    settings, channel, python, tree, outputs, changes,
    settings.onDidChange(() => {
      logger.setLevel(settings.level);
      python.setLevel(settings.level);
    }),
    table.onDidChange(() => changes.fire()),
    vscode.window.createTreeView('procscope.processes', { treeDataProvider: tree, showCollapseAll: true }),
    new ProcessStatusBar(table),
    registerTracebackLinks(table),
    new OutputEcho(table, logger, () => settings.value.echoOutput),
    ...registerStartCommands(table, settings, outputs),
    ...registerProcessCommands(table, outputs),
    ...registerLogCommands(channel, settings, (level) => {
      logger.setLevel(level);
      python.setLevel(logger.level);
    }),
  );
  return createApi(table, logger, changes.event);
}

export async function deactivate(): Promise<void> {
  await table?.shutdown();
  table?.dispose();
}
