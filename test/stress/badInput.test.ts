// Bad input through the API-equivalent ProcessService: every case rejects with the exact message src gives (naming the
// field and repeating the value), leaves no row and no OS process behind, and the service works afterwards.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ProcessService } from '../../src/core/host/processService';
import type { ProcessSnapshot } from '../../src/core/types';
import { cleanUpAll, makeService, tempDir, waitFor } from '../unit/helpers';
import { childrenOf, fdCount, ownerOf, processesMarkedBy, recordFigures } from './stress';

after(cleanUpAll);

const work = tempDir('procscope-stress-bad-');
const { service } = makeService({ killTimeoutMs: 500 }, { defaultCwd: () => work });

const aFile = join(work, 'plain.txt');
writeFileSync(aFile, 'not a directory\n');
const noExec = join(work, 'bin', 'noexec-tool');
mkdirSync(join(work, 'bin'));
writeFileSync(noExec, '#!/bin/sh\necho should never run\n');
chmodSync(noExec, 0o644);
const missingDir = join(work, 'no', 'such', 'dir');
const TEN_MB = 'x'.repeat(10 * 1024 * 1024);

/** One bad call: what it does, and the exact message (or a pattern where a path or size varies) it must reject with. */
interface Case {
  what: string;
  call: (s: ProcessService, exited: string) => Promise<unknown>;
  message: string | RegExp;
  /** The field the message must name, where there is one. */
  field?: string;
}

const spec = (s: ProcessService, input: unknown) => s.start(input);
const d = (value: string) => JSON.stringify(value);

