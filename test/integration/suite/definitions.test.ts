import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProcScopeApi } from '../../../src/api';
import type { ProcessSnapshot } from '../../../src/core/types';
import { api, fixture, isRunning, stopEverything, waitFor } from './helpers';

/** A TCP port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('Workspace processes (procscope.processes)', function () {
  this.timeout(90_000);
  let procscope: ProcScopeApi;
  /** The workspace's settings file as it was: written back byte for byte afterwards. */
  let previous: string | undefined;
  const settingsFile = () => path.join(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath as string, '.vscode', 'settings.json');
  let dbPort: number;
  let webPort: number;
  const config = () => vscode.workspace.getConfiguration('procscope', vscode.workspace.workspaceFolders?.[0]?.uri);

  before(async () => {
    procscope = await api();
    await stopEverything(procscope);
    await vscode.commands.executeCommand('procscope.clearExited');
    dbPort = await freePort();
    webPort = await freePort();
    previous = fs.readFileSync(settingsFile(), 'utf8');
    await config().update('processes', [
      { name: 'db', command: 'python3', args: [fixture('python/tcp_server.py'), String(dbPort), '1'], ready: { port: dbPort } },
      { name: 'migrate', command: 'sh', args: ['-c', 'echo migrating; sleep 0.3'], dependsOn: { db: 'ready' } },
      { name: 'web', command: 'python3', args: ['-m', 'http.server', String(webPort), '--bind', '127.0.0.1'], dependsOn: { migrate: 'succeeded' }, ready: { http: `http://127.0.0.1:${webPort}/` } },
      { name: 'flaky', command: 'sh', args: ['-c', 'exit 1'], restart: 'on-failure' },
      { name: 'ticker', command: 'sleep', args: ['300'], restart: 'always' },
      { name: 'broken', command: 'sleep', ready: { port: 'eighty' } },
    ], vscode.ConfigurationTarget.Workspace);
    await waitFor(() => procscope.definitions().length === 6, 10_000, 'the definitions to be read');
  });

  after(async () => {
    await stopEverything(procscope);
    if (previous !== undefined) fs.writeFileSync(settingsFile(), previous);
    await waitFor(() => procscope.definitions().every((d) => ['heartbeat', 'server'].includes(d.name)), 10_000, 'the workspace\'s own definitions back');
  });

  it('lists the definitions before they run, and the bad one as invalid', () => {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.deepEqual(procscope.definitions().map((d) => [d.name, d.state, d.id, d.folder]), [
      ['db', 'not started', null, folder], ['migrate', 'not started', null, folder], ['web', 'not started', null, folder],
      ['flaky', 'not started', null, folder], ['ticker', 'not started', null, folder], ['broken', 'invalid', null, folder],
    ]);
    assert.ok(procscope.logLines().some((l) => /\[ERROR\/MainProcess\] procscope\.processes: broken \(entry 6\): `ready\.port`/.test(l)));
  });

  it('startDefinition starts its dependencies first, each once its condition holds; ready flags and ports follow', async () => {
    const marker = procscope.logLines().length;
    const web = await procscope.startDefinition('web');
    assert.equal(web.definition, 'web');
    const started = procscope.logLines().slice(marker).filter((l) => /\[INFO\/(db|migrate|web)\] process started with pid/.test(l)).map((l) => /\[INFO\/(\w+)\]/.exec(l)?.[1]);
    assert.deepEqual(started, ['db', 'migrate', 'web']);
    await waitFor(() => procscope.get(web.id)?.ready === true, 20_000, 'web ready');
    const db = procscope.definitions().find((d) => d.name === 'db');
    assert.equal(procscope.get(db?.id as string)?.ready, true);
    await waitFor(() => procscope.get(db?.id as string)?.ports?.includes(dbPort), 10_000, 'db listening in the snapshot');
    await waitFor(() => procscope.get(web.id)?.ports?.includes(webPort), 10_000, 'web listening in the snapshot');
    const migrate = procscope.get(procscope.definitions().find((d) => d.name === 'migrate')?.id as string);
    assert.equal(migrate?.exitCode, 0);
    assert.equal(procscope.definitions().find((d) => d.name === 'web')?.state, 'ready');
  });

  it('Start All twice starts nothing new: not what runs, nor the job that finished; startDefinition of a running one returns it', async () => {
    const starts = () => procscope.logLines().filter((l) => /\[INFO\/(db|migrate|web|ticker)\] process started with pid/.test(l)).length;
    const runsOfMigrate = () => procscope.get(procscope.definitions().find((d) => d.name === 'migrate')?.id as string)?.restarts ?? 0;
    const migrateRuns = runsOfMigrate();
    await vscode.commands.executeCommand('procscope.startAll');
    const roots = () => procscope.processes().filter((p) => p.parentId === null && p.alive).map((p) => p.definition).sort();
    await waitFor(() => roots().includes('ticker'), 10_000, 'ticker to run');
    const once = roots();
    const startedOnce = starts();
    const again = await vscode.commands.executeCommand<ProcessSnapshot[]>('procscope.startAll');
    assert.deepEqual(roots(), once);
    assert.equal(starts(), startedOnce, 'the second Start All started no process');
    assert.equal(runsOfMigrate(), migrateRuns, 'the finished migrate job was not run again');
    assert.ok(again.some((p) => p.definition === 'db' && p.alive), 'Start All answers with the runs of the definitions');
    assert.equal(once.filter((name) => name === 'db').length, 1);
    const web = procscope.definitions().find((d) => d.name === 'web');
    assert.equal((await procscope.startDefinition('web')).id, web?.id);
  });

  it('Open Definition jumps to the entry in .vscode/settings.json; Open in Browser opens a port through asExternalUri', async () => {
    const file = await vscode.commands.executeCommand<vscode.Uri>('procscope.openDefinition', 'migrate');
    assert.equal(file.fsPath, settingsFile());
    const editor = await waitFor(() => vscode.window.activeTextEditor?.document.uri.fsPath === settingsFile() && vscode.window.activeTextEditor, 10_000, 'the settings file');
    assert.match(editor.document.lineAt(editor.selection.active.line).text, /"name"\s*:\s*"migrate"/);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const db = procscope.get(procscope.definitions().find((d) => d.name === 'db')?.id as string) as ProcessSnapshot;
    await waitFor(() => procscope.get(db.id)?.ports?.includes(dbPort), 10_000, 'db listening');
    const opened = await vscode.commands.executeCommand<string>('procscope.openPort', db.id);
    const expected = (await vscode.env.asExternalUri(vscode.Uri.parse(`http://localhost:${dbPort}/`))).toString();
    assert.equal(opened, expected, 'the port opened as VS Code maps it for this window');
    assert.ok(opened.includes(String(dbPort)), opened);
    // A row with no port (from its menu, as VS Code hands it): nothing opens; the error is shown, not thrown.
    assert.equal(await vscode.commands.executeCommand('procscope.openPort', procscope.definitions().find((d) => d.name === 'migrate')?.id), undefined);
  });

  it('a definition killed from outside comes back in its row (restart: always); stopped by hand it stays stopped', async () => {
    const ticker = procscope.definitions().find((d) => d.name === 'ticker');
    const first = procscope.get(ticker?.id as string) as ProcessSnapshot;
    process.kill(first.pid as number, 'SIGKILL');
    const back = await waitFor(() => {
      const now = procscope.get(first.id);
      return now?.alive && now.pid !== first.pid ? now : undefined;
    }, 15_000, 'ticker to come back');
    assert.equal(back.restarts, 1);
    assert.equal(back.lastExitCode, -9);
    // The supervisor decides on a restart (and logs "restarting in N ms") while it handles an exit, before it logs
    // "process exiting": once that line of this exit is here, a restart would have been announced.
    const count = (pattern: RegExp) => procscope.logLines().filter((l) => pattern.test(l)).length;
    const EXITING = /^\[INFO\/ticker\] process exiting with exitcode /;
    const RESTARTING = /^\[INFO\/ticker\] .*: restarting in \d+ ms /;
    const exitsBefore = count(EXITING);
    const restartsBefore = count(RESTARTING);
    await procscope.terminate(first.id);
    await waitFor(() => count(EXITING) > exitsBefore, 15_000, 'the supervisor to log the exit of ticker');
    assert.equal(count(RESTARTING), restartsBefore, 'a restart was scheduled after a stop by hand');
    assert.equal(procscope.get(first.id)?.alive, false, 'stopped by hand, it stays stopped');
    assert.equal(procscope.get(first.id)?.restarts, 1);
    assert.ok(!isRunning(back.pid));
  });

  it('a crash loop is stopped after 5 failures in 60 s, with the WARNING, and the row says so', async () => {
    await waitFor(() => procscope.logLines().includes('[WARNING/flaky] crash loop: restarting flaky stopped after 5 failures in 60 s'), 40_000, 'the breaker');
    const flaky = procscope.definitions().find((d) => d.name === 'flaky');
    assert.equal(flaky?.state, 'crash loop');
    assert.equal(procscope.get(flaky?.id as string)?.restarts, 4);
    assert.equal(procscope.processes().filter((p) => p.definition === 'flaky').length, 1);
  });

  it('procscope.restart of a definition restarts it in place', async () => {
    const web = procscope.definitions().find((d) => d.name === 'web');
    const restarted = await vscode.commands.executeCommand<ProcessSnapshot>('procscope.restart', web?.id);
    assert.equal(restarted.id, web?.id);
    assert.ok((restarted.restarts ?? 0) >= 1);
    await waitFor(() => procscope.get(restarted.id)?.ready === true, 20_000, 'web ready again');
  });
});
