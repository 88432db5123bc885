import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPythonCommand, pythonEnv, sanitizeMessage, sanitizeName } from '../../src/core/instrument';

const server = { PROCSCOPE_SOCKET: '/tmp/procscope-abc/sock', PROCSCOPE_TOKEN: '00ff' };

describe('pythonEnv', () => {
  it('prepends the helper to PYTHONPATH, keeping what was there, and sets the PROCSCOPE_ variables', () => {
    const env = pythonEnv('/ext/dist/python', server, 20, { PATH: '/usr/bin', PYTHONPATH: '/work/lib:/opt/lib' }, 'linux');
    assert.deepEqual(env, {
      PATH: '/usr/bin',
      PYTHONPATH: '/ext/dist/python:/work/lib:/opt/lib',
      PROCSCOPE_HELPER_DIR: '/ext/dist/python',
      PROCSCOPE_LOG_LEVEL: '20',
      PROCSCOPE_SOCKET: '/tmp/procscope-abc/sock',
      PROCSCOPE_TOKEN: '00ff',
    });
  });

  it('adds no empty PYTHONPATH entry (which would put the current directory on sys.path)', () => {
    assert.equal(pythonEnv('/h', server, 10, {}, 'linux').PYTHONPATH, '/h');
    assert.equal(pythonEnv('/h', server, 10, { PYTHONPATH: '' }, 'linux').PYTHONPATH, '/h');
  });

  it('does not add the helper twice', () => {
    assert.equal(pythonEnv('/h', server, 10, { PYTHONPATH: '/a:/h' }, 'linux').PYTHONPATH, '/h:/a');
  });

  it('replaces PROCSCOPE_ variables inherited from an outer launch, and leaves them out when the server gave none', () => {
    const env = pythonEnv('/h', {}, 0, { PROCSCOPE_SOCKET: '/old', PROCSCOPE_TOKEN: 'old', procscope_log_level: '5' }, 'linux');
    assert.deepEqual(env, { PYTHONPATH: '/h', PROCSCOPE_HELPER_DIR: '/h', PROCSCOPE_LOG_LEVEL: '0' });
  });

  it('uses ; and keeps the spelling of Path-like keys on Windows', () => {
    const env = pythonEnv('C:\\ext\\python', server, 20, { PythonPath: 'C:\\lib' }, 'win32');
    assert.equal(env.PythonPath, 'C:\\ext\\python;C:\\lib');
    assert.equal(env.PYTHONPATH, undefined);
  });

  it('rejects a level that is not a non-negative integer', () => {
    assert.throws(() => pythonEnv('/h', server, -1, {}), { message: 'Expected `level` to be a non-negative integer, got -1 (number)' });
    assert.throws(() => pythonEnv('/h', server, 2.5, {}), /got 2.5 \(number\)/);
  });
});

describe('isPythonCommand', () => {
  it('recognises interpreters by file name', () => {
    for (const command of ['python', 'python3', 'python3.11', 'python3.13t', 'python3.12-dbg', '/usr/bin/python3', 'pypy3',
      'pypy3.10', 'py', 'pythonw', 'C:\\Python311\\python.exe', 'PYTHON.EXE', '/home/me/.venv/bin/python']) {
      assert.ok(isPythonCommand(command), command);
    }
  });

  it('recognises a .py file run directly, and env python3', () => {
    assert.ok(isPythonCommand('./tool.py'));
    assert.ok(isPythonCommand('/usr/bin/env', ['python3', 'x.py']));
    assert.ok(isPythonCommand('env', ['-u', 'HOME', 'A=1', 'python', '-m', 'x']));
  });

  it('rejects everything else', () => {
    for (const command of ['node', 'bash', 'pythonista-cli', 'ipython3x', 'mypython', 'python-config', 'pip', 'py.test', 'run.pyc']) {
      assert.ok(!isPythonCommand(command), command);
    }
    assert.ok(!isPythonCommand('env', ['node', 'x.py']));
    assert.ok(!isPythonCommand('env'));
  });
});

describe('sanitizeName and sanitizeMessage', () => {
  it('strip escape sequences, control and direction characters from names', () => {
    assert.equal(sanitizeName('\u001b[1;31mworker\u001b[0m 1'), 'worker 1');
    assert.equal(sanitizeName('a\u0000b\u0007c\td\ne\u0085f'), 'abcdef');
    assert.equal(sanitizeName('8-bit \u009b31mCSI'), '8-bit CSI');
    assert.equal(sanitizeName('\u202eevil\u2066'), 'evil');
    assert.equal(sanitizeName('x\u001b]8;;http://e\u0007link\u001b]8;;\u0007'), 'xlink');
    assert.equal(sanitizeName('  padded  '), 'padded');
    assert.equal(sanitizeName('n'.repeat(300)).length, 256);
    assert.equal(sanitizeName('worker \ud83d\ude00'), 'worker \ud83d\ude00');
    assert.equal(sanitizeName('lone \ud83d'), 'lone \ufffd');
  });

  it('keep messages as one line of text with tabs', () => {
    assert.equal(sanitizeMessage('calling join() for process Process-1'), 'calling join() for process Process-1');
    assert.equal(sanitizeMessage('a\tb'), 'a\tb');
    assert.equal(sanitizeMessage('line 1\nline 2\r\nline 3'), 'line 1 line 2 line 3');
    assert.equal(sanitizeMessage('\u001b[2Jcleared\u0008\u007f'), 'cleared');
  });
});