const CASES: Case[] = [
  // the spec itself
  { what: 'spec null', call: (s) => spec(s, null), message: 'Expected a ProcessSpec object, got null', field: 'ProcessSpec' },
  { what: 'spec undefined', call: (s) => spec(s, undefined), message: 'Expected a ProcessSpec object, got undefined', field: 'ProcessSpec' },
  { what: 'spec an array', call: (s) => spec(s, ['sleep', '1']), message: 'Expected a ProcessSpec object, got ["sleep","1"] (array)', field: 'ProcessSpec' },
  { what: 'spec a number', call: (s) => spec(s, 42), message: 'Expected a ProcessSpec object, got 42 (number)', field: 'ProcessSpec' },
  { what: 'spec a string', call: (s) => spec(s, 'sleep 1'), message: 'Expected a ProcessSpec object, got "sleep 1" (string)', field: 'ProcessSpec' },
  // command
  { what: 'command missing', call: (s) => spec(s, { args: ['1'] }), message: 'Expected `command` to be a non-empty string, got undefined', field: 'command' },
  { what: 'command empty', call: (s) => spec(s, { command: '' }), message: 'Expected `command` to be a non-empty string, got "" (string)', field: 'command' },
  { what: 'command whitespace', call: (s) => spec(s, { command: ' \t\n' }), message: 'Expected `command` to be a non-empty string, got " \\t\\n" (string)', field: 'command' },
  { what: 'command a number', call: (s) => spec(s, { command: 7 }), message: 'Expected `command` to be a non-empty string, got 7 (number)', field: 'command' },
  { what: 'command null', call: (s) => spec(s, { command: null }), message: 'Expected `command` to be a non-empty string, got null', field: 'command' },
  { what: 'command an array', call: (s) => spec(s, { command: ['sleep'] }), message: 'Expected `command` to be a non-empty string, got ["sleep"] (array)', field: 'command' },
  { what: 'shell: true with an empty command', call: (s) => spec(s, { command: '', shell: true }), message: 'Expected `command` to be a non-empty string, got "" (string)', field: 'command' },
  { what: 'shell: true with a blank command', call: (s) => spec(s, { command: '   ', shell: true }), message: 'Expected `command` to be a non-empty string, got "   " (string)', field: 'command' },
  { what: 'NUL byte in command', call: (s) => spec(s, { command: 'sle\0ep' }), message: 'Expected `command` without NUL bytes, but it contains a NUL byte: "sle\\u0000ep" (string)', field: 'command' },
  // args
  { what: 'args a string', call: (s) => spec(s, { command: 'echo', args: 'a b' }), message: 'Expected `args` to be an array of strings, got "a b" (string)', field: 'args' },
  { what: 'args an object', call: (s) => spec(s, { command: 'echo', args: { 0: 'a' } }), message: 'Expected `args` to be an array of strings, got {"0":"a"} (object)', field: 'args' },
  { what: 'args holding a number', call: (s) => spec(s, { command: 'echo', args: ['a', 2] }), message: 'Expected `args[1]` to be a string, got 2 (number)', field: 'args[1]' },
  { what: 'args holding null', call: (s) => spec(s, { command: 'echo', args: [null] }), message: 'Expected `args[0]` to be a string, got null', field: 'args[0]' },
  { what: 'args holding an object', call: (s) => spec(s, { command: 'echo', args: ['a', 'b', { x: 1 }] }), message: 'Expected `args[2]` to be a string, got {"x":1} (object)', field: 'args[2]' },
  // eslint-disable-next-line no-sparse-arrays
  { what: 'sparse args', call: (s) => spec(s, { command: 'echo', args: ['a', , 'c'] }), message: 'Expected `args[1]` to be a string, got a hole (the array is sparse)', field: 'args[1]' },
  { what: 'NUL byte in args', call: (s) => spec(s, { command: 'echo', args: ['ok', 'b\0d'] }), message: 'Expected `args[1]` without NUL bytes, but it contains a NUL byte: "b\\u0000d" (string)', field: 'args[1]' },
  // env
  { what: 'env a string', call: (s) => spec(s, { command: 'true', env: 'A=1' }), message: 'Expected `env` to be an object of strings, got "A=1" (string)', field: 'env' },
  { what: 'env an array', call: (s) => spec(s, { command: 'true', env: ['A=1'] }), message: 'Expected `env` to be an object of strings, got ["A=1"] (array)', field: 'env' },
  { what: 'env value a number', call: (s) => spec(s, { command: 'true', env: { PORT: 8080 } }), message: 'Expected `env.PORT` to be a string, got 8080 (number)', field: 'env.PORT' },
  { what: 'env value null', call: (s) => spec(s, { command: 'true', env: { A: null } }), message: 'Expected `env.A` to be a string, got null', field: 'env.A' },
  { what: 'env value boolean', call: (s) => spec(s, { command: 'true', env: { DEBUG: true } }), message: 'Expected `env.DEBUG` to be a string, got true (boolean)', field: 'env.DEBUG' },
  { what: 'env name with =', call: (s) => spec(s, { command: 'true', env: { 'A=B': 'x' } }), message: 'Expected `env` names to be non-empty and without "=", got "A=B" (string)', field: 'env' },
  { what: 'env name empty', call: (s) => spec(s, { command: 'true', env: { '': 'x' } }), message: 'Expected `env` names to be non-empty and without "=", got "" (string)', field: 'env' },
  { what: 'NUL byte in env value', call: (s) => spec(s, { command: 'true', env: { A: 'x\0y' } }), message: 'Expected `env.A` without NUL bytes, but it contains a NUL byte: "x\\u0000y" (string)', field: 'env.A' },
  // cwd
  { what: 'cwd missing', call: (s) => spec(s, { command: 'true', cwd: missingDir }), message: `Working directory does not exist: \`cwd\` is ${d(missingDir)} (string)`, field: 'cwd' },
  { what: 'cwd a file', call: (s) => spec(s, { command: 'true', cwd: aFile }), message: `Working directory is not a directory: \`cwd\` is ${d(aFile)} (string)`, field: 'cwd' },
  { what: 'cwd empty', call: (s) => spec(s, { command: 'true', cwd: '' }), message: 'Expected `cwd` to be a non-empty string, got "" (string)', field: 'cwd' },
  { what: 'cwd a number', call: (s) => spec(s, { command: 'true', cwd: 5 }), message: 'Expected `cwd` to be a non-empty string, got 5 (number)', field: 'cwd' },
  { what: 'NUL byte in cwd', call: (s) => spec(s, { command: 'true', cwd: '/tmp\0/x' }), message: 'Expected `cwd` without NUL bytes, but it contains a NUL byte: "/tmp\\u0000/x" (string)', field: 'cwd' },
  // other fields
  { what: 'unknown instrument', call: (s) => spec(s, { command: 'true', instrument: 'java' }), message: 'Expected `instrument` to be one of "auto", "python", "none", got "java" (string)', field: 'instrument' },
  { what: 'instrument a boolean', call: (s) => spec(s, { command: 'true', instrument: true }), message: 'Expected `instrument` to be one of "auto", "python", "none", got true (boolean)', field: 'instrument' },
  { what: 'daemon a string', call: (s) => spec(s, { command: 'true', daemon: 'yes' }), message: 'Expected `daemon` to be a boolean, got "yes" (string)', field: 'daemon' },
  { what: 'shell a string', call: (s) => spec(s, { command: 'true', shell: 'true' }), message: 'Expected `shell` to be a boolean, got "true" (string)', field: 'shell' },
  { what: 'name empty', call: (s) => spec(s, { command: 'true', name: '' }), message: 'Expected `name` to be a non-empty string, got "" (string)', field: 'name' },
  { what: 'name a number', call: (s) => spec(s, { command: 'true', name: 3 }), message: 'Expected `name` to be a non-empty string, got 3 (number)', field: 'name' },
  // what only the OS can tell (checked in the supervisor before and at spawn)
  {
    what: 'missing executable on PATH',
    call: (s) => spec(s, { command: 'procscope-no-such-command' }),
    message: `Cannot start "procscope-no-such-command": executable not found (ENOENT) in PATH or relative to ${d(work)}`,
    field: 'procscope-no-such-command',
  },
  {
    what: 'missing executable by path',
    call: (s) => spec(s, { command: '/nonexistent/procscope/tool' }),
    message: 'Cannot start "/nonexistent/procscope/tool": executable not found (ENOENT) at "/nonexistent/procscope/tool"',
    field: '/nonexistent/procscope/tool',
  },
  { what: 'a directory as command', call: (s) => spec(s, { command: work }), message: `Cannot start ${d(work)}: is a directory`, field: work },
  { what: 'a file without exec permission (by path)', call: (s) => spec(s, { command: noExec }), message: `Cannot start ${d(noExec)}: is not executable (EACCES)`, field: noExec },
  {
    what: 'a file without exec permission (on PATH)',
    call: (s) => spec(s, { command: 'noexec-tool', env: { PATH: join(work, 'bin') } }),
    message: 'Cannot start "noexec-tool": is not executable (EACCES)',
    field: 'noexec-tool',
  },
  {
    what: 'a 10 MB argument (E2BIG)',
    call: (s) => spec(s, { command: '/bin/echo', args: [TEN_MB] }),
    message: 'Cannot start "/bin/echo": the arguments and environment are too long for the system (E2BIG)',
    field: '/bin/echo',
  },
  {
    what: 'a 10 MB environment value (E2BIG)',
    call: (s) => spec(s, { command: '/bin/true', env: { BIG: TEN_MB } }),
    message: 'Cannot start "/bin/true": the arguments and environment are too long for the system (E2BIG)',
    field: '/bin/true',
  },
  // timeouts
  { what: 'join timeout negative', call: (s, id) => s.join(id, -1), message: 'Expected `timeoutMs` to be a non-negative number of milliseconds, got -1 (number)', field: 'timeoutMs' },
  { what: 'join timeout NaN', call: (s, id) => s.join(id, Number.NaN), message: 'Expected `timeoutMs` to be a non-negative number of milliseconds, got NaN (number)', field: 'timeoutMs' },
  { what: 'join timeout Infinity', call: (s, id) => s.join(id, Number.POSITIVE_INFINITY), message: 'Expected `timeoutMs` to be a non-negative number of milliseconds, got Infinity (number)', field: 'timeoutMs' },
  { what: 'join timeout a string', call: (s, id) => s.join(id, '100'), message: 'Expected `timeoutMs` to be a non-negative number of milliseconds, got "100" (string)', field: 'timeoutMs' },
  { what: 'join timeout an object', call: (s, id) => s.join(id, { ms: 1 }), message: 'Expected `timeoutMs` to be a non-negative number of milliseconds, got {"ms":1} (object)', field: 'timeoutMs' },
  // unknown ids
  { what: 'join unknown id', call: (s) => s.join('no-such-id'), message: 'No process with id "no-such-id" (string)', field: 'id' },
  { what: 'terminate unknown id', call: (s) => s.terminate('no-such-id'), message: 'No process with id "no-such-id" (string)', field: 'id' },
  { what: 'kill a numeric id', call: (s) => s.kill(42), message: 'No process with id 42 (number)', field: 'id' },
  { what: 'restart an undefined id', call: (s) => s.restart(undefined), message: 'No process with id undefined', field: 'id' },
  { what: 'restart a null id', call: (s) => s.restart(null), message: 'No process with id null', field: 'id' },
  { what: 'output of an unknown id', call: async (s) => s.output('ghost'), message: 'No process with id "ghost" (string)', field: 'id' },
];

