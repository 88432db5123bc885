// Measures re-adoption after a reload: a ProcessService starts 50 live non-daemon processes (some of them Python programs
// with multiprocessing children), each having printed some output, and detaches as a reload does; then a NEW
// ProcessService on the same registry file is timed from construction through adopt() until every row, every Python
// child and every output is back. Repeated: each round's service detaches and the next one re-adopts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ProcessService } from '../src/core/host/processService';
import { SupervisorRegistry } from '../src/core/host/registry';
import { Logger } from '../src/core/logger';
import type { ReadonlyRow } from '../src/core/model/row';
import { readStat } from '../src/core/os/procfs';
import { ProcfsSource } from '../src/core/os/processSource';
import { DEFAULT_SETTINGS } from '../src/core/settings';
import { aliveWithStart, log, main, median, onCleanup, round, ROOT, sleep, type BenchResult, type Row } from './common';

const COUNT = 50;
const PYTHON = Number(process.env.BENCH_READOPT_PYTHON ?? 20); // of the 50; each has two multiprocessing children
const CHILDREN = 2;
const ROUNDS = Number(process.env.BENCH_READOPT_ROUNDS ?? 5);
const BAR_MS = 1000;
const PYTHON_PROGRAM = resolve(ROOT, 'test/fixtures/python/long_children.py');

const settings = { ...DEFAULT_SETTINGS };
const tmp = mkdtempSync(join(tmpdir(), 'procscope-bench-readopt-'));
const registry = new SupervisorRegistry(join(tmp, 'supervisors.json'));

function newService(): ProcessService {
  return new ProcessService({
    supervisorScript: resolve(ROOT, 'dist/supervisor.js'),
    helperDir: resolve(ROOT, 'dist/python'),
    logger: new Logger(),
    settings: () => settings,
    registry,
    source: new ProcfsSource(),
  });
}

/** What must come back: each root's id, pid, start stamp and the output it printed; its Python children's pids. */
interface Expected {
  id: string;
  pid: number;
  startTime: number;
  output: string;
  children: { pid: number; startTime: number }[];
}

