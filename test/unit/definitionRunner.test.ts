import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import { DefinitionRunner } from '../../src/core/definitions/runner';
import { isRestartPending } from '../../src/core/supervisor/phases';
import { cleanUpAll, fixture, makeService, waitFor } from './helpers';

after(cleanUpAll);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const FOLDER = fixture('.');

async function workspace() {
  const dbPort = await freePort();
  const webPort = await freePort();
  const entries = [
    { name: 'db', command: 'python3', args: [fixture('python/tcp_server.py'), String(dbPort), '0.5'], ready: { port: dbPort } },
    { name: 'migrate', command: 'sh', args: ['-c', 'echo migrating; sleep 0.2'], dependsOn: { db: 'ready' } },
    { name: 'web', command: 'python3', args: ['-m', 'http.server', String(webPort), '--bind', '127.0.0.1'], dependsOn: { migrate: 'succeeded' }, ready: { http: `http://127.0.0.1:${webPort}/` } },
    { name: 'broken-migrate', command: 'sh', args: ['-c', 'exit 1'] },
    { name: 'web-after-broken', command: 'sleep', args: ['30'], dependsOn: { 'broken-migrate': 'succeeded' } },
    { name: 'once', command: 'sh', args: ['-c', 'echo once'] },
  ];
  return { dbPort, webPort, entries };
}

