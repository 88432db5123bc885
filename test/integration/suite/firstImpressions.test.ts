// What a new user meets first (issue #7): commands reached from the view's title bar and context menu, the
// empty states, and the words the view and tooltips use. Prompts are answered with the workbench's own
// quick-input commands, which act on whatever quick pick or input box is showing.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { readManifest } from '../../shared/manifest.mjs';
import * as vscode from 'vscode';
import type { ProcScopeApi } from '../../../src/api';
import type { ProcessSnapshot } from '../../../src/core/types';
import { definitionElement, FOLDED_SUFFIX, folderElement, problemElement } from '../../../src/tree/elements';
import { api, fixture, ROOT, sleep, stopEverything, waitFor } from './helpers';

const run = <T>(command: string, ...args: unknown[]) => vscode.commands.executeCommand<T>(command, ...args);

type Settled<T> = { value: T } | { error: unknown };

/**
 * Runs a command that is expected to show a quick pick or an input box, and answers it with `answer`
 * (a workbench command such as workbench.action.closeQuickOpen) until the command settles. A command that
 * settles without prompting settles all the same; one that never settles fails the test after `timeoutMs`.
 */
async function answerPrompt<T>(command: Thenable<T>, answer: string, timeoutMs = 15_000): Promise<Settled<T>> {
  let settled: Settled<T> | undefined;
  command.then((value) => { settled = { value }; }, (error: unknown) => { settled = { error }; });
  const deadline = Date.now() + timeoutMs;
  while (!settled) {
    if (Date.now() > deadline) throw new Error(`the command did not settle within ${timeoutMs} ms (no prompt to answer, or it waits for something else)`);
    await vscode.commands.executeCommand(answer);
    await sleep(100);
  }
  return settled;
}

function resolved<T>(outcome: Settled<T>): T {
  if ('error' in outcome) throw new Error(`expected the command to prompt and resolve, but it rejected: ${(outcome.error as Error).message ?? outcome.error}`);
  return outcome.value;
}

interface Manifest {
  contributes: {
    commands: { command: string; title: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
  };
}

const manifest = (): Manifest => readManifest(ROOT) as unknown as Manifest;

describe('First impressions: commands from the view, the palette and the empty state', () => {
  let procscope: ProcScopeApi;
  let row: ProcessSnapshot;
  before(async () => {
    procscope = await api();
  });
  beforeEach(async () => {
    // A live row, whose id is what VS Code hands a title-bar command while the row is selected.
    row = await procscope.start({ command: 'sleep', args: ['60'], name: 'selected-row' });
  });
  afterEach(() => stopEverything(procscope));

  it('Start Process… from the title bar, handed the selected row, prompts for a command line instead of failing', async () => {
    const before = procscope.processes().length;
    const outcome = await answerPrompt(run('procscope.start', row.id), 'workbench.action.closeQuickOpen');
    assert.equal(resolved(outcome), undefined, 'cancelling the prompt starts nothing');
    assert.equal(procscope.processes().length, before);
  });

  it('procscope.start still rejects what is not a ProcessSpec, and a spec with an empty command, with clear errors', async () => {
    await assert.rejects(Promise.resolve(run('procscope.start', 'sleep 1')), /Expected a ProcessSpec object, got "sleep 1" \(string\)/);
    await assert.rejects(Promise.resolve(run('procscope.start', { command: '' })), /Expected `command` to be a non-empty string, got "" \(string\)/);
  });

  it('Set Log Level… from the title bar, handed the selected row, shows the level picker instead of failing', async () => {
    const level = vscode.workspace.getConfiguration('procscope').get('logLevel');
    const outcome = await answerPrompt(run('procscope.setLogLevel', row.id), 'workbench.action.closeQuickOpen');
    assert.equal(resolved(outcome), undefined);
    assert.equal(vscode.workspace.getConfiguration('procscope').get('logLevel'), level, 'the level is unchanged');
    await assert.rejects(Promise.resolve(run('procscope.setLogLevel', 'LOUD')), /Unknown log level "LOUD" \(string\)/);
  });

  it('Start Process…, Run Active File and Set Log Level… prompt whatever is selected: a definition, a folder, a problem, a "+N ended" row', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    const selected = [
      definitionElement({ folder, name: 'heartbeat' }),
      folderElement(folder),
      problemElement({ folder, index: 0 }),
      `${row.id}${FOLDED_SUFFIX}`,
    ];
    await run('workbench.action.closeAllEditors');
    await waitFor(() => vscode.window.activeTextEditor === undefined, 5000, 'no active editor');
    const before = procscope.processes().length;
    for (const element of selected) {
      for (const command of ['procscope.start', 'procscope.runFile', 'procscope.setLogLevel']) {
        const outcome = await answerPrompt(run(command, element), 'workbench.action.closeQuickOpen');
        assert.equal(resolved(outcome), undefined, `${command} handed ${element} prompts, and cancelling does nothing`);
      }
    }
    assert.equal(procscope.processes().length, before, 'nothing was started');
  });

  it('Copy PID on a row that is no process (a definition not started) answers in the status bar instead of failing', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    assert.equal(await run('procscope.copyPid', definitionElement({ folder, name: 'heartbeat' })), undefined);
    assert.equal(await run('procscope.copyPid', row.id), row.pid);
    await assert.rejects(Promise.resolve(run('procscope.copyPid', 'p999999')), /No process with id "p999999" \(string\)/);
    const entry = manifest().contributes.menus['view/item/context'].find((m) => m.command === 'procscope.copyPid');
    assert.match(entry?.when ?? '', /viewItem =~ \/\^process/, 'the menu offers Copy PID on process rows only');
  });

