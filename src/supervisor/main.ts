// The supervisor process (dist/supervisor.js): owns a window's processes, so they outlive a reload of its extension
// host and the host never forks. Started by the host with `--dir DIR --helper DIR` and the token in its environment.
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createProcessSource } from '../core/os/processSource';
import { SupervisorServer } from '../core/supervisor/server';
import { Supervisor } from '../core/supervisor/supervisor';
import { WatchdogClient } from '../core/watchdog/client';
import { dropSupervisorMallocEnv, trimAfterGrowth } from '../core/supervisorMemory';

const { values } = parseArgs({ options: { dir: { type: 'string' }, helper: { type: 'string' } } });
const dir = values.dir;
const token = process.env.PROCSCOPE_SUPERVISOR_TOKEN;
if (!dir || !token) {
  process.stderr.write('usage: supervisor.js --dir DIR [--helper DIR], with PROCSCOPE_SUPERVISOR_TOKEN set\n');
  process.exit(2);
}
// Nothing we start may inherit the token, nor the host's Electron switch.
delete process.env.PROCSCOPE_SUPERVISOR_TOKEN;
dropSupervisorMallocEnv(process.env);
trimAfterGrowth();
delete process.env.ELECTRON_RUN_AS_NODE;

const logFile = join(dir, 'supervisor.log');
function diagnose(message: string): void {
  try {
    appendFileSync(logFile, `${new Date().toISOString()} ${message}\n`);
  } catch {
    // the directory is gone: we are exiting
  }
}

const outputDir = join(dir, 'out');
mkdirSync(outputDir, { recursive: true, mode: 0o700 });
// The last line of defence: if this process is killed, the watchdog (tied to it by a pipe) ends what it had.
const watchdog = new WatchdogClient(join(__dirname, 'watchdog.js'));
const supervisor = new Supervisor({ source: createProcessSource(), outputDir, helperDir: values.helper, watchdog, baseEnv: { ...process.env } });
let exiting = false;
const server = new SupervisorServer(supervisor, {
  socketPath: join(dir, 'sock'),
  token,
  diagnose,
  onExit(reason) {
    if (exiting) return;
    exiting = true;
    diagnose(`exiting: ${reason}`);
    server.close();
    supervisor.dispose();
    watchdog.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  },
});

process.on('uncaughtException', (error) => diagnose(`uncaught: ${error.stack ?? error}`));
process.on('unhandledRejection', (error) => diagnose(`unhandled rejection: ${(error as Error)?.stack ?? error}`));
// Asked to stop (a shutdown, a user's kill): as if the window had closed for good.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void server.finish(`${signal} received`));
process.on('SIGHUP', () => undefined);
process.on('SIGPIPE', () => undefined);

server.listen().then(
  () => diagnose(`listening, pid ${process.pid}`),
  (error) => {
    diagnose(`cannot listen: ${(error as Error).message}`);
    process.exit(1);
  },
);
