import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { PythonInstrumentation } from '../../src/core/instrument/pythonInstrumentation';
import { Logger } from '../../src/core/logger';
import { LEVELS } from '../../src/core/levels';
import { createProcessSource } from '../../src/core/os/processSource';
import { DEFAULT_SETTINGS, ProcessTable } from '../../src/core/processTable';
import { ROOT } from './helpers';

const logger = new Logger(LEVELS.DEBUG);
const python = new PythonInstrumentation(resolve(ROOT, 'src/python'), logger);
const table = new ProcessTable({ source: createProcessSource(), logger, instrumentation: python, settings: () => ({ ...DEFAULT_SETTINGS, pollIntervalMs: 100 }) });
python.attach(table);
after(() => {
  table.dispose();
  python.dispose();
});

describe('ProcessTable with the Python helper', () => {
  for (let round = 1; round <= 5; round++) {
    it(`reports every child of a program and its exit code, by the time join returns (round ${round})`, async () => {
      const p = await table.start({ command: 'python3', args: ['01_spawn.py'], cwd: resolve(ROOT, 'examples') });
      await table.join(p.id);
      const children = table.processes().filter((s) => s.parentId === p.id && s.kind === 'python');
      assert.deepEqual(children.map((c) => [c.name, c.exitCode]).sort(), [['Process-1', 0], ['Process-2', 0], ['Process-3', 0], ['Process-4', 0]], logger.lines().slice(-40).join('\n'));
    });
  }

  it('instruments a Python program started through a shell command line too', async () => {
    const p = await table.start({ command: 'python3 04_names.py', shell: true, cwd: resolve(ROOT, 'examples') });
    await table.join(p.id);
    // The shell may run python as its child: the multiprocessing children then nest under that one.
    const names = table.processes().filter((s) => s.kind === 'python' && table.entry(s.id)?.rootId === p.id).map((s) => s.name).sort();
    assert.deepEqual(names, ['Process-3', 'indexer', 'uploader']);
  });

  it('does not instrument when the spec says none', async () => {
    const p = await table.start({ command: 'python3', args: ['04_names.py'], cwd: resolve(ROOT, 'examples'), instrument: 'none' });
    await table.join(p.id);
    assert.equal(table.processes().filter((s) => s.parentId === p.id && s.kind === 'python').length, 0);
  });
});