describe('workspace definitions, started as process-compose would', () => {
  it('starts dependencies first, each once its condition holds, with the waiting said; ready flags and ports follow', async () => {
    const { service, logger } = makeService();
    const { dbPort, webPort, entries } = await workspace();
    const runner = new DefinitionRunner(service, logger, () => [{ folder: FOLDER, value: entries }]);
    const web = runner.find('web');
    const started = runner.start(web);
    await waitFor(() => runner.stateOf(runner.find('migrate')) === 'waiting for db (ready)', 10_000, 'migrate waiting for db');
    assert.equal(runner.stateOf(web), 'waiting for migrate (succeeded)');
    const snapshot = await started;
    assert.equal(snapshot.definition, 'web');
    const order = logger.lines().filter((l) => /^\[INFO\/[^\]]+\] process started with pid /.test(l)).map((l) => /^\[INFO\/([^\]]+)\]/.exec(l)?.[1]);
    assert.deepEqual(order, ['db', 'migrate', 'web']);
    await waitFor(() => service.get(snapshot.id)?.ready === true, 20_000, 'web ready');
    const db = runner.rowOf(runner.find('db'));
    assert.equal(db?.ready, true);
    await waitFor(() => service.get(db?.id as string)?.ports?.includes(dbPort), 10_000, 'db\'s port');
    await waitFor(() => service.get(snapshot.id)?.ports?.includes(webPort), 10_000, 'web\'s port');
    assert.equal(runner.rowOf(runner.find('migrate'))?.exitCode, 0);
    assert.deepEqual(runner.list().find((d) => d.name === 'web'), { name: 'web', folder: FOLDER, state: 'ready', id: snapshot.id });

    // Start All: one instance each; the running ones are not started again.
    const before = service.processes().filter((p) => p.parentId === null).length;
    await runner.startAll((d) => ['db', 'web'].includes(d.name));
    await runner.startAll((d) => ['db', 'web'].includes(d.name));
    assert.equal(service.processes().filter((p) => p.parentId === null).length, before, 'Start All started a second copy');
    await service.stopAll();
  });

  it('a failed dependency keeps its dependent from starting, said at ERROR with the reason', async () => {
    const { service, logger } = makeService();
    const { entries } = await workspace();
    const runner = new DefinitionRunner(service, logger, () => [{ folder: FOLDER, value: entries }]);
    await assert.rejects(runner.start(runner.find('web-after-broken')), /web-after-broken was not started: its dependency broken-migrate \(succeeded\) failed: it exited with exitcode 1/);
    assert.ok(logger.lines().includes('[ERROR/web-after-broken] not started: its dependency broken-migrate (succeeded) failed: it exited with exitcode 1'));
    assert.equal(runner.rowOf(runner.find('web-after-broken')), undefined);
    assert.equal(runner.stateOf(runner.find('web-after-broken')), 'not started');
  });

  it('a definition keeps its row across runs; another instance is a new row only when asked', async () => {
    const { service, logger } = makeService();
    const { entries } = await workspace();
    const runner = new DefinitionRunner(service, logger, () => [{ folder: FOLDER, value: entries }]);
    const once = runner.find('once');
    const first = await runner.start(once);
    await service.join(first.id);
    const second = await runner.start(once);
    assert.equal(second.id, first.id);
    assert.equal(second.restarts, 1);
    await service.join(second.id);
    assert.equal(service.output(first.id), 'once\n── restarted (exitcode 0), run 2 ──\nonce\n');
    const another = await runner.start(once, { another: true });
    assert.notEqual(another.id, first.id);
    await service.join(another.id);
  });

  it('reports bad entries in the log, naming entry and field, and still runs the good ones', async () => {
    const { service, logger } = makeService();
    const runner = new DefinitionRunner(service, logger, () => [{ folder: FOLDER, value: [{ name: 'good', command: 'true' }, { name: 'bad', command: 'x', ready: { port: 'eighty' } }] }]);
    assert.ok(logger.lines().some((l) => /^\[ERROR\/MainProcess\] procscope\.processes: bad \(entry 2\): `ready\.port`: /.test(l)), logger.lines().join('\n'));
    assert.deepEqual(runner.list().map((d) => [d.name, d.state]), [['good', 'not started'], ['bad', 'invalid']]);
    assert.throws(() => runner.find('bad'), /The definition "bad" cannot run: .*`ready\.port`/);
    const good = await runner.start(runner.find('good'));
    await service.join(good.id);
    assert.equal(service.get(good.id)?.exitCode, 0);
  });

  it('in Restricted Mode nothing the workspace defines starts, autostart included', async () => {
    const { service, logger } = makeService();
    const runner = new DefinitionRunner(service, logger, () => [{ folder: FOLDER, value: [{ name: 'auto', command: 'sleep', args: ['30'], autostart: true }] }], () => false);
    assert.deepEqual(await runner.autostart(), []);
    await assert.rejects(runner.start(runner.find('auto')), /Restricted Mode/);
    assert.equal(service.processes().length, 0);
  });

  it('autostart starts the autostart definitions, once', async () => {
    const { service, logger } = makeService();
    const runner = new DefinitionRunner(service, logger, () => [{ folder: FOLDER, value: [{ name: 'auto', command: 'sleep', args: ['30'], autostart: true }, { name: 'manual', command: 'sleep', args: ['30'] }] }]);
    await runner.autostart();
    await runner.autostart();
    assert.deepEqual(service.processes().map((p) => p.definition), ['auto']);
    await service.stopAll();
  });

  it('autostart leaves a definition stopped by hand stopped (another folder opened, a reload); Start All starts it again', async () => {
    const { service, logger } = makeService();
    const runner = new DefinitionRunner(service, logger, () => [{ folder: FOLDER, value: [{ name: 'auto', command: 'sleep', args: ['30'], autostart: true }] }]);
    const [auto] = await runner.autostart();
    await service.terminate(auto.id);
    assert.deepEqual(await runner.autostart(), []);
    assert.equal(service.get(auto.id)?.alive, false);
    const [again] = await runner.startAll();
    assert.equal(again.id, auto.id, 'the same row');
    assert.equal(again.alive, true);
    await service.stopAll();
  });

  it('Start All twice starts nothing new: a finished job is not run again, nor a running server started twice', async () => {
    const { service, logger } = makeService();
    const runner = new DefinitionRunner(service, logger, () => [{ folder: FOLDER, value: [
      { name: 'job', command: 'sh', args: ['-c', 'echo done'] },
      { name: 'server', command: 'sleep', args: ['30'] },
    ] }]);
    await runner.startAll();
    await waitFor(() => runner.rowOf(runner.find('job'))?.exitCode === 0, 10_000, 'the job to finish');
    const starts = () => logger.lines().filter((l) => /^\[INFO\/(job|server)\] process started with pid /.test(l)).length;
    assert.equal(starts(), 2, logger.lines().join("\n"));
    await runner.startAll();
    await runner.startAll();
    assert.equal(starts(), 2, logger.lines().join('\n'));
    assert.equal(service.get(runner.rowOf(runner.find('job'))?.id as string)?.restarts ?? 0, 0);
    await service.stopAll();
  });

  it('a restart waiting out its back-off is cancelled by Terminate, and the row says so no more', async () => {
    const { service, logger } = makeService();
    const runner = new DefinitionRunner(service, logger, () => [{ folder: FOLDER, value: [{ name: 'flaky', command: 'sh', args: ['-c', 'exit 1'], restart: 'always' }] }]);
    const flaky = await runner.start(runner.find('flaky'));
    const pending = await waitFor(() => {
      const row = service.row(flaky.id);
      return row && !row.alive && isRestartPending(row.phase) ? row : undefined;
    }, 10_000, 'a pending restart');
    const restartsBefore = pending.restarts;
    const snapshot = await service.terminate(flaky.id);
    // The policy clears the phase only when it cancels a pending restart's timer: that is what ended the wait.
    await waitFor(() => !isRestartPending(service.row(flaky.id)?.phase), 5000, 'the pending restart to be cancelled');
    assert.equal(snapshot.alive, false);
    assert.equal(service.row(flaky.id)?.restarts, restartsBefore);
    assert.match(service.get(flaky.id)?.status ?? '', /^stopped\[1\]$/);
  });
});
