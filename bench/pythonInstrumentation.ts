// SPEC §7 "Python instrumentation": a script starting and joining 50 multiprocessing.Processes, with the helper and a
// listening InstrumentServer, against the same script without the helper. Runs alternate; medians are compared.
// Usage: node out/bench/pythonInstrumentation.js [rounds=15] [python=python3]; fork and forkserver runs are short and
// noisy, so they get 4× and 3× the rounds of spawn.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { InstrumentServer, pythonEnv } from '../src/core/instrument';

const ROOT = resolve(__dirname, '../..');
const HELPER_DIR = resolve(ROOT, 'src/python');
const SCRIPT = resolve(ROOT, 'test/fixtures/python/fifty.py');
const DEBUG_LOOP = resolve(ROOT, 'test/fixtures/python/debugLoop.py');
const DEBUG_CALLS = 100_000;
const rounds = Number(process.argv[2] ?? 15);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const python = process.argv[3] ?? 'python3';

/** Runs debugLoop.py; resolves with the loop's own time in ms (what it prints). stderr is dropped (the logger's lines). */
function loopTime(mode: 'quiet' | 'logger', env: Record<string, string>): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(python, [DEBUG_LOOP, mode, String(DEBUG_CALLS)], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(Number(out.trim())) : fail(new Error(`debugLoop.py exited ${code}`))));
  });
}

/**
 * 100 000 util.debug calls in a program that never enables multiprocessing's logger: with the helper at ProcScope's
 * DEBUG level (every record reported, and every one must arrive), against the same program emitting them itself with
 * log_to_stderr(DEBUG) (the logging the setting stands for), and, with the helper at INFO (nothing reported), against
 * no helper at all. Rounds alternate.
 */
async function debugLoop(server: InstrumentServer, base: Record<string, string>): Promise<void> {
  let records = 0;
  const subscription = server.onDidLog((record) => {
    if (record.levelName === 'DEBUG' && record.message.startsWith('step ')) records++;
  });
  const times = { reported: [] as number[], logger: [] as number[], info: [] as number[], quiet: [] as number[] };
  const loopRounds = Math.max(3, Math.ceil(rounds / 2));
  let lost = 0;
  try {
    for (let i = 0; i < loopRounds + 1; i++) {
      const debugId = `debug-loop-${i}`;
      const infoId = `info-loop-${i}`;
      records = 0;
      const reported = await loopTime('quiet', pythonEnv(HELPER_DIR, server.register(debugId), 10, base));
      const logger = await loopTime('logger', base);
      const info = await loopTime('quiet', pythonEnv(HELPER_DIR, server.register(infoId), 20, base));
      const quiet = await loopTime('quiet', base);
      await server.whenIdle(debugId, 5000);
      server.unregister(debugId);
      server.unregister(infoId);
      lost += DEBUG_CALLS - records;
      if (i === 0) continue; // warm-up
      times.reported.push(reported);
      times.logger.push(logger);
      times.info.push(info);
      times.quiet.push(quiet);
    }
  } finally {
    subscription.dispose();
  }
  const m = (values: number[]) => +median(values).toFixed(1);
  console.log(JSON.stringify({
    kind: 'debugLoop', calls: DEBUG_CALLS, reportedMs: m(times.reported), loggerMs: m(times.logger), infoMs: m(times.info),
    quietMs: m(times.quiet), lost, rounds: loopRounds,
  }));
}

function run(args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(python, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(performance.now() - started) : fail(new Error(`${python} exited ${code}`))));
  });
}


async function main(): Promise<void> {
  const server = new InstrumentServer({ level: 5 });
  let events = 0;
  server.onDidStart(() => events++);
  server.onDidExit(() => events++);
  server.onDidLog(() => events++);
  server.onWarning((w) => console.error(w));
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  const results: Record<string, unknown>[] = [];
  try {
    /** `count` processes started with `method` at `level`, alternating with plain runs; one result line. */
    const measure = async (method: string, levelName: string, level: number, count: number, methodRounds: number) => {
      const without: number[] = [];
      const withHelper: number[] = [];
      events = 0;
      for (let i = 0; i < methodRounds + 1; i++) {
        const launchId = `${method}-${level}-${count}-${i}`;
        const env = pythonEnv(HELPER_DIR, server.register(launchId), level, base);
        // Which runs first alternates, so that neither always comes after the other (page cache, CPU frequency).
        const plainFirst = i % 2 === 0;
        const args = [SCRIPT, method, String(count)];
        const first = await run(args, plainFirst ? base : env);
        const second = await run(args, plainFirst ? env : base);
        const [plain, instrumented] = plainFirst ? [first, second] : [second, first];
        await server.whenIdle(launchId, 2000);
        server.unregister(launchId);
        if (i === 0) continue; // warm-up
        without.push(plain);
        withHelper.push(instrumented);
      }
      const ratio = median(withHelper) / median(without);
      results.push({
        method, level: levelName, count, withoutMs: +median(without).toFixed(1), withMs: +median(withHelper).toFixed(1),
        ratio: +ratio.toFixed(3), eventsPerRun: Math.round(events / (methodRounds + 1)), pass: ratio <= 1.2,
      });
      console.log(JSON.stringify(results[results.length - 1]));
    };
    for (const method of ['fork', 'spawn', 'forkserver']) {
      for (const [levelName, level] of [['INFO', 20], ['DEBUG', 10]] as const) {
        await measure(method, levelName, level, 50, rounds * (method === 'fork' ? 4 : method === 'forkserver' ? 3 : 1));
      }
    }
    // Issue #14 counts fork starts by 200.
    await measure('fork', 'INFO', 20, 200, rounds * 2);
    await debugLoop(server, base);
  } finally {
    server.dispose();
  }
  if (results.some((r) => !r.pass)) process.exitCode = 1;
}

void main();
