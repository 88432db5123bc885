import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conditionState, describeProblem, readDefinitions, startOrder } from '../../src/core/definitions/definitions';

const FOLDER = '/work/app';

function problemsOf(entries: unknown[]): string[] {
  return readDefinitions(entries, FOLDER).problems.map(describeProblem);
}

describe('procscope.processes entries', () => {
  it('reads a good entry with its defaults', () => {
    const { definitions, problems } = readDefinitions([{ name: 'db', command: 'python3', args: ['-m', 'db'], ready: { port: 5432 } }], FOLDER);
    assert.deepEqual(problems, []);
    assert.deepEqual(definitions, [{
      name: 'db', folder: FOLDER, index: 0, spec: { name: 'db', command: 'python3', args: ['-m', 'db'] }, autostart: false, dependsOn: [], ready: { port: 5432 }, restart: 'no',
    }]);
  });

  it('takes dependsOn as a list of names (each "ready") or as name: condition', () => {
    const { definitions } = readDefinitions([
      { name: 'db', command: 'a' },
      { name: 'migrate', command: 'b', dependsOn: ['db'] },
      { name: 'web', command: 'c', dependsOn: { migrate: 'succeeded', db: 'started' } },
    ], FOLDER);
    assert.deepEqual(definitions[1].dependsOn, [{ name: 'db', condition: 'ready' }]);
    assert.deepEqual(definitions[2].dependsOn, [{ name: 'migrate', condition: 'succeeded' }, { name: 'db', condition: 'started' }]);
    assert.deepEqual(startOrder(definitions[2], definitions).map((d) => d.name), ['db', 'migrate', 'web']);
  });

  // Each bad entry is reported with its name (or place) and the field; the good ones still work.
  const bad: [string, unknown, RegExp][] = [
    ['not an object', 42, /^procscope\.processes: entry 2: `\(entry\)`: expected an object, got 42 \(number\)$/],
    ['a missing name', { command: 'x' }, /entry 2: `name`: expected a non-empty string, got undefined/],
    ['an empty name', { name: ' ', command: 'x' }, /`name`: expected a non-empty string, got " " \(string\)/],
    ['a duplicate name', { name: 'good', command: 'x' }, /good \(entry 2\): `name`: another entry of this folder is named "good" already \(entry 1\)/],
    ['a missing command', { name: 'n' }, /n \(entry 2\): `command`: Expected `command` to be a non-empty string, got undefined/],
    ['args that are not strings', { name: 'n', command: 'x', args: [1] }, /`args\[0\]`: Expected `args\[0\]` to be a string, got 1 \(number\)/],
    ['env that is not strings', { name: 'n', command: 'x', env: { A: 1 } }, /`env\.A`/],
    ['a daemon that is not a boolean', { name: 'n', command: 'x', daemon: 'yes' }, /`daemon`: Expected `daemon` to be a boolean/],
    ['an unknown instrument', { name: 'n', command: 'x', instrument: 'java' }, /`instrument`/],
    ['a cwd that is not a string', { name: 'n', command: 'x', cwd: 3 }, /`cwd`: Expected `cwd` to be a non-empty string, got 3 \(number\)/],
    ['autostart that is not a boolean', { name: 'n', command: 'x', autostart: 1 }, /`autostart`: expected a boolean, got 1 \(number\)/],
    ['an unknown restart policy', { name: 'n', command: 'x', restart: 'sometimes' }, /`restart`: Expected `restart` to be one of "no", "on-failure", "always", got "sometimes" \(string\)/],
    ['a bad regular expression', { name: 'n', command: 'x', ready: { logLine: '([' } }, /`ready\.logLine`: Expected `ready\.logLine` to be a valid regular expression/],
    ['a port out of range', { name: 'n', command: 'x', ready: { port: 0 } }, /`ready\.port`: Expected `ready\.port` to be a TCP port/],
    ['two probes at once', { name: 'n', command: 'x', ready: { port: 1, command: 'true' } }, /`ready`: Expected `ready` to have exactly one of/],
    ['a negative probe timeout', { name: 'n', command: 'x', ready: { port: 1, timeoutMs: -5 } }, /`ready\.timeoutMs`/],
    ['an unknown dependency', { name: 'n', command: 'x', dependsOn: ['nowhere'] }, /n \(entry 2\): `dependsOn\.nowhere`: no entry of this folder is named "nowhere"/],
    ['a bad condition', { name: 'n', command: 'x', dependsOn: { good: 'soon' } }, /`dependsOn\.good`: expected one of "started", "ready", "completed", "succeeded", got "soon" \(string\)/],
    ['dependsOn of the wrong type', { name: 'n', command: 'x', dependsOn: 'good' }, /`dependsOn`: expected a list of names or an object/],
    ['a dependency on itself', { name: 'n', command: 'x', dependsOn: ['n'] }, /`dependsOn\.n`: an entry cannot depend on itself/],
    ['an unknown field', { name: 'n', command: 'x', restartPolicy: 'always' }, /`restartPolicy`: unknown field/],
  ];
  for (const [what, entry, expected] of bad) {
    it(`reports ${what}, naming the entry and the field, and keeps the good entry`, () => {
      const { definitions, problems } = readDefinitions([{ name: 'good', command: 'true' }, entry], FOLDER);
      assert.deepEqual(definitions.map((d) => d.name), ['good']);
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.match(describeProblem(problems[0]), expected);
    });
  }

  it('reports a dependency cycle, naming it, in each entry of it; an entry outside the cycle still works', () => {
    const problems = problemsOf([
      { name: 'a', command: 'x', dependsOn: ['b'] },
      { name: 'b', command: 'x', dependsOn: ['c'] },
      { name: 'c', command: 'x', dependsOn: ['a'] },
      { name: 'd', command: 'x' },
    ]);
    assert.equal(problems.length, 3);
    for (const problem of problems) assert.match(problem, /`dependsOn`: dependency cycle: (a → b → c → a|b → c → a → b|c → a → b → c)/);
    assert.deepEqual(readDefinitions([{ name: 'a', command: 'x', dependsOn: ['b'] }, { name: 'b', command: 'x', dependsOn: ['a'] }, { name: 'd', command: 'x' }], FOLDER).definitions.map((d) => d.name), ['d']);
  });

  it('reports an entry that depends on a bad one', () => {
    const problems = problemsOf([{ name: 'db', command: '' }, { name: 'web', command: 'x', dependsOn: ['db'] }]);
    assert.equal(problems.length, 2);
    assert.match(problems[1], /web \(entry 2\): `dependsOn\.db`: depends on "db", which is not valid itself/);
  });

  it('reports a value that is not a list at all', () => {
    assert.match(problemsOf('web' as unknown as unknown[])[0], /expected a list of process definitions, got "web" \(string\)/);
  });
});