  it('the title-bar commands that take nothing ignore the selected row', async () => {
    const picked = await answerPrompt(run('procscope.startConfigured', row.id), 'workbench.action.closeQuickOpen');
    assert.equal(resolved(picked), undefined);
    await run('procscope.showLog', row.id);
    const removed = await run<string[]>('procscope.clearExited', row.id);
    assert.ok(!removed.includes(row.id), 'the live row stays');
    const stopped = await run<ProcessSnapshot[]>('procscope.stopAll', row.id);
    assert.ok(stopped.some((p) => p.id === row.id && !p.alive));
  });

  it('Run Active File with no editor open offers the workspace\'s files, and runs the one picked', async () => {
    await run('workbench.action.closeAllEditors');
    await waitFor(() => vscode.window.activeTextEditor === undefined, 5000, 'no active editor');
    const outcome = await answerPrompt(run<ProcessSnapshot | undefined>('procscope.runFile'), 'workbench.action.acceptSelectedQuickOpenItem');
    const started = resolved(outcome);
    assert.ok(started, 'a file was picked and started');
    assert.equal(started.name, 'hello.py');
    assert.match(procscope.output((await procscope.join(started.id, 20_000)).id), /hello from the workspace/);
    await run('workbench.action.closeAllEditors');
  });

  it('Run Active File from the title bar, handed the selected row, offers the files too; a wrong argument is rejected', async () => {
    await run('workbench.action.closeAllEditors');
    await waitFor(() => vscode.window.activeTextEditor === undefined, 5000, 'no active editor');
    const outcome = await answerPrompt(run('procscope.runFile', row.id), 'workbench.action.closeQuickOpen');
    assert.equal(resolved(outcome), undefined);
    await assert.rejects(Promise.resolve(run('procscope.runFile', 42)), /Expected a file Uri to run, got 42 \(number\)/);
  });

  it('Join… in the row\'s context menu prompts for a timeout (cancelling it joins nothing)', async () => {
    const entry = manifest().contributes.menus['view/item/context'].find((m) => manifest().contributes.commands.find((c) => c.command === m.command)?.title === 'Join…');
    assert.ok(entry, 'the context menu has a Join… entry');
    // VS Code hands a context-menu command the row and, unless several rows are selected, undefined.
    const outcome = await answerPrompt(run(entry.command, row.id, undefined), 'workbench.action.closeQuickOpen');
    assert.equal(resolved(outcome), undefined);
    assert.equal(procscope.get(row.id)?.alive, true);
  });

  it('procscope.join with an id and a timeout stays prompt-free', async () => {
    const joined = await run<ProcessSnapshot>('procscope.join', row.id, 50);
    assert.equal(joined.alive, true);
  });

  it('a process that exited 0 reads "stopped", as multiprocessing prints it; others keep the code', async () => {
    const ok = await procscope.start({ command: fixture('exit-code.sh'), args: ['0'] });
    const failed = await procscope.start({ command: fixture('exit-code.sh'), args: ['3'] });
    assert.equal((await procscope.join(ok.id)).status, 'stopped');
    assert.equal((await procscope.join(failed.id)).status, 'stopped[3]');
    assert.equal((await procscope.terminate(row.id)).status, 'stopped[SIGTERM]');
  });

  it('Edit Workspace Processes opens .vscode/settings.json at procscope.processes, leaving existing definitions as they are', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder);
    const file = path.join(folder.uri.fsPath, '.vscode', 'settings.json');
    const before = readFileSync(file, 'utf8');
    await run('procscope.editWorkspaceProcesses');
    const editor = await waitFor(() => vscode.window.activeTextEditor?.document.uri.fsPath === file && vscode.window.activeTextEditor, 10_000, 'the settings file in an editor');
    assert.match(editor.document.lineAt(editor.selection.active.line).text, /"procscope\.processes"/);
    assert.equal(readFileSync(file, 'utf8'), before);
    await run('workbench.action.closeAllEditors');
  });
});