/** Every process of the benchmark, and the supervisor: ended by verified pid (roots by group) if anything is left. */
const launched: { pid: number; startTime: number; group: boolean }[] = [];
let supervisor: { pid: number; startTime: number } | undefined;
function endLeftovers(): number {
  let left = 0;
  for (const p of launched) {
    if (!aliveWithStart(p.pid, p.startTime)) continue;
    left++;
    try {
      process.kill(p.group ? -p.pid : p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return left;
}
onCleanup(() => {
  endLeftovers();
  if (supervisor && aliveWithStart(supervisor.pid, supervisor.startTime)) process.kill(supervisor.pid, 'SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
});

const liveChildren = (service: ProcessService, id: string): ReadonlyRow[] => service.children(id).filter((c) => c.alive);

/** True once `service` shows every expected row alive with its pid, its Python children and its output. */
function allBack(service: ProcessService, expected: readonly Expected[]): boolean {
  for (const e of expected) {
    const row = service.row(e.id);
    if (!row || !row.alive || row.pid !== e.pid || row.startTime !== e.startTime) return false;
    const children = liveChildren(service, e.id);
    if (e.children.some((c) => !children.some((r) => r.pid === c.pid && r.startTime === c.startTime))) return false;
    if (service.output(e.id) !== e.output) return false;
  }
  return true;
}

/** Starts the 50 and waits until each has printed its line and each Python program's children are rows. */
async function setUp(service: ProcessService): Promise<Expected[]> {
  const started = await Promise.all(
    Array.from({ length: COUNT }, (_, i) =>
      i < PYTHON
        ? service.start({ command: 'python3', args: [PYTHON_PROGRAM], name: `bench-python-${i}` })
        : service.start({ command: 'bash', args: ['-c', `echo "process ${i} ready"; exec sleep 600`], name: `bench-sleeper-${i}` }),
    ),
  );
  // Written down at once, so that whatever happens next they are ended on exit.
  for (const p of started) {
    const startTime = p.pid === null ? undefined : readStat(p.pid)?.startTime;
    if (p.pid !== null && startTime !== undefined) launched.push({ pid: p.pid, startTime, group: true });
  }
  const deadline = Date.now() + 30_000;
  const ready = () =>
    started.every((p, i) => {
      const row = service.row(p.id);
      const output = service.output(p.id);
      // Its start stamp too (read by its tree's first poll): re-adoption must bring the same identity back.
      return row?.alive && !!row.startTime && output.endsWith('\n') && (i >= PYTHON || liveChildren(service, p.id).filter((c) => c.startTime !== undefined).length >= CHILDREN);
    });
  while (!ready()) {
    if (Date.now() > deadline) throw new Error('the 50 processes did not all start, print and show their children within 30 s');
    await sleep(50);
  }
  return started.map((p, i) => {
    const row = service.row(p.id) as ReadonlyRow;
    const children = i < PYTHON ? liveChildren(service, p.id).map((c) => ({ pid: c.pid as number, startTime: c.startTime as number })) : [];
    const e = { id: p.id, pid: row.pid as number, startTime: row.startTime as number, output: service.output(p.id), children };
    launched.push(...children.map((c) => ({ ...c, group: false })));
    return e;
  });
}

main(async (): Promise<BenchResult> => {
  let service = newService();
  onCleanup(() => service.dispose());
  const expected = await setUp(service);
  const supervisorPid = service.supervisorPid as number;
  supervisor = { pid: supervisorPid, startTime: readStat(supervisorPid)?.startTime ?? 0 };
  const rows = expected.length + expected.reduce((n, e) => n + e.children.length, 0);
  log(`${expected.length} processes and ${rows - expected.length} Python children running under supervisor pid ${supervisorPid}`);

  const times: number[] = [];
  const adoptCalls: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // What a reload does: the old host detaches (daemons would end now; these are not daemons) and goes away.
    await service.detach();
    service.dispose();
    await sleep(200);
    const t = performance.now();
    service = newService();
    const adopted = await service.adopt();
    adoptCalls.push(performance.now() - t);
    if (adopted !== COUNT) throw new Error(`round ${i + 1}: adopt() said ${adopted} processes, not ${COUNT}`);
    const deadline = t + 10_000;
    while (!allBack(service, expected)) {
      if (performance.now() > deadline) throw new Error(`round ${i + 1}: not everything came back within 10 s`);
      await sleep(1);
    }
    times.push(performance.now() - t);
    if (service.supervisorPid !== supervisorPid) throw new Error(`round ${i + 1}: adopted supervisor ${service.supervisorPid}, not ${supervisorPid}`);
  }
  log(`re-adoption: ${times.map((v) => round(v, 0)).join(' ')} ms (adopt() itself ${adoptCalls.map((v) => round(v, 0)).join(' ')} ms)`);

  // Clean up through the service, as a user would; then check every pid is gone.
  const ended = await Promise.all(expected.map((e) => service.terminate(e.id)));
  const stillShown = ended.filter((p) => p.alive).length;
  const gone = Date.now() + 5000;
  while (launched.some((p) => aliveWithStart(p.pid, p.startTime)) && Date.now() < gone) await sleep(20);
  const survivors = endLeftovers();
  // Every row settled (its tree ended, its output read to the end) before the last host goes away.
  const settled = Date.now() + 5000;
  while (expected.some((e) => !service.row(e.id)?.settled) && Date.now() < settled) await sleep(20);
  await service.detach();
  service.dispose();
  // Detached with nothing left to watch, the supervisor exits by itself (at the latest when the grace period ends).
  const supervisorGone = Date.now() + settings.reattachGraceMs + 2000;
  while (aliveWithStart(supervisor.pid, supervisor.startTime) && Date.now() < supervisorGone) await sleep(20);
  const supervisorLeft = aliveWithStart(supervisor.pid, supervisor.startTime);
  const supervisorExitMs = Date.now() - (supervisorGone - settings.reattachGraceMs - 2000);
  log(`terminated through the service: ${survivors} of ${launched.length} pids outlived it; the supervisor ${supervisorLeft ? 'did not exit' : `exited ${supervisorExitMs} ms after the last detach`}`);

  const worst = Math.max(...times);
  const table: Row[] = [
    {
      benchmark: 're-adoption',
      what: `new ProcessService, construction → adopt() → all ${COUNT} rows (${PYTHON} Python programs with ${PYTHON * CHILDREN} multiprocessing children), pids and output back; worst of ${ROUNDS} reloads`,
      procscope: `${round(worst, 0)} ms (median ${round(median(times), 0)} ms)`,
      bar: `≤ ${BAR_MS} ms`,
      met: worst <= BAR_MS,
    },
    {
      benchmark: 're-adoption',
      what: `afterwards: the ${COUNT} terminated through the re-adopting service; pids (of ${launched.length}) still alive 5 s later`,
      procscope: `${survivors}${supervisorLeft ? ' (and the supervisor did not exit)' : ''}`,
      bar: '0',
      met: survivors === 0 && stillShown === 0 && !supervisorLeft,
    },
  ];
  return {
    name: 'readopt',
    rows: table,
    details: { count: COUNT, python: PYTHON, children: PYTHON * CHILDREN, readoptMs: times.map((v) => round(v, 1)), adoptCallMs: adoptCalls.map((v) => round(v, 1)), survivors, stillShown, supervisorLeft, supervisorExitMs },
    notes: [],
  };
});
