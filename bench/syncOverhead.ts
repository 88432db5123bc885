// SPEC §7 "synchronisation reporting": an uncontended multiprocessing.Lock acquire/release loop, instrumented (the
// helper on PYTHONPATH, a listening InstrumentServer) against the same loop without the helper, runs alternating; and
// how soon a deadlock is told: from the moment the cycle forms (the later of the two waits, as the helper stamps it)
// to the WARNING, through a real supervisor.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { InstrumentServer, pythonEnv } from '../src/core/instrument';
import { benchService, log, main, median, ROOT, round, type BenchResult } from './common';

const HELPER_DIR = resolve(ROOT, 'src/python');
const LOOP = resolve(ROOT, 'test/fixtures/python/lock_loop.py');
const DEADLOCK = resolve(ROOT, 'test/fixtures/python/deadlock_method.py');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const DEADLOCKS = Number(process.env.BENCH_DEADLOCKS ?? 5);

function loop(env: Record<string, string>): Promise<{ calls: number; with: number }> {
  return new Promise((done, fail) => {
    const child = spawn('python3', [LOOP], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (data: Buffer) => (out += data.toString()));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(JSON.parse(out)) : fail(new Error(`lock_loop.py exited ${code}`))));
  });
}

main(async (): Promise<BenchResult> => {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  const server = new InstrumentServer({ level: 20 });
  const plain = { calls: [] as number[], with: [] as number[] };
  const instrumented = { calls: [] as number[], with: [] as number[] };
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const env = pythonEnv(HELPER_DIR, server.register(`loop-${i}`), 20, base);
      // Which one goes first alternates, so a machine getting busier or quieter weighs on both alike.
      let without;
      let withHelper;
      if (i % 2 === 0) {
        without = await loop(base);
        withHelper = await loop(env);
      } else {
        withHelper = await loop(env);
        without = await loop(base);
      }
      plain.calls.push(without.calls);
      plain.with.push(without.with);
      instrumented.calls.push(withHelper.calls);
      instrumented.with.push(withHelper.with);
      server.unregister(`loop-${i}`);
    }
  } finally {
    server.dispose();
  }
  const ratio = (form: 'calls' | 'with') => median(instrumented[form]) / median(plain[form]);
  const perOp = (seconds: number) => `${round((seconds / 200_000) * 1e9, 0)} ns`;
  log(`lock loop: calls ${round(ratio('calls'), 2)}×, with ${round(ratio('with'), 2)}×`);

  // Deadlocks: the time from the cycle forming to the WARNING.
  const service = benchService({ pollIntervalMs: 1000 });
  const latencies: number[] = [];
  try {
    for (let i = 0; i < DEADLOCKS; i++) {
      const program = await service.start({ command: 'python3', args: [DEADLOCK, 'fork'] });
      // The rows are marked in the same step as the WARNING is logged.
      let toldAt = 0;
      const subscription = service.onDidChange(() => {
        if (!toldAt && service.state.subtree(program.id).some((r) => r.deadlocked)) toldAt = Date.now();
      });
      const deadline = Date.now() + 20_000;
      while (!toldAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      subscription.dispose();
      const rows = service.state.subtree(program.id).filter((r) => r.waitingSince !== undefined);
      if (!toldAt || rows.length < 2) throw new Error(`deadlock ${i} was not told (${rows.length} waiting rows)`);
      latencies.push(toldAt - Math.max(...rows.map((r) => r.waitingSince as number)));
      await service.terminate(program.id);
    }
  } finally {
    await service.stopAll();
    await service.detach();
    service.dispose();
  }
  const worst = Math.max(...latencies);
  return {
    name: 'syncOverhead',
    rows: [
      {
        benchmark: 'synchronisation', what: 'uncontended multiprocessing.Lock: acquire(); release() × 200 000, best of 5 a run',
        procscope: perOp(median(instrumented.calls)), baselineName: 'the same without the helper', baseline: perOp(median(plain.calls)),
        ratio: round(ratio('calls'), 2), bar: '≤ 2×', met: ratio('calls') <= 2,
      },
      {
        benchmark: 'synchronisation', what: 'uncontended multiprocessing.Lock: `with lock:` × 200 000, best of 5 a run',
        procscope: perOp(median(instrumented.with)), baselineName: 'the same without the helper', baseline: perOp(median(plain.with)),
        ratio: round(ratio('with'), 2), bar: '≤ 2×', met: ratio('with') <= 2,
      },
      {
        benchmark: 'synchronisation', what: `a deadlock (two locks, opposite order) told at WARNING after it forms, worst of ${DEADLOCKS}`,
        procscope: `${round(worst, 1)} ms (median ${round(median(latencies), 1)} ms)`, bar: '≤ 1000 ms', met: worst <= 1000,
      },
    ],
    details: { plain, instrumented, latencies },
    notes: ['The Lock loop runs in the fixture test/fixtures/python/lock_loop.py; rounds alternate which run goes first.'],
  };
});
