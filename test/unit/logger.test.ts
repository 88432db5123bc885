import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LEVELS } from '../../src/core/levels';
import { Logger } from '../../src/core/logger';

describe('Logger', () => {
  it('writes records as [LEVEL/ProcessName] message, at or above its level', () => {
    const logger = new Logger(LEVELS.INFO);
    logger.debug('Process-1', 'hidden');
    logger.info('Process-1', 'child process calling self.run()');
    logger.log(LEVELS.SUBWARNING, 'MainProcess', 'careful');
    logger.log(15, 'MainProcess', 'odd level');
    assert.deepEqual(logger.lines(), ['[INFO/Process-1] child process calling self.run()', '[SUBWARNING/MainProcess] careful']);
  });
  it('logs nothing at NOTSET', () => {
    const logger = new Logger(LEVELS.NOTSET);
    logger.log(LEVELS.CRITICAL, 'MainProcess', 'even this');
    assert.deepEqual(logger.lines(), []);
  });
  it('names levels without a name as logging does, and prefixes forwarded records with their program', () => {
    const logger = new Logger(LEVELS.SUBDEBUG);
    logger.log(15, 'MainProcess', 'between');
    logger.log(LEVELS.INFO, 'Process-1', 'process shutting down', 'worker.py');
    assert.deepEqual(logger.lines(), ['[Level 15/MainProcess] between', 'worker.py | [INFO/Process-1] process shutting down']);
  });
  it('keeps each record on one line, free of control characters, whatever names and messages hold', () => {
    const logger = new Logger();
    logger.info('evil\nname\u001b[31m', 'line one\r\nline two\u0007');
    assert.deepEqual(logger.lines(), ['[INFO/evil name[31m] line one line two']);
  });
  it('keeps only the most recent lines', () => {
    const logger = new Logger(LEVELS.INFO, 3);
    for (let i = 0; i < 5; i++) logger.info('P', String(i));
    assert.deepEqual(logger.lines(), ['[INFO/P] 2', '[INFO/P] 3', '[INFO/P] 4']);
  });
});
