// Activation wires the core to VS Code; deactivation hands the processes back to the supervisor (see SPEC §2).
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { createApi, type ProcScopeApi } from './api';
import { registerDefinitionCommands } from './commands/definitionCommands';
import { registerLogCommands } from './commands/logCommands';
import { registerProcessCommands } from './commands/processCommands';
import { registerStartCommands } from './commands/startCommands';
import { SettingsWatcher } from './config';
import { ProcessService } from './core/host/processService';
import { SupervisorRegistry } from './core/host/registry';
import { Logger, MAIN_PROCESS } from './core/logger';
import { createProcessSource } from './core/os/processSource';
import { WorkspaceDefinitions } from './definitions/workspaceDefinitions';
import { OutputEcho } from './output/echo';
import { LogChannel } from './output/logChannel';
import { ProcessOutputDocuments } from './output/processOutputDocuments';
import { registerTracebackLinks } from './output/tracebackLinks';
import { ProcessStatusBar } from './statusBar';
import { registerTimeline } from './timeline/timelinePanel';
import { ProcessTreeProvider } from './tree/processTreeProvider';
import { registerRevealRow } from './tree/revealRow';

let service: ProcessService | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<ProcScopeApi> {
  const began = performance.now();
  const settings = new SettingsWatcher();
  const logger = new Logger(settings.level);
  const channel = new LogChannel(logger);
  settings.reportTo((problem) => logger.warning(MAIN_PROCESS, problem));
  // Per workspace (a window): the next extension host of this window finds its supervisors here.
  const storage = (context.storageUri ?? context.globalStorageUri).fsPath;
  service = new ProcessService({
    supervisorScript: context.asAbsolutePath('dist/supervisor.js'),
    helperDir: context.asAbsolutePath('dist/python'),
    logger,
    settings: () => settings.value.supervisor,
    defaultCwd: () => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? homedir(),
    registry: new SupervisorRegistry(join(storage, 'supervisors.json')),
    source: createProcessSource(),
  });
  const processes = service;
  const definitions = new WorkspaceDefinitions(processes, logger);
  const tree = new ProcessTreeProvider(processes, definitions.runner);
  const outputs = new ProcessOutputDocuments(processes);
  const changes = new vscode.EventEmitter<void>();
  const treeView = vscode.window.createTreeView('procscope.processes', { treeDataProvider: tree, showCollapseAll: true });
  context.subscriptions.push(
    settings, channel, tree, outputs, changes, definitions,
    settings.onDidChange(() => {
      logger.setLevel(settings.level);
      void processes.configure();
    }),
    processes.onDidChange(() => changes.fire()),
    treeView,
    registerTimeline(context.extensionUri, processes, treeView, definitions.runner),
    new ProcessStatusBar(processes),
    registerTracebackLinks(processes),
    registerRevealRow(processes, treeView),
    new OutputEcho(processes, logger, () => settings.value.echoOutput),
    ...registerStartCommands(processes, definitions, outputs),
    ...registerProcessCommands(processes, outputs),
    ...registerDefinitionCommands(processes, definitions),
    ...registerLogCommands(channel, settings, (level) => {
      logger.setLevel(level);
      void processes.configure();
    }),
  );
  // Processes of this window that outlived its previous extension host come back before the API is handed out; then
  // the definitions that start with their folder start (those re-adopted run already).
  await processes.adopt();
  void definitions.autostart();
  // At DEBUG, how long this took: the only measure of activate() once it ran onStartupFinished (npm run bench reads it).
  logger.debug(MAIN_PROCESS, `activated in ${(performance.now() - began).toFixed(1)} ms`);
  return createApi(processes, logger, definitions, changes.event);
}

export async function deactivate(): Promise<void> {
  await service?.detach();
  service?.dispose();
  service = undefined;
}