let owner = '';
let exited: ProcessSnapshot;
let watchdogChildren: number[] = [];
let baselineFds = 0;
const figures: Record<string, unknown> = {};

describe('bad input through ProcessService', () => {
  before(async () => {
    // A first good process: it brings the supervisor up, tells us the supervisor's mark, and is the exited row below.
    const first = await service.start({ command: 'sleep', args: ['60'] });
    owner = ownerOf(first.pid as number);
    exited = await service.terminate(first.id);
    assert.equal(exited.alive, false);
    assert.equal(exited.name, 'Process-1');
    await service.join(exited.id);
    const supervisorPid = service.supervisorPid as number;
    watchdogChildren = childrenOf(supervisorPid).sort();
    baselineFds = fdCount(supervisorPid);
    figures.supervisorFdsBefore = baselineFds;
  });

  it(`has at least 30 cases (${CASES.length})`, () => {
    assert.ok(CASES.length >= 30);
  });

  for (const c of CASES) {
    it(`${c.what}: a clear Error, nothing half-started, the service still works`, async () => {
      const supervisorPid = service.supervisorPid as number;
      const rowsBefore = service.processes().length;
      let caught: unknown;
      try {
        await c.call(service, exited.id);
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof Error, `expected an Error, got ${String(caught)}`);
      if (typeof c.message === 'string') assert.equal(caught.message, c.message);
      else assert.match(caught.message, c.message);
      if (c.field && c.field !== 'id' && c.field !== 'ProcessSpec') assert.ok(caught.message.includes(c.field), `the message names ${c.field}`);
      // Nothing half-started: no new row, none alive, no process of ours on the machine, no new child of the supervisor.
      assert.equal(service.processes().length, rowsBefore, 'no new row');
      assert.deepEqual(service.processes().filter((p) => p.alive), []);
      assert.deepEqual(processesMarkedBy(owner), [], 'no process carries the mark');
      assert.equal(service.supervisorPid, supervisorPid, 'the same supervisor');
      assert.deepEqual(childrenOf(supervisorPid).sort(), watchdogChildren, 'the supervisor has no new child');
      // Its descriptors come back to where they were (a failed spawn must not leak its pipes).
      await waitFor(() => fdCount(supervisorPid) <= baselineFds, 3000, `supervisor fds back to ${baselineFds} (now ${fdCount(supervisorPid)})`);
    });
  }

  it('terminate, kill and join of an exited process are no-ops that return its snapshot', async () => {
    const before = service.get(exited.id);
    assert.ok(before);
    assert.deepEqual(await service.terminate(exited.id), before);
    assert.deepEqual(await service.kill(exited.id), before);
    assert.deepEqual(await service.join(exited.id), before);
    assert.deepEqual(await service.join(exited.id, 0), before);
    assert.deepEqual(service.get(exited.id), before);
    assert.equal(before.exitCode, -15);
    assert.equal(before.status, 'stopped[SIGTERM]');
  });

  it('restart of an exited process runs it again in place (same id, restarts + 1), per SPEC §6', async () => {
    const again = await service.restart(exited.id);
    assert.equal(again.id, exited.id);
    assert.equal(again.restarts, 1);
    assert.equal(again.alive, true);
    const ended = await service.kill(again.id);
    assert.equal(ended.exitCode, -9);
    assert.deepEqual(processesMarkedBy(owner), []);
  });

  it('get() of unknown or non-string ids is undefined, not an error', () => {
    assert.equal(service.get('no-such-id'), undefined);
    assert.equal(service.get(42 as unknown as string), undefined);
    assert.equal(service.get(undefined as unknown as string), undefined);
  });

  it('after every bad call a good start + join still succeeds, numbered as if the failures never happened', async () => {
    const good = await service.start({ command: 'sh', args: ['-c', 'echo fine; exit 3'] });
    assert.equal(good.name, 'Process-2', 'failed starts use up no Process-N number');
    const joined = await service.join(good.id, 10_000);
    assert.equal(joined.exitCode, 3);
    assert.equal(joined.status, 'stopped[3]');
    assert.equal(service.output(good.id), 'fine\n');
    figures.cases = CASES.length;
    figures.supervisorFdsAfter = fdCount(service.supervisorPid as number);
    recordFigures('badInput', figures);
  });
});
