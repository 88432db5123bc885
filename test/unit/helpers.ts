// Shared by the unit tests: fixture paths, a table wired to the real OS, and waiting for real processes.
import { resolve } from 'node:path';
import { Logger } from '../../src/core/logger';
import { LEVELS } from '../../src/core/levels';
import { isDead } from '../../src/core/os/osProcess';
import { readStat } from '../../src/core/os/procfs';
import { createProcessSource } from '../../src/core/os/processSource';
import { DEFAULT_SETTINGS, ProcessTable, type TableOptions, type TableSettings } from '../../src/core/processTable';
export { sleep, waitFor } from '../shared/wait';

/** The repository root, from out/test/unit where the bundled tests run. */
export const ROOT = resolve(__dirname, '../../..');

export function fixture(name: string): string {
  return resolve(ROOT, 'test/fixtures', name);
}

const tables: ProcessTable[] = [];

export function makeTable(settings: Partial<TableSettings> = {}, options: Partial<TableOptions> = {}): { table: ProcessTable; logger: Logger } {
  const logger = new Logger(LEVELS.SUBDEBUG);
  if (process.env.PROCSCOPE_TEST_LOG) logger.onLine((line) => console.log(line));
  const table = new ProcessTable({
    source: createProcessSource(),
    logger,
    settings: () => ({ ...DEFAULT_SETTINGS, pollIntervalMs: 100, ...settings }),
    ...options,
  });
  tables.push(table);
  return { table, logger };
}

/** True while `pid` is a live process (a zombie counts as gone). */
export function isRunning(pid: number): boolean {
  return !isDead(readStat(pid));
}



/** Ends every process the tests of this file started, by pid or group, whatever state a test left them in. */
export function cleanUpAll(): void {
  for (const table of tables.splice(0)) {
    for (const p of table.processes()) {
      if (p.pid === null) continue;
      const targets = p.kind === 'launched' ? [-p.pid, p.pid] : isRunning(p.pid) ? [p.pid] : [];
      for (const target of targets) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    table.dispose();
  }
}
