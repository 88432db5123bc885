import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProcScopeApi } from '../../../src/api';
import type { ProcessSnapshot } from '../../../src/core/types';
import { api, descendantsOf, isRunning, ROOT, stopEverything, waitFor } from './helpers';

const EXAMPLES = path.join(ROOT, 'examples');

/** The multiprocessing children ProcScope saw, by name. */
function pythonChildren(procscope: ProcScopeApi, id: string): Map<string, ProcessSnapshot> {
  return new Map(descendantsOf(procscope, id).filter((p) => p.kind === 'python').map((p) => [p.name, p]));
}

describe('Python multiprocessing, seen from inside (the examples)', function () {
  this.timeout(60_000);
  let procscope: ProcScopeApi;
  before(async () => {
    procscope = await api();
  });
  after(() => stopEverything(procscope));

  /** Runs an example to its end through the API, at `level`; returns the launched process and its children. */
  async function runExample(file: string, level = 'INFO'): Promise<{ root: ProcessSnapshot; children: Map<string, ProcessSnapshot>; output: string }> {
    await vscode.commands.executeCommand('procscope.setLogLevel', level);
    try {
      const started = await procscope.start({ command: 'python3', args: [file], cwd: EXAMPLES, name: file });
      const root = await procscope.join(started.id, 20_000);
      assert.equal(root.alive, false, `${file} did not finish`);
      return { root, children: pythonChildren(procscope, root.id), output: procscope.output(root.id) };
    } finally {
      await vscode.commands.executeCommand('procscope.setLogLevel', 'INFO');
    }
  }

  it('spawn: four workers, named Process-1 … Process-4, nested under the program, each exitcode 0', async () => {
    const { root, children, output } = await runExample('01_spawn.py');
    assert.equal(root.exitCode, 0);
    assert.deepEqual([...children.keys()].sort(), ['Process-1', 'Process-2', 'Process-3', 'Process-4']);
    for (const child of children.values()) {
      assert.equal(child.parentId, root.id);
      assert.equal(child.ppid, root.pid);
      assert.equal(child.exitCode, 0);
      assert.equal(child.alive, false);
      assert.equal(child.status, 'stopped');
    }
    assert.equal(output.match(/hello from Process-\d/g)?.length, 4);
  });

  it('args: each worker prints its own arguments', async () => {
    const { children, output } = await runExample('02_args.py');
    assert.equal(children.size, 4);
    for (const line of ['task 0: alpha', 'task 1: beta', 'task 2: gamma', 'task 3: delta']) assert.ok(output.includes(line), line);
  });

  it('importable target: three children running a function from another module', async () => {
    const { root, children, output } = await runExample('03_importable_target.py');
    assert.equal(root.exitCode, 0);
    assert.equal(children.size, 3);
    assert.equal(output.match(/worker running in pid \d+/g)?.length, 3);
  });

  it('names: custom names are kept and the unnamed one is Process-3', async () => {
    const { children } = await runExample('04_names.py');
    assert.deepEqual([...children.keys()].sort(), ['Process-3', 'indexer', 'uploader']);
  });

  it('daemon: the daemon child is flagged and terminated when the main program exits; non-daemon exits 0', async () => {
    const { root, children, output } = await runExample('05_daemon.py');
    assert.equal(root.exitCode, 0);
    const daemon = children.get('daemon');
    const worker = children.get('non-daemon');
    assert.equal(daemon?.daemon, true);
    assert.equal(daemon?.exitCode, -15);
    assert.equal(daemon?.status, 'stopped[SIGTERM]');
    assert.equal(worker?.daemon, false);
    assert.equal(worker?.exitCode, 0);
    assert.match(output, /begin: daemon \d+/);
    assert.doesNotMatch(output, /end: daemon/);
    assert.ok(!isRunning(daemon?.pid ?? null));
  });

  it('join: waiting for the daemon lets it finish', async () => {
    const { children, output } = await runExample('06_join.py');
    assert.equal(children.get('daemon')?.exitCode, 0);
    assert.equal(children.get('non-daemon')?.exitCode, 0);
    assert.match(output, /slow: end/);
    assert.match(output, /both joined/);
  });

  it('join with a timeout: the child is still alive when join returns, then terminated at exit', async () => {
    await vscode.commands.executeCommand('procscope.setLogLevel', 'INFO');
    const started = await procscope.start({ command: 'python3', args: ['07_join_timeout.py'], cwd: EXAMPLES });
    const child = await waitFor(() => pythonChildren(procscope, started.id).get('daemon'), 5000, 'the daemon child');
    assert.equal(child.alive, true);
    assert.equal(child.daemon, true);
    await procscope.join(started.id, 20_000);
    assert.match(procscope.output(started.id), /after join\(1\.0\): is_alive\(\) = True/);
    assert.equal(procscope.get(child.id)?.exitCode, -15);
  });

  it('terminate: the child ends stopped[SIGTERM] with exitcode -15', async () => {
    const { children, output } = await runExample('08_terminate.py');
    assert.equal(children.get('Process-1')?.exitCode, -15);
    assert.match(output, /joined: +<Process\(Process-1, stopped\[SIGTERM\]\)> False/);
  });

  it('exit codes: exit_error 1, exit_ok 0, return_value 0, raises 1, terminated -15', async () => {
    const { children, output } = await runExample('09_exit_codes.py');
    const codes = ['exit_error', 'exit_ok', 'return_value', 'raises', 'terminated'].map((name) => children.get(name)?.exitCode);
    assert.deepEqual(codes, [1, 0, 0, 1, -15]);
    assert.match(output, /Traceback \(most recent call last\):[\s\S]*ValueError: something went wrong in the child/);
  });

  it('logging at DEBUG: multiprocessing records appear in the log as log_to_stderr() prints them', async () => {
    const { root, output } = await runExample('10_logging.py', 'DEBUG');
    const lines = procscope.logLines();
    const mine = (record: string) => lines.some((l) => l.endsWith(record) && l.includes(root.name));
    assert.ok(mine('[INFO/Process-1] child process calling self.run()'), lines.slice(-30).join('\n'));
    assert.ok(mine('[INFO/Process-1] process exiting with exitcode 0'));
    assert.ok(mine('[INFO/MainProcess] process shutting down'));
    assert.ok(mine('[DEBUG/MainProcess] running all "atexit" finalizers with priority >= 0'));
    // The program's own log_to_stderr() output is unchanged, in its stderr.
    assert.match(output, /\[INFO\/Process-1\] child process calling self\.run\(\)/);
  });

  it('logging at INFO: DEBUG records are not forwarded', async () => {
    const { root } = await runExample('11_get_logger.py', 'INFO');
    const lines = procscope.logLines().filter((l) => l.includes(root.name));
    assert.ok(lines.some((l) => l.endsWith('[INFO/Process-1] child process calling self.run()')));
    assert.ok(!lines.some((l) => l.includes('[DEBUG/')), lines.join('\n'));
  });

  it('subclassing Process: Counter-1 … Counter-3', async () => {
    const { children } = await runExample('12_subclass.py');
    assert.deepEqual([...children.keys()].sort(), ['Counter-1', 'Counter-2', 'Counter-3']);
  });

  it('a Pool whose worker raises: daemon workers, exit code 1, the traceback linked to the failing line', async () => {
    const { root, children, output } = await runExample('13_pool_traceback.py');
    assert.equal(root.exitCode, 1);
    const workers = [...children.values()].filter((c) => /^ForkPoolWorker-\d+$/.test(c.name));
    assert.equal(workers.length, 2);
    for (const worker of workers) assert.equal(worker.daemon, true);
    assert.match(output, /ZeroDivisionError/);
    await vscode.commands.executeCommand('procscope.showOutput', root.id);
    const editor = await waitFor(() => vscode.window.visibleTextEditors.find((e) => e.document.uri.query === root.id), 5000, 'the output');
    const links = await vscode.commands.executeCommand<vscode.DocumentLink[]>('vscode.executeLinkProvider', editor.document.uri);
    const target = links.map((l) => l.target?.toString() ?? '').find((t) => t.includes('13_pool_traceback.py'));
    assert.equal(target, vscode.Uri.file(path.join(EXAMPLES, '13_pool_traceback.py')).with({ fragment: 'L6' }).toString());
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('the spawn start method: children run in fresh interpreters and are still reported', async () => {
    const { root, children } = await runExample('14_spawn_method.py', 'DEBUG');
    assert.equal(root.exitCode, 0);
    assert.equal(children.size, 2);
    for (const child of children.values()) {
      assert.equal(child.exitCode, 0);
      assert.equal(child.ppid, root.pid);
      const started = `[DEBUG/${child.name}] process started by ${root.name} with pid ${child.pid} (spawn)`;
      assert.ok(procscope.logLines().includes(started), `no line ${started}`);
    }
  });

  it('nested children: Process-1:1 and Process-1:2 under Process-1', async () => {
    const { root, children } = await runExample('15_nested.py');
    const branch = children.get('Process-1');
    assert.equal(branch?.parentId, root.id);
    for (const leaf of ['Process-1:1', 'Process-1:2']) {
      assert.equal(children.get(leaf)?.parentId, branch?.id, leaf);
      assert.equal(children.get(leaf)?.ppid, branch?.pid);
      assert.equal(children.get(leaf)?.exitCode, 0);
    }
  });

  it('Run Active File runs a .py file from its folder, instrumented, named after the file', async () => {
    const uri = vscode.Uri.file(path.join(EXAMPLES, '04_names.py'));
    const started = await vscode.commands.executeCommand<ProcessSnapshot>('procscope.runFile', uri);
    assert.equal(started.name, '04_names.py');
    assert.equal(started.cwd, EXAMPLES);
    await procscope.join(started.id, 20_000);
    assert.deepEqual([...pythonChildren(procscope, started.id).keys()].sort(), ['Process-3', 'indexer', 'uploader']);
  });

  it('drives processes through the API the way a Process subclass overrides run()', async () => {
    /** What an extension might write: a worker whose run() is a command line, started and joined through ProcScope. */
    class Worker {
      snapshot: ProcessSnapshot | undefined;
      constructor(private readonly api: ProcScopeApi, readonly name: string) {}
      run(): { command: string; args: string[] } {
        return { command: 'python3', args: ['-c', `print("In ${this.name}")`] };
      }
      async start(): Promise<void> {
        this.snapshot = await this.api.start({ ...this.run(), name: this.name });
      }
      async join(): Promise<ProcessSnapshot> {
        return this.api.join((this.snapshot as ProcessSnapshot).id);
      }
    }
    const workers = [1, 2, 3].map((n) => new Worker(procscope, `Worker-${n}`));
    for (const w of workers) await w.start();
    for (const w of workers) {
      const done = await w.join();
      assert.equal(done.exitCode, 0);
      assert.equal(procscope.output(done.id), `In ${w.name}\n`);
    }
  });
});
