import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateSpec, validateTimeout } from '../../src/core/validate';
import { fixture } from './helpers';

describe('validateSpec', () => {
  it('fills in defaults', () => {
    assert.deepEqual(validateSpec({ command: 'sleep' }), {
      command: 'sleep', args: [], name: undefined, daemon: false, cwd: undefined, env: {}, shell: false, instrument: 'auto',
    });
  });
  it('names an empty command and repeats the value', () => {
    assert.throws(() => validateSpec({ command: '' }), { message: 'Expected `command` to be a non-empty string, got "" (string)' });
    assert.throws(() => validateSpec({ command: '   ' }), /non-empty string, got " {3}" \(string\)/);
  });
  it('names a command that is not a string', () => {
    assert.throws(() => validateSpec({ command: 42 }), { message: 'Expected `command` to be a non-empty string, got 42 (number)' });
    assert.throws(() => validateSpec({}), { message: 'Expected `command` to be a non-empty string, got undefined' });
  });
  it('names arguments that are not strings', () => {
    assert.throws(() => validateSpec({ command: 'echo', args: 'hi' }), { message: 'Expected `args` to be an array of strings, got "hi" (string)' });
    assert.throws(() => validateSpec({ command: 'echo', args: ['a', 3] }), { message: 'Expected `args[1]` to be a string, got 3 (number)' });
  });
  it('names a cwd that does not exist, or is a file', () => {
    assert.throws(() => validateSpec({ command: 'ls', cwd: '/no/such/dir' }), { message: 'Working directory does not exist: `cwd` is "/no/such/dir" (string)' });
    assert.throws(() => validateSpec({ command: 'ls', cwd: fixture('forever.js') }), /Working directory is not a directory/);
  });
  it('checks daemon, shell, env, name and instrument types', () => {
    assert.throws(() => validateSpec({ command: 'ls', daemon: 'yes' }), /`daemon` to be a boolean, got "yes" \(string\)/);
    assert.throws(() => validateSpec({ command: 'ls', shell: 1 }), /`shell` to be a boolean, got 1 \(number\)/);
    assert.throws(() => validateSpec({ command: 'ls', env: { A: 1 } }), /`env.A` to be a string, got 1 \(number\)/);
    assert.throws(() => validateSpec({ command: 'ls', name: 7 }), /`name` to be a non-empty string, got 7 \(number\)/);
    assert.throws(() => validateSpec({ command: 'ls', instrument: 'java' }), /`instrument` to be one of/);
  });
  it('rejects something that is not an object', () => {
    assert.throws(() => validateSpec('sleep 1'), { message: 'Expected a ProcessSpec object, got "sleep 1" (string)' });
  });
});

describe('validateTimeout', () => {
  it('accepts undefined and non-negative numbers', () => {
    assert.equal(validateTimeout(undefined), undefined);
    assert.equal(validateTimeout(0), 0);
    assert.equal(validateTimeout(1500), 1500);
  });
  it('rejects negative, non-finite and non-number values, repeating them', () => {
    assert.throws(() => validateTimeout(-1), { message: 'Expected `timeoutMs` to be a non-negative number of milliseconds, got -1 (number)' });
    assert.throws(() => validateTimeout('10'), /got "10" \(string\)/);
    assert.throws(() => validateTimeout(Number.NaN), /got NaN \(number\)/);
    assert.throws(() => validateTimeout(Infinity), /got Infinity \(number\)/);
  });
});
