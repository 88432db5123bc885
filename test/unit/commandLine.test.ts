import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCommandLine, splitCommandLine } from '../../src/core/commandLine';

describe('splitCommandLine', () => {
  it('splits on runs of whitespace', () => {
    assert.deepEqual(splitCommandLine('  sleep   30 '), ['sleep', '30']);
  });
  it('keeps single-quoted text literally, backslashes included', () => {
    assert.deepEqual(splitCommandLine(`python3 -c 'print("a  b\\n")'`), ['python3', '-c', 'print("a  b\\n")']);
  });
  it('honours backslash escapes inside double quotes only for \\ " $ and `', () => {
    assert.deepEqual(splitCommandLine('echo "a \\"b\\" \\x"'), ['echo', 'a "b" \\x']);
  });
  it('joins adjacent quoted and bare parts into one word', () => {
    assert.deepEqual(splitCommandLine(`a'b c'"d e"f`), ['ab cd ef']);
  });
  it('keeps an empty quoted argument', () => {
    assert.deepEqual(splitCommandLine(`cmd '' ""`), ['cmd', '', '']);
  });
  it('escapes a space with a backslash', () => {
    assert.deepEqual(splitCommandLine('ls my\\ file'), ['ls', 'my file']);
  });
  it('rejects an unterminated quote', () => {
    assert.throws(() => splitCommandLine(`echo 'oops`), /Unterminated single quote/);
    assert.throws(() => splitCommandLine(`echo "oops`), /Unterminated double quote/);
  });
  it('round-trips through formatCommandLine', () => {
    const words = ['python3', '-c', `print('it''s')`, 'a b', '', 'plain'];
    assert.deepEqual(splitCommandLine(formatCommandLine(words[0], words.slice(1))), words);
  });
});