describe('dependency conditions, read from the dependency\'s row', () => {
  const alive = { alive: true, pid: 1, exitCode: null };
  const ended = (exitCode: number | null) => ({ alive: false, pid: 1, exitCode });
  it('started: as soon as it runs', () => {
    assert.deepEqual(conditionState('started', undefined, false), { met: false });
    assert.deepEqual(conditionState('started', alive, false), { met: true });
  });
  it('ready: its probe passed (or it has none); failed when not ready in time or it ended first', () => {
    assert.deepEqual(conditionState('ready', alive, true), { met: false });
    assert.deepEqual(conditionState('ready', { ...alive, ready: true }, true), { met: true });
    assert.deepEqual(conditionState('ready', alive, false), { met: true });
    assert.deepEqual(conditionState('ready', { ...alive, ready: false }, true), { met: false, failed: 'it was not ready in time' });
    assert.deepEqual(conditionState('ready', ended(1), true), { met: false, failed: 'it exited with exitcode 1 before it was ready' });
  });
  it('completed: it exited, however; succeeded: it exited 0, else failed', () => {
    assert.deepEqual(conditionState('completed', ended(3), false), { met: true });
    assert.deepEqual(conditionState('succeeded', alive, false), { met: false });
    assert.deepEqual(conditionState('succeeded', ended(0), false), { met: true });
    assert.deepEqual(conditionState('succeeded', ended(2), false), { met: false, failed: 'it exited with exitcode 2' });
  });
});
