// UI tests that use ProcScope as a person would: the command palette, the Processes view, a window
// reload, a crashed extension host. Each test gets its own code-server + headless Chromium, with the
// extension loaded as in development (extensionDevelopmentPath) but no extensionTestsPath, so the
// window stays up. Builds nothing: run `node scripts/build.mjs` first (npm test does).
//
//   node test/integration/ui.mjs [--extension DIR] [--grep TEXT] [--timeout MS]
//
// Env: PROCSCOPE_EXTENSION_PATH, PROCSCOPE_UI_TEST_TIMEOUT_MS. Ends with the line `N passed, N failed`.
/* global document, window, navigator */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setupCodeServer } from '../../scripts/setup-code-server.mjs';
import { artifactsDir, launchBrowser, newWorkbenchPage, notifications, runPaletteCommand, waitForWorkbench } from './browser.mjs';
import { startCodeServer } from './codeServer.mjs';
import { readManifest } from '../shared/manifest.mjs';
import { descendantsOf, describeProcess, environValue, isGone, processesMarkedBy, readProcess } from './procTree.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    extension: { type: 'string', default: process.env.PROCSCOPE_EXTENSION_PATH ?? root },
    grep: { type: 'string', default: '' },
    timeout: { type: 'string', default: process.env.PROCSCOPE_UI_TEST_TIMEOUT_MS ?? String(3 * 60_000) },
  },
});
const extensionPath = resolve(opts.extension);
if (!(Number(opts.timeout) > 0)) {
  console.error(`--timeout / PROCSCOPE_UI_TEST_TIMEOUT_MS must be a positive number of ms, got \`${opts.timeout}\``);
  process.exit(2);
}
const workspace = join(root, 'test/integration/workspace');
const artifacts = artifactsDir(root);
/** How long a daemon may outlive its extension host, and a stopped tree its Stop All. */
const CLEANUP_DEADLINE_MS = 5000;
/** procscope.reattachGraceMs for the test of a window that is closed for good. */
const GRACE_MS = 3000;

// ---------------------------------------------------------------------------------------------
// The tests

/** A test's workbench: `server`, `page`, `log(line)`, and `pidsToKill` (cleaned up afterwards). */
const tests = [
  {
    name: 'palette: Start Process from the command palette shows Process-1 alive in the Processes view',
    async run(t) {
      await palette(t, 'ProcScope: Start Process');
      await typeIntoInputBox(t.page, 'sleep 30');
      await openProcessesView(t.page);
      const row = await waitForRow(t.page, 'Process-1', (r) => /\bpid \d+/.test(r.description) && /\balive\b/.test(r.description),
        'description with "pid N" and "alive"');
      const pid = Number(/\bpid (\d+)/.exec(row.description)[1]);
      t.log(`row: ${row.label} — ${row.description}`);
      if (isSleep(pid)) t.pidsToKill.push(pid);
      const proc = readProcess(pid);
      if (!proc || proc.cmdline.join(' ') !== 'sleep 30') {
        throw new Error(`the row says pid ${pid}, but that is not the process started with "sleep 30": ${describeProcess(pid)}`);
      }
      await t.page.mouse.move(700, 450); // no tooltip in the picture
      await t.page.screenshot({ path: join(artifacts, 'ui-palette.png') });
    },
  },
  {
    name: 'bad input at the prompt: an unterminated quote is refused in the box, a missing command is an error naming it, nothing is left started; the next command runs',
    async run(t) {
      await openProcessesView(t.page);
      await palette(t, 'ProcScope: Start Process');
      await typeIntoInputBox(t.page, 'sleep "32');
      const message = t.page.locator('.quick-input-widget .quick-input-message');
      await message.filter({ hasText: /Unterminated double quote/ }).first().waitFor({ timeout: 10_000 });
      t.log(`in the box: ${(await message.first().textContent())?.trim()}`);
      if (!(await t.page.locator('.quick-input-widget input.input').isVisible())) throw new Error('the box closed on a line it refused');
      await t.page.keyboard.press('Escape');
      await palette(t, 'ProcScope: Start Process');
      await typeIntoInputBox(t.page, 'procscope-no-such-command 1');
      await waitForNotification(t.page, /procscope-no-such-command.*executable not found/);
      t.log(`notifications: ${JSON.stringify(await notifications(t.page))}`);
      const rows = await processRows(t.page);
      if (rows.some((r) => /\balive\b/.test(r.description))) throw new Error(`something was left started: ${JSON.stringify(rows)}`);
      await palette(t, 'ProcScope: Start Process');
      await typeIntoInputBox(t.page, 'sleep 33');
      const row = await waitForRow(t.page, /^Process-\d+$/, (r) => /\balive\b/.test(r.description), 'description with "alive"');
      const pid = Number(/\bpid (\d+)/.exec(row.description)[1]);
      if (isSleep(pid)) t.pidsToKill.push(pid);
      if (readProcess(pid)?.cmdline.join(' ') !== 'sleep 33') throw new Error(`the row after the bad input is not "sleep 33": ${describeProcess(pid)}`);
      await t.page.screenshot({ path: join(artifacts, 'ui-bad-input.png') });
    },
  },
  {
    name: 'reload: after Developer: Reload Window the daemon is gone and the other processes are back in the view, same pids',
    async run(t) {
      const { pids, heartbeat, server, owners } = await startAllAndCollect(t);
      await t.page.evaluate(() => { window.__procscopeBeforeReload = true; });
      const reloadAt = Date.now();
      const daemonGone = watchUntilGone([heartbeat.pid]);
      await palette(t, 'Developer: Reload Window');
      // A reload in code-server is a page navigation: the old window object (and our marker) goes away.
      await t.page.waitForFunction(() => !window.__procscopeBeforeReload && document.querySelector('.monaco-workbench .part.activitybar'), null, { timeout: 60_000 });
      await waitForWorkbench(t.page);
      t.log(`workbench back ${Date.now() - reloadAt} ms after the reload command`);
      await expectAllGone(t, daemonGone, Date.now() + CLEANUP_DEADLINE_MS, reloadAt, 'Reload Window (the daemon)');
      const others = pids.filter((pid) => pid !== heartbeat.pid);
      const dead = others.filter((pid) => isGone(pid));
      if (dead.length) throw new Error(`non-daemon processes ended with the reload: ${dead.join(', ')}`);
      await openProcessesView(t.page);
      const back = await waitForRow(t.page, 'server', (r) => /\balive\b/.test(r.description) && r.description.includes(`pid ${server.pid}`),
        `description with "alive" and "pid ${server.pid}" (the same process, re-adopted)`, 20_000);
      t.log(`re-adopted: server — ${back.description}`);
      const rows = await processRows(t.page);
      if (rows.some((r) => r.label === 'heartbeat' && /\balive\b/.test(r.description))) throw new Error(`the daemon is shown alive after the reload: ${JSON.stringify(rows)}`);
      await t.page.mouse.move(700, 450);
      await t.page.screenshot({ path: join(artifacts, 'ui-reload.png') });
      // Re-adopted processes are ProcScope's again: Stop All ends them.
      const gone = watchUntilGone(others);
      await palette(t, 'ProcScope: Stop All');
      await expectAllGone(t, gone, Date.now() + CLEANUP_DEADLINE_MS, Date.now(), 'Stop All after the reload');
      await expectNoneMarked(t, owners, 'Stop All after the reload');
    },
  },
  {
    name: 'host crash: after a SIGKILL of the extension host, the next host of the window re-adopts the non-daemon processes',
    async run(t) {
      const { pids, heartbeat, server, owners } = await startAllAndCollect(t);
      const host = extensionHostPid(t);
      const killedAt = Date.now();
      const daemonGone = watchUntilGone([heartbeat.pid]);
      process.kill(host, 'SIGKILL');
      t.log(`SIGKILLed extension host ${host}`);
      await expectAllGone(t, daemonGone, killedAt + CLEANUP_DEADLINE_MS, killedAt, 'the extension host was killed (the daemon)');
      const others = pids.filter((pid) => pid !== heartbeat.pid);
      const dead = others.filter((pid) => isGone(pid));
      if (dead.length) throw new Error(`non-daemon processes ended with the host: ${dead.join(', ')}`);
      // code-server neither restarts a killed remote extension host nor offers to: a person reloads the window, and
      // ProcScope, activating on startup, takes its processes back.
      await t.page.evaluate(() => { window.__procscopeBeforeReload = true; });
      await palette(t, 'Developer: Reload Window');
      await t.page.waitForFunction(() => !window.__procscopeBeforeReload && document.querySelector('.monaco-workbench .part.activitybar'), null, { timeout: 60_000 });
      await waitForWorkbench(t.page);
      await openProcessesView(t.page);
      const back = await waitForRow(t.page, 'server', (r) => /\balive\b/.test(r.description) && r.description.includes(`pid ${server.pid}`),
        `description with "alive" and "pid ${server.pid}"`, 30_000);
      t.log(`re-adopted after the crash: server — ${back.description}`);
      const gone = watchUntilGone(others);
      await palette(t, 'ProcScope: Stop All');
      await expectAllGone(t, gone, Date.now() + CLEANUP_DEADLINE_MS, Date.now(), 'Stop All after the crash');
      await expectNoneMarked(t, owners, 'Stop All after the crash');
    },
  },
  {
    name: 'window closed: when no extension host comes back, nothing ProcScope started survives the grace period + 4 s',
    userSettings: { 'procscope.reattachGraceMs': GRACE_MS },
    async run(t) {
      const { owners, supervisor } = await startAllAndCollect(t);
      const host = extensionHostPid(t);
      // The window goes for good: no page is left to start another host, and the host itself dies.
      await t.page.context().close();
      t.page = undefined;
      const closedAt = Date.now();
      try {
        process.kill(host, 'SIGKILL');
        t.log(`closed the window and SIGKILLed extension host ${host}`);
      } catch (error) {
        if (error.code !== 'ESRCH') throw error;
        t.log(`closed the window; extension host ${host} had already exited`); // code-server ends it when the window goes
      }
      const deadline = closedAt + GRACE_MS + 4000;
      let left = processesMarkedBy(owners);
      while (left.length > 0 && Date.now() < deadline) {
        await delay(100);
        left = processesMarkedBy(owners);
      }
      if (left.length) {
        throw new Error(`${left.length} processes started by ProcScope still alive ${Date.now() - closedAt} ms after the window closed:\n${left.map((p) => `      ${describeProcess(p.pid)}`).join('\n')}`);
      }
      t.log(`nothing marked by ${owners.join(', ')} left ${Date.now() - closedAt} ms after the window closed (grace ${GRACE_MS} ms)`);
      const supervisorGone = watchUntilGone([supervisor]);
      await expectAllGone(t, supervisorGone, deadline + 2000, closedAt, 'the window closed (the supervisor process)');
    },
  },
  {
    name: 'a deadlock as a person sees it: both rows marked, what each waits on and who holds it, the WARNING in the log; a pyenv-style python3 adds no launcher rows',
    async run(t) {
      await openProcessesView(t.page);
      await palette(t, 'ProcScope: Start Process');
      await typeIntoInputBox(t.page, `python3 ${join(root, 'test/fixtures/python/deadlock_method.py')} fork`);
      const one = await waitForRow(t.page, 'one', (r) => /deadlocked: waiting on Lock \(deadlock_method\.py:17\) held by two/.test(r.description),
        '"deadlocked: waiting on Lock (deadlock_method.py:17) held by two"', 30_000);
      t.log(`one — ${one.description}`);
      const two = await waitForRow(t.page, 'two', (r) => /deadlocked: waiting on Lock \(deadlock_method\.py:16\) held by one/.test(r.description), 'the other side', 10_000);
      t.log(`two — ${two.description}`);
      await palette(t, 'ProcScope: Show Log');
      await t.page.locator('.monaco-editor .view-lines', { hasText: 'deadlock: one waits on Lock' }).first().waitFor({ timeout: 15_000 })
        .catch(() => t.page.locator('.monaco-editor .view-lines', { hasText: 'deadlock: two waits on Lock' }).first().waitFor({ timeout: 5000 }));
      await t.page.mouse.move(700, 450);
      await t.page.screenshot({ path: join(artifacts, 'ui-deadlock.png') });
      // The program's children are its multiprocessing children only: whatever python3 is here (a pyenv shim on the
      // machines this runs on), the helpers a launcher runs never become rows.
      await palette(t, 'ProcScope: Start Process');
      await typeIntoInputBox(t.page, `python3 ${join(root, 'examples/05_daemon.py')}`);
      await waitForRow(t.page, 'non-daemon', (r) => /\bexitcode 0\b/.test(r.description), '"exitcode 0"', 30_000);
      const rows = await processRows(t.page);
      const program = rows.findIndex((r) => r.label === 'Process-2');
      const below = [];
      for (let i = program + 1; i < rows.length && rows[i].level > rows[program].level; i++) below.push(`${rows[i].level - rows[program].level}:${rows[i].label}`);
      t.log(`under Process-2: ${below.join(', ')}`);
      if (JSON.stringify(below.sort()) !== JSON.stringify(['1:daemon', '1:non-daemon'])) {
        throw new Error(`expected only daemon and non-daemon under the program, got ${JSON.stringify(below)}`);
      }
      await t.page.screenshot({ path: join(artifacts, 'ui-launcher-children.png') });
      await palette(t, 'ProcScope: Stop All');
    },
  },
  {
    name: 'a running definition started again asks, as VS Code\'s tasks do: Cancel starts nothing, Start Another a second copy, Restart the same row',
    async run(t) {
      await palette(t, 'ProcScope: Start All');
      await openProcessesView(t.page);
      await waitForRow(t.page, 'server', (r) => /\balive\b/.test(r.description), '"alive"', 20_000);
      const servers = async () => (await processRows(t.page)).filter((r) => r.label === 'server' && r.level === 1);
      const startAgain = async (answer) => {
        await palette(t, 'ProcScope: Start Workspace Process');
        await expectQuickInput(t.page, /Start Workspace Process|Processes to start/);
        await t.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'server' }).first().click();
        await t.page.keyboard.press('Enter');
        const dialog = t.page.locator('.monaco-dialog-box');
        await dialog.waitFor({ state: 'visible', timeout: 15_000 });
        const text = (await dialog.textContent()) ?? '';
        if (!text.includes('server is already running')) throw new Error(`the dialog says ${JSON.stringify(text)}`);
        if (answer === 'Cancel') await t.page.screenshot({ path: join(artifacts, 'ui-already-running.png') });
        await dialog.locator('.monaco-button', { hasText: answer }).first().click();
        await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
      };
      await startAgain('Cancel');
      if ((await servers()).length !== 1) throw new Error(`Cancel started something: ${JSON.stringify(await servers())}`);
      await startAgain('Start Another');
      await waitUntil(async () => (await servers()).filter((r) => /\balive\b/.test(r.description)).length === 2, 20_000, 'a second server, alive');
      await startAgain('Restart');
      await waitForRow(t.page, 'server', (r) => /\balive\b/.test(r.description) && r.description.includes('↻1'), '"alive" and "↻1" (restarted in its row)', 20_000);
      t.log(`servers: ${(await servers()).map((r) => r.description).join('; ')}`);
      await palette(t, 'ProcScope: Stop All');
    },
  },
  {
    name: 'supervisor killed: after a SIGKILL of the supervisor nothing ProcScope started survives, the log says so, and the next start works',
    async run(t) {
      const { owners, supervisor } = await startAllAndCollect(t);
      const killedAt = Date.now();
      process.kill(supervisor, 'SIGKILL');
      t.log(`SIGKILLed supervisor ${supervisor}`);
      await expectNoneMarked(t, owners, 'the supervisor was killed');
      t.log(`nothing marked by ${owners.join(', ')} left ${Date.now() - killedAt} ms after the supervisor was killed`);
      await palette(t, 'ProcScope: Show Log');
      await t.page.locator('.monaco-editor .view-lines', { hasText: `the supervisor process (pid ${supervisor}) ended unexpectedly` })
        .first().waitFor({ timeout: 15_000 });
      // The next start gets a new supervisor.
      await palette(t, 'ProcScope: Start Process');
      await typeIntoInputBox(t.page, 'sleep 33');
      const row = await waitForRow(t.page, /^Process-\d+$/, (r) => /\balive\b/.test(r.description), 'a new process, alive', 30_000);
      const pid = Number(/\bpid (\d+)/.exec(row.description)[1]);
      t.pidsToKill.push(pid);
      const parent = readProcess(pid)?.ppid;
      if (parent === undefined || parent === supervisor) throw new Error(`the new process ${pid} should run under a new supervisor, its parent is ${parent}`);
      await t.page.screenshot({ path: join(artifacts, 'ui-supervisor-killed.png') });
      const gone = watchUntilGone([pid]);
      await palette(t, 'ProcScope: Stop All');
      await expectAllGone(t, gone, Date.now() + CLEANUP_DEADLINE_MS, Date.now(), 'Stop All after the supervisor was replaced');
    },
  },
  {
    name: 'both killed: the extension host and then its supervisor SIGKILLed, nothing ProcScope started survives',
    async run(t) {
      const { owners, supervisor } = await startAllAndCollect(t);
      const host = extensionHostPid(t);
      process.kill(host, 'SIGKILL');
      t.log(`SIGKILLed extension host ${host}`);
      // Whatever the supervisor was doing about the lost host, it is now killed too: its watchdog must end the rest.
      await waitUntil(() => isGone(host), 10_000, `the extension host ${host} to be gone`);
      const killedAt = Date.now();
      process.kill(supervisor, 'SIGKILL');
      t.log(`SIGKILLed supervisor ${supervisor}`);
      await expectNoneMarked(t, owners, 'the host and then the supervisor were killed');
      t.log(`nothing marked by ${owners.join(', ')} left ${Date.now() - killedAt} ms after the supervisor was killed`);
    },
  },
  {
    name: 'restricted mode: workspace code does not run until trusted, a typed command still does',
    trusted: false,
    async run(t) {
      await refuseTrustIfAsked(t.page);
      await openProcessesView(t.page);
      // Run Active File on a workspace file: a warning that asks for trust, and no process.
      await palette(t, 'Go to File...');
      const quickOpen = t.page.locator('.quick-input-widget input.input');
      await quickOpen.fill('hello.py');
      await t.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'hello.py' }).first().click({ timeout: 15_000 });
      await t.page.locator('.monaco-editor .view-lines', { hasText: 'hello from the workspace' }).first().waitFor({ timeout: 15_000 });
      await palette(t, 'ProcScope: Run Active File');
      await waitForNotification(t.page, /only in a trusted workspace/);
      // Start All: the processes the workspace defines are ignored in Restricted Mode.
      await palette(t, 'ProcScope: Start All');
      // The warning comes from Start All having decided to start nothing (there is nothing in flight after it).
      await waitForNotification(t.page, /processes this workspace defines only in a trusted workspace/);
      const rows = await processRows(t.page);
      if (rows.length) throw new Error(`nothing should have started, but the view shows: ${JSON.stringify(rows)}`);
      // A command the user types is not workspace code: it runs.
      await palette(t, 'ProcScope: Start Process');
      await typeIntoInputBox(t.page, 'sleep 31');
      const row = await waitForRow(t.page, 'Process-1', (r) => /\balive\b/.test(r.description), 'description with "alive"');
      const pid = Number(/\bpid (\d+)/.exec(row.description)[1]);
      if (isSleep(pid)) t.pidsToKill.push(pid);
      // Positive evidence that Start All launched nothing: this is Process-1 (Process-N counts every launch), and the
      // view, showing it, shows nothing else; nor did the workspace's processes run under this code-server.
      await expectOnlyTypedProcess(t, 'Start All in Restricted Mode');
      await t.page.screenshot({ path: join(artifacts, 'ui-restricted.png') });
    },
  },
  {
    name: 'palette titles: typing a ProcScope command\'s title in the palette puts that command first',
    async run(t) {
      const hidden = new Set((manifest()?.contributes?.menus?.commandPalette ?? []).filter((m) => m.when === 'false').map((m) => m.command));
      const commands = (manifest()?.contributes?.commands ?? []).filter((c) => !hidden.has(c.command));
      const wrong = [];
      for (const c of commands) {
        const typed = `${c.category}: ${String(c.title).replace(/(…|\.\.\.)$/, '')}`;
        const first = await firstPaletteEntry(t.page, typed, `${c.category}: ${c.title}`);
        t.log(`"${typed}" → ${first}`);
        if (first !== `${c.category}: ${c.title}`) wrong.push(`typing "${typed}" selects "${first}", not "${c.category}: ${c.title}"`);
      }
      if (wrong.length) throw new Error(wrong.join('\n'));
    },
  },
  {
    name: 'selected row: the title bar\'s + and Set Log Level… prompt, Join… from the context menu reports, Copy PID and Stop All answer',
    async run(t) {
      await t.page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.server.baseUrl });
      await palette(t, 'ProcScope: Start Process');
      await typeIntoInputBox(t.page, 'sleep 300');
      await openProcessesView(t.page);
      const row = await waitForRow(t.page, 'Process-1', (r) => /\balive\b/.test(r.description), 'description with "alive"');
      const pid = Number(/\bpid (\d+)/.exec(row.description)[1]);
      if (isSleep(pid)) t.pidsToKill.push(pid);
      const rowElement = processesPane(t.page).locator('.monaco-list-row', { has: t.page.locator('.label-name', { hasText: /^Process-1$/ }) }).first();
      await rowElement.click();
      await t.page.waitForFunction((el) => el.classList.contains('selected'), await rowElement.elementHandle(), { timeout: 5000 });

      // The status bar counts what the view shows alive.
      await expectStatusCountMatchesRows(t);
      await narrowSideBar(t.page, 230);
      await t.page.mouse.move(700, 450);
      await t.page.screenshot({ path: join(artifacts, 'ui-selected-row.png') });

      // +, with the row selected: the command-line prompt, not "Expected a ProcessSpec object".
      await viewTitleAction(t.page, 'Start Process…').click();
      await expectQuickInput(t.page, /Start Process/);
      await t.page.keyboard.press('Escape');

      // ... → Set Log Level…, with the row selected: the picker, the current level active.
      await viewTitleAction(t.page, /^(Views and )?More Actions/).click();
      await clickMenuItem(t.page, 'Set Log Level…');
      await expectQuickInput(t.page, /Set Log Level/);
      const active = await activeQuickPickLabel(t.page);
      if (active !== 'INFO') throw new Error(`the level picker's active item is ${JSON.stringify(active)}, not the current level INFO`);
      await t.page.screenshot({ path: join(artifacts, 'ui-log-level.png') });
      await t.page.keyboard.press('Escape');
      await palette(t, 'ProcScope: Set Log Level…');
      await expectQuickInput(t.page, /Set Log Level/);
      const fromPalette = await activeQuickPickLabel(t.page);
      if (fromPalette !== 'INFO') throw new Error(`from the palette, the level picker's active item is ${JSON.stringify(fromPalette)}, not the current level INFO`);
      await t.page.keyboard.press('Escape');

      // Join… from the row's context menu: a timeout prompt, progress, and the outcome.
      await rowElement.click({ button: 'right' });
      await clickMenuItem(t.page, 'Join…');
      await expectQuickInput(t.page, /Join Process-1: timeout/);
      await typeIntoInputBox(t.page, '300');
      await waitForNotification(t.page, /Process-1 is still alive/);
      await t.page.screenshot({ path: join(artifacts, 'ui-join-from-row.png') });

      // Copy PID: the pid on the clipboard, and a word in the status bar.
      await rowElement.click({ button: 'right' });
      await clickMenuItem(t.page, 'Copy PID');
      await waitForStatusText(t.page, new RegExp(`Copied pid ${pid} of Process-1`));
      const copied = await t.page.evaluate(() => navigator.clipboard.readText()).catch((error) => `(clipboard unreadable: ${error.message})`);
      if (copied !== String(pid)) throw new Error(`the clipboard holds ${JSON.stringify(copied)}, not the pid ${pid}`);

      // Stop All: what it stopped, then, with nothing left, that nothing runs.
      await palette(t, 'ProcScope: Stop All');
      await waitForStatusText(t.page, /stopped 1 process\b/);
      await waitForRow(t.page, 'Process-1', (r) => /exitcode -15/.test(r.description), 'description with "exitcode -15"');
      await expectStatusCountMatchesRows(t);
      await palette(t, 'ProcScope: Stop All');
      await waitForStatusText(t.page, /no process is running/);
    },
  },
  {
    name: 'no definitions: the view explains workspace processes, Start All answers without a popup, the link writes an example',
    workspace() {
      const dir = mkdtempSync(join(tmpdir(), 'procscope-ui-empty-'));
      writeFileSync(join(dir, 'hello.py'), "print('hello from an empty workspace')\n");
      mkdirSync(join(dir, 'scripts'));
      writeFileSync(join(dir, 'scripts', 'build.sh'), 'echo built\n');
      return dir;
    },
    async run(t) {
      await openProcessesView(t.page);
      await waitForWelcome(t.page, /defines no processes yet/);
      await t.page.mouse.move(700, 450);
      await t.page.screenshot({ path: join(artifacts, 'ui-no-definitions.png') });

      for (const [command, title] of [['ProcScope: Start All', 'Start All'], ['ProcScope: Start Workspace Process', 'Start Workspace Process']]) {
        await palette(t, command);
        await waitForStatusText(t.page, new RegExp(`${title}: this workspace defines no processes`));
        const popups = await notifications(t.page);
        if (popups.length) throw new Error(`${command} with nothing defined showed notifications: ${JSON.stringify(popups)}`);
        if (await t.page.locator('.quick-input-widget input.input').isVisible()) throw new Error(`${command} with nothing defined opened a prompt`);
      }

      // The welcome's button: .vscode/settings.json, created with an example that the schema accepts.
      await processesPane(t.page).locator('.welcome-view-content .monaco-button', { hasText: 'Define Workspace Processes' }).click();
      const file = join(t.folder, '.vscode', 'settings.json');
      await waitUntil(() => existsSync(file), 15_000, `${file} to be written`);
      await t.page.locator('.editor-group-container .tab', { hasText: 'settings.json' }).first().waitFor({ timeout: 15_000 });
      await t.page.locator('.monaco-editor .view-lines', { hasText: 'procscope.processes' }).first().waitFor({ timeout: 15_000 });
      const settings = JSON.parse(readFileSync(file, 'utf8'));
      const problems = schemaProblems(settings['procscope.processes'], manifest().contributes.configuration.properties['procscope.processes']);
      if (!Array.isArray(settings['procscope.processes']) || settings['procscope.processes'].length === 0) problems.push('no example entry');
      else if (!settings['procscope.processes'][0].ready || !settings['procscope.processes'][0].restart) problems.push('the example shows no readiness probe or restart policy');
      if (problems.length) throw new Error(`the example in ${file} does not fit the schema: ${problems.join('; ')}\n${readFileSync(file, 'utf8')}`);
      t.log(`example: ${JSON.stringify(settings['procscope.processes'])}`);
      // The example is a definition now: a row before it runs.
      await waitForRow(t.page, 'web', (r) => r.description === 'not started', '"not started" (the example, a definition row)');
      await t.page.screenshot({ path: join(artifacts, 'ui-example-definition.png') });

      // Run Active File with no editor open: a pick of the workspace's files.
      await palette(t, 'View: Close All Editors');
      await t.page.locator('.editor-group-container .tab').first().waitFor({ state: 'detached', timeout: 10_000 });
      await palette(t, 'ProcScope: Run Active File');
      await expectQuickInput(t.page, /Run Active File/);
      const labels = await quickPickLabels(t.page);
      if (!labels.includes('hello.py') || !labels.includes('build.sh')) throw new Error(`the file pick lists ${JSON.stringify(labels)}, not hello.py and build.sh`);
      await t.page.screenshot({ path: join(artifacts, 'ui-run-file-pick.png') });
      await t.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'hello.py' }).first().click();
      await waitForRow(t.page, 'hello.py', (r) => /exitcode 0/.test(r.description), 'description with "exitcode 0"', 30_000);
    },
  },
  {
    name: 'definitions: a person sees the workspace processes before they run, and what one waits for',
    workspace() {
      const dir = mkdtempSync(join(tmpdir(), 'procscope-ui-definitions-'));
      mkdirSync(join(dir, '.vscode'));
      const port = 40000 + Math.floor(Math.random() * 20000);
      writeFileSync(join(dir, '.vscode', 'settings.json'), JSON.stringify({
        'procscope.processes': [
          { name: 'db', command: 'python3', args: [join(root, 'test/fixtures/python/tcp_server.py'), String(port), '4'], ready: { port } },
          { name: 'web', command: 'sleep', args: ['300'], dependsOn: { db: 'ready' }, restart: 'on-failure' },
        ],
      }, null, 2));
      return dir;
    },
    async run(t) {
      await openProcessesView(t.page);
      await waitForRow(t.page, 'db', (r) => r.description === 'not started', '"not started"');
      await waitForRow(t.page, 'web', (r) => r.description === 'not started', '"not started"');
      await t.page.mouse.move(700, 450);
      await t.page.screenshot({ path: join(artifacts, 'ui-definitions-before.png') });
      await palette(t, 'ProcScope: Start All');
      const waiting = await waitForRow(t.page, 'web', (r) => r.description.startsWith('waiting for db (ready)'), '"waiting for db (ready)"');
      t.log(`web — ${waiting.description}`);
      await t.page.mouse.move(700, 450);
      await t.page.screenshot({ path: join(artifacts, 'ui-definitions-waiting.png') });
      const db = await waitForRow(t.page, 'db', (r) => /\bready\b/.test(r.description), '"ready"', 30_000);
      const web = await waitForRow(t.page, 'web', (r) => /\balive\b/.test(r.description), '"alive"', 30_000);
      t.log(`db — ${db.description}; web — ${web.description}`);
      for (const row of [db, web]) t.pidsToKill.push(Number(/\bpid (\d+)/.exec(row.description)[1]));
      await t.page.mouse.move(700, 450);
      await t.page.screenshot({ path: join(artifacts, 'ui-definitions-running.png') });
      await palette(t, 'ProcScope: Stop All');
      await waitForRow(t.page, 'web', (r) => /exitcode -15/.test(r.description), '"exitcode -15" after Stop All');
    },
  },
  {
    name: 'restricted mode: a workspace that autostarts a process starts nothing, and the view says why',
    trusted: false,
    workspace() {
      const dir = mkdtempSync(join(tmpdir(), 'procscope-ui-autostart-'));
      mkdirSync(join(dir, '.vscode'));
      writeFileSync(join(dir, '.vscode', 'settings.json'), JSON.stringify({
        'procscope.processes': [{ name: 'autostarted', command: 'sleep', args: ['301'], autostart: true }],
      }, null, 2));
      return dir;
    },
    async run(t) {
      await refuseTrustIfAsked(t.page);
      await openProcessesView(t.page);
      await waitForWelcome(t.page, /Restricted Mode/);
      const rows = await processRows(t.page);
      if (rows.length) throw new Error(`nothing should show in Restricted Mode, but the view has: ${JSON.stringify(rows)}`);
      await t.page.screenshot({ path: join(artifacts, 'ui-restricted-autostart.png') });
      // Positive evidence that autostart had its chance: activation calls it (and, for a new window, at once: no
      // supervisor to re-adopt) right after it registers the commands. A process typed by hand afterwards is Process-1
      // (Process-N counts every launch, autostarted ones too), and the view showing it shows nothing else.
      await palette(t, 'ProcScope: Start Process');
      await typeIntoInputBox(t.page, 'sleep 32');
      const row = await waitForRow(t.page, 'Process-1', (r) => /\balive\b/.test(r.description), 'description with "alive"', 30_000);
      const pid = Number(/\bpid (\d+)/.exec(row.description)[1]);
      if (isSleep(pid)) t.pidsToKill.push(pid);
      await expectOnlyTypedProcess(t, 'opening the folder in Restricted Mode', ['sleep 301']);
    },
  },
  {
    name: 'churning tree: short-lived children fold into "+N ended", and the live row\'s tooltip comes while they churn',
    async run(t) {
      await palette(t, 'ProcScope: Start Process');
      await typeIntoInputBox(t.page, 'bash -c "while true; do sleep 1.2 & wait; /bin/true; done"');
      await openProcessesView(t.page);
      const root = await waitForRow(t.page, 'Process-1', (r) => /\balive\b/.test(r.description), '"alive"');
      t.pidsToKill.push(Number(/\bpid (\d+)/.exec(root.description)[1]));
      const folded = await waitForRow(t.page, /^\+\d+ ended$/, () => true, 'a "+N ended" row', 40_000);
      const rows = await processRows(t.page);
      const ended = rows.filter((r) => r.level === 2 && /^Process-1:\d+$/.test(r.label) && !/\balive\b/.test(r.description));
      if (ended.length > 3) throw new Error(`more than 3 ended children shown: ${JSON.stringify(rows)}`);
      if (rows.some((r) => r.description.includes('true'))) throw new Error(`a child that lived under a poll interval got a row: ${JSON.stringify(rows)}`);
      t.log(`${folded.label}; rows: ${rows.map((r) => r.label).join(', ')}`);
      await t.page.mouse.move(700, 450);
      await t.page.screenshot({ path: join(artifacts, 'ui-churn-folded.png') });
      // Hover the live parent while children come and go below it: its tooltip comes, and stays (rows are not rebuilt
      // on every poll any more, and CPU and memory, in the tooltip, never re-render a row). Churn is seen first, so the
      // tooltip is tested against it.
      const churnOf = (shown) => ({
        newest: Math.max(0, ...shown.map((r) => Number(/^Process-1:(\d+)$/.exec(r.label)?.[1] ?? 0))),
        ended: Math.max(0, ...shown.map((r) => Number(/^\+(\d+) ended$/.exec(r.label)?.[1] ?? 0))),
      });
      const before = churnOf(await processRows(t.page));
      await waitUntil(async () => {
        const now = churnOf(await processRows(t.page));
        return now.newest > before.newest || now.ended > before.ended;
      }, 30_000, 'a child to come or go below Process-1');
      const row = processesPane(t.page).locator('.monaco-list-row', { has: t.page.locator('.label-name', { hasText: /^Process-1$/ }) }).first();
      await row.hover();
      const hover = t.page.locator('.monaco-hover, .workbench-hover, .custom-hover').filter({ hasText: 'Command:' }).first();
      await hover.waitFor({ state: 'visible', timeout: 15_000 });
      await t.page.screenshot({ path: join(artifacts, 'ui-churn-tooltip.png') });
      // How long it stays is logged, not judged: VS Code re-renders a row whose children change (a new child row must be
      // fetched through it), and that closes its tooltip; rows whose children do not change keep theirs (unit test
      // treeRefresh: CPU and memory samples re-render nothing).
      const shownAt = Date.now();
      while (Date.now() - shownAt < 3000 && (await hover.isVisible())) await delay(100);
      t.log(`tooltip shown while children churned, up for ${Date.now() - shownAt} ms (before ${JSON.stringify(before)}, now ${JSON.stringify(churnOf(await processRows(t.page)))})`);
      await palette(t, 'ProcScope: Stop All');
    },
  },
  {
    name: 'multi-root: each folder\'s definitions are grouped under the folder, the same name allowed in both',
    workspace() {
      const dir = mkdtempSync(join(tmpdir(), 'procscope-ui-multiroot-'));
      for (const [folder, names] of [['api', ['web', 'worker']], ['front', ['web']]]) {
        mkdirSync(join(dir, folder, '.vscode'), { recursive: true });
        writeFileSync(join(dir, folder, '.vscode', 'settings.json'), JSON.stringify({
          'procscope.processes': names.map((name) => ({ name, command: 'sleep', args: ['302'] })),
        }, null, 2));
      }
      const file = join(dir, 'both.code-workspace');
      writeFileSync(file, JSON.stringify({ folders: [{ path: 'api' }, { path: 'front' }] }, null, 2));
      return file;
    },
    async run(t) {
      await openProcessesView(t.page);
      await waitForRow(t.page, 'front', () => true, 'the folder row "front"', 30_000);
      const rows = await processRows(t.page);
      const shape = rows.map((r) => `${r.level}:${r.label}:${r.description}`);
      const expected = ['1:api:', '2:web:not started', '2:worker:not started', '1:front:', '2:web:not started'];
      if (JSON.stringify(shape.map((line) => line.replace(/:[^:]*\/[^:]*$/, ':'))) !== JSON.stringify(expected)) {
        throw new Error(`expected the definitions grouped by folder ${JSON.stringify(expected)}, got ${JSON.stringify(shape)}`);
      }
      await t.page.mouse.move(700, 450);
      await t.page.screenshot({ path: join(artifacts, 'ui-multi-root.png') });
    },
  },
  {
    name: 'timeline: Show Timeline draws a bar per process coloured by outcome, and a click on a bar selects its row',
    async run(t) {
      await openProcessesView(t.page);
      const started = [['sleep 30', 'Process-1', /\balive\b/], ['sh -c "exit 3"', 'Process-2', /exitcode 3\b/], ['true', 'Process-3', /exitcode 0\b/]];
      for (const [command, name, state] of started) {
        await palette(t, 'ProcScope: Start Process');
        await typeIntoInputBox(t.page, command);
        const row = await waitForRow(t.page, name, (r) => state.test(r.description), `description matching ${state}`);
        if (name === 'Process-1') {
          const pid = Number(/\bpid (\d+)/.exec(row.description)[1]);
          if (isSleep(pid)) t.pidsToKill.push(pid);
        }
      }
      await palette(t, 'ProcScope: Show Timeline');
      const frame = await timelineFrame(t.page, 3);
      const bars = await timelineBars(frame);
      t.log(`bars: ${bars.map((b) => `${b.label.split(',')[0]} [${b.classes}]`).join('; ')}`);
      const expected = { 'Process-1': 'alive', 'Process-2': 'error', 'Process-3': 'ok' };
      const wrong = Object.entries(expected).filter(([name, outcome]) => bars.filter((b) => b.label.startsWith(`${name},`) && b.classes.split(' ').includes(outcome)).length !== 1);
      if (bars.length !== 3 || wrong.length) throw new Error(`expected one .bar per process (${JSON.stringify(expected)}), got ${JSON.stringify(bars)}`);

      // The frame rate while the live bar grows (logged, not asserted: the machine decides it).
      const fps = await frame.evaluate(() => new Promise((resolve) => {
        let frames = 0;
        const start = performance.now();
        const count = (now) => (now - start < 2000 ? (frames++, window.requestAnimationFrame(count)) : resolve(frames / ((now - start) / 1000)));
        window.requestAnimationFrame(count);
      }));
      t.log(`timeline page: ${Number(fps).toFixed(1)} frames/s while the live bar grows`);

      // A click on the live process's bar selects its row in the Processes view.
      await frame.locator('.bar.alive').first().click();
      await expectRowSelected(t.page, 'Process-1');
      await t.page.mouse.move(700, 880);
      await t.page.screenshot({ path: join(artifacts, 'ui-timeline.png') });

      // Keyboard: the arrow keys move between bars in order, Enter reveals the row.
      await frame.locator('.bar.alive').first().press('ArrowDown');
      const focused = await frame.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
      if (!focused.startsWith('Process-2,')) throw new Error(`ArrowDown from Process-1's bar focused ${JSON.stringify(focused)}, not Process-2's bar`);
      await frame.locator('.bar:focus').press('Enter');
      await expectRowSelected(t.page, 'Process-2');

      // Cleared rows stay in the timeline, greyed; a click on one says so instead of revealing.
      await palette(t, 'ProcScope: Clear Exited');
      await waitUntil(async () => (await frame.locator('.bar.removed').count()) === 2, 10_000, 'the two exited bars to be marked removed');
      await frame.locator('.row', { has: frame.locator('.label', { hasText: /^Process-3$/ }) }).locator('.name').click();
      await waitForNotification(t.page, /Process-3 has no row in the Processes view any more/);
      await t.page.setViewportSize({ width: 860, height: 620 });
      await t.page.mouse.move(600, 600);
      await delay(500);
      await t.page.screenshot({ path: join(artifacts, 'ui-timeline-narrow.png') });
      await palette(t, 'ProcScope: Stop All');
    },
  },
];

/**
 * After a person started one process by hand (Process-1, alive): the view shows that row alone, so nothing else was
 * launched before it (it would have taken the number 1) nor since; and none of `commands` (nor the default workspace's
 * processes) runs under this code-server. `what` names what should have started nothing.
 */
async function expectOnlyTypedProcess(t, what, commands = ['sleep 300', 'bash -c sleep 300 & sleep 300']) {
  const rows = await processRows(t.page);
  if (rows.length !== 1 || rows[0].label !== 'Process-1') throw new Error(`after ${what}, only the process typed by hand should show, but the view has: ${JSON.stringify(rows)}`);
  const started = descendantsOf(t.server.pid).filter((p) => p.state !== 'Z' && commands.includes(p.cmdline.join(' ')));
  if (started.length) throw new Error(`${what} started workspace processes: ${started.map((p) => describeProcess(p.pid)).join('; ')}`);
}

/** Types `typed` into the command palette and returns the label of its first entry, once `expected` is listed. */
async function firstPaletteEntry(page, typed, expected, timeoutMs = 20_000) {
  const input = page.locator('.quick-input-widget input.input');
  const labels = page.locator('.quick-input-widget .quick-input-list .monaco-list-row .label-name');
  const deadline = Date.now() + timeoutMs;
  let shown = [];
  while (Date.now() < deadline) {
    if (!(await input.isVisible())) {
      await page.keyboard.press('F1');
      await input.waitFor({ state: 'visible', timeout: 2000 }).catch(() => {});
      if (!(await input.isVisible())) continue;
    }
    await input.fill(`>${typed}`);
    // The palette lists the commands known when it opens; a development extension's arrive a little later.
    const listed = await waitUntil(async () => {
      shown = (await labels.allTextContents().catch(() => [])).map((l) => l.trim());
      return shown.includes(expected);
    }, 2000, '').then(() => true, () => false);
    await page.keyboard.press('Escape');
    await input.waitFor({ state: 'hidden', timeout: 2000 }).catch(() => {});
    if (listed) return shown[0];
  }
  throw new Error(`the palette does not list "${expected}" for "${typed}" after ${timeoutMs} ms; it shows: ${JSON.stringify(shown.slice(0, 10))}`);
}

/** Drags the side bar's edge until it is about `width` pixels wide, as a person with a small screen would. */
async function narrowSideBar(page, width) {
  const box = await page.locator('.part.sidebar').first().boundingBox();
  if (!box) throw new Error('no side bar');
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width - 1, y);
  await page.mouse.down();
  await page.mouse.move(box.x + width, y, { steps: 8 });
  await page.mouse.up();
}

/** An action of the Processes view's title bar (the side bar's title, the view being alone in its container). */
function viewTitleAction(page, label) {
  return titleActionByLabel(page, typeof label === 'string' ? new RegExp(`^${escapeForRegExp(label)}`) : label);
}

function titleActionByLabel(page, pattern) {
  return {
    async click() {
      const deadline = Date.now() + 10_000;
      let labels = [];
      while (Date.now() < deadline) {
        const actions = page.locator('.part.sidebar .composite.title .action-label[aria-label], .part.sidebar .pane-header .action-label[aria-label]');
        labels = await actions.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
        const index = labels.findIndex((l) => pattern.test(l ?? ''));
        if (index >= 0) {
          await actions.nth(index).click();
          return;
        }
        await delay(200);
      }
      throw new Error(`no title-bar action matching ${pattern} in the Processes view; it has: ${JSON.stringify(labels)}`);
    },
  };
}

function escapeForRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Clicks an item of the context menu (or title-bar overflow menu) that is showing. A menu ignores a click that comes
 * right after it opened (so the click that opened it cannot pick an item): click until the menu closes.
 */
async function clickMenuItem(page, label, timeoutMs = 10_000) {
  const item = page.locator('.monaco-menu .action-item:not(.disabled) .action-label', { hasText: new RegExp(`^${escapeForRegExp(label)}$`) }).first();
  const deadline = Date.now() + timeoutMs;
  await item.waitFor({ state: 'visible', timeout: timeoutMs }).catch(async () => {
    const items = await page.locator('.monaco-menu .action-item .action-label').allTextContents().catch(() => []);
    throw new Error(`no menu item "${label}"; the menu shows: ${JSON.stringify(items.filter(Boolean))}`);
  });
  while (await item.isVisible()) {
    if (Date.now() > deadline) throw new Error(`the menu item "${label}" does not respond to clicks`);
    await item.click().catch(() => {});
    await item.waitFor({ state: 'hidden', timeout: 500 }).catch(() => {});
  }
}

/** Waits for a quick pick or input box (not the palette) whose title, prompt or placeholder matches `pattern`. */
async function expectQuickInput(page, pattern, timeoutMs = 10_000) {
  const widget = page.locator('.quick-input-widget');
  let text = '';
  try {
    await waitUntil(async () => {
      if (!(await widget.isVisible())) return false;
      text = await widget.evaluate((el) => [
        el.querySelector('.quick-input-title')?.textContent ?? '',
        el.querySelector('.quick-input-message')?.textContent ?? '',
        el.querySelector('input.input')?.getAttribute('placeholder') ?? '',
        el.querySelector('input.input')?.getAttribute('aria-label') ?? '',
      ].join(' | '));
      return pattern.test(text);
    }, timeoutMs, '');
  } catch {
    throw new Error(`no prompt matching ${pattern} after ${timeoutMs} ms (quick input: ${JSON.stringify(text)}); notifications: ${JSON.stringify(await notifications(page))}`);
  }
}

/** The label of the quick pick's active (keyboard-focused) item. */
async function activeQuickPickLabel(page) {
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row.focused .label-name').first();
  await row.waitFor({ timeout: 5000 }).catch(() => {});
  return (await row.textContent().catch(() => null))?.trim() ?? null;
}

async function quickPickLabels(page) {
  return (await page.locator('.quick-input-widget .quick-input-list .monaco-list-row .label-name').allTextContents()).map((l) => l.trim());
}

/** Text of every status-bar entry. */
async function statusTexts(page) {
  return page.locator('.part.statusbar .statusbar-item').evaluateAll((items) => items.map((i) => (i.textContent ?? '').trim()).filter(Boolean));
}

async function waitForStatusText(page, pattern, timeoutMs = 10_000) {
  let texts = [];
  try {
    await waitUntil(async () => (texts = await statusTexts(page)).some((text) => pattern.test(text)), timeoutMs, '');
  } catch {
    throw new Error(`no status-bar text matching ${pattern} after ${timeoutMs} ms; it shows: ${JSON.stringify(texts)}; notifications: ${JSON.stringify(await notifications(page))}`);
  }
}

/** The ProcScope status-bar count equals the rows the Processes view shows alive (waits for the two to settle). */
async function expectStatusCountMatchesRows(t) {
  const item = t.page.locator('.part.statusbar .statusbar-item', { has: t.page.locator('.codicon-server-process') }).first();
  let count;
  let alive;
  try {
    await waitUntil(async () => {
      count = Number((await item.textContent())?.trim());
      alive = (await processRows(t.page)).filter((r) => /\balive\b/.test(r.description)).length;
      return count === alive;
    }, 10_000, '');
  } catch {
    throw new Error(`the status bar says ${count} live, the view shows ${alive} rows alive: ${JSON.stringify(await processRows(t.page))}`);
  }
  t.log(`status bar: ${count} live = ${alive} rows alive`);
}

async function waitForWelcome(page, pattern, timeoutMs = 15_000) {
  const welcome = processesPane(page).locator('.welcome-view-content');
  let text = '';
  try {
    await waitUntil(async () => pattern.test(text = (await welcome.textContent().catch(() => '')) ?? ''), timeoutMs, '');
  } catch {
    throw new Error(`the Processes view's welcome does not say ${pattern} after ${timeoutMs} ms; it says: ${JSON.stringify(text)}`);
  }
}

/** Problems of `value` against the subset of JSON schema that package.json's procscope.processes uses. */
function schemaProblems(value, schema, where = 'procscope.processes') {
  const problems = [];
  const type = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  if (schema.type && schema.type !== type) return [`${where} is ${type}, the schema wants ${schema.type}`];
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${where} is ${JSON.stringify(value)}, not one of ${JSON.stringify(schema.enum)}`);
  if (type === 'array' && schema.items) value.forEach((item, i) => problems.push(...schemaProblems(item, schema.items, `${where}[${i}]`)));
  if (type === 'object') {
    for (const key of schema.required ?? []) if (!(key in value)) problems.push(`${where} lacks ${key}`);
    for (const [key, item] of Object.entries(value)) {
      const property = schema.properties?.[key];
      if (property) problems.push(...schemaProblems(item, property, `${where}.${key}`));
      else if (schema.additionalProperties === false) problems.push(`${where} has ${key}, which the schema does not allow`);
      else if (typeof schema.additionalProperties === 'object') problems.push(...schemaProblems(item, schema.additionalProperties, `${where}.${key}`));
    }
  }
  return problems;
}

/** Polls `check` every 100 ms until it is truthy; throws after `timeoutMs` naming `what`. */
async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(100);
  }
}

/** Answers VS Code's "Do you trust the authors?" dialog with No, if it shows: the window stays in Restricted Mode. */
async function refuseTrustIfAsked(page) {
  const no = page.locator('.monaco-dialog-box .monaco-button', { hasText: /don't trust|No/ }).first();
  await no.waitFor({ state: 'visible', timeout: 10_000 }).then(() => no.click(), () => {});
}

/** Waits for a notification whose text matches `pattern`. */
async function waitForNotification(page, pattern, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let seen = [];
  while (Date.now() < deadline) {
    seen = await notifications(page);
    if (seen.some((text) => pattern.test(text))) return;
    await delay(200);
  }
  throw new Error(`no notification matching ${pattern} after ${timeoutMs} ms; notifications: ${JSON.stringify(seen)}`);
}

/**
 * Runs ProcScope: Start All (the workspace defines a daemon and a non-daemon with a child) and returns every pid
 * involved, the two rows' processes, and the supervisors' marks (PROCSCOPE_OWNER) the processes carry.
 */
async function startAllAndCollect(t) {
  await palette(t, 'ProcScope: Start All');
  await openProcessesView(t.page);
  const alive = (r) => /\balive\b/.test(r.description) && /\bpid \d+/.test(r.description);
  const heartbeatRow = await waitForRow(t.page, 'heartbeat', alive, 'description with "pid N" and "alive"');
  const serverRow = await waitForRow(t.page, 'server', alive, 'description with "pid N" and "alive"');
  t.log(`rows: heartbeat — ${heartbeatRow.description}; server — ${serverRow.description}`);
  if (!/\bdaemon\b/.test(heartbeatRow.description)) t.log('note: the heartbeat row does not say "daemon"');
  const heartbeat = { pid: Number(/\bpid (\d+)/.exec(heartbeatRow.description)[1]) };
  const server = { pid: Number(/\bpid (\d+)/.exec(serverRow.description)[1]) };

  // heartbeat is one sleep; server is bash with two sleeps (or one, if bash execs the last command).
  let collected = [];
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    collected = descendantsOf(t.server.pid).filter((p) => (p.comm === 'sleep' || p.comm === 'bash') && p.state !== 'Z');
    if (collected.filter((p) => p.comm === 'sleep' && p.cmdline.join(' ') === 'sleep 300').length >= 3) break;
    await delay(200);
  }
  const pids = collected.map((p) => p.pid);
  t.pidsToKill.push(...pids);
  t.log(`collected ${pids.length} pids:\n${pids.map((pid) => `      ${describeProcess(pid)}`).join('\n')}`);
  const sleeps = collected.filter((p) => p.comm === 'sleep').length;
  if (sleeps < 3) throw new Error(`expected at least 3 "sleep 300" processes under code-server (heartbeat + server's two), found ${sleeps}`);
  for (const [label, p] of [['heartbeat', heartbeat], ['server', server]]) {
    if (!pids.includes(p.pid)) throw new Error(`row ${label} shows pid ${p.pid}, which is not among the processes under code-server: ${describeProcess(p.pid)}`);
  }
  const owners = [...new Set(pids.map((pid) => environValue(pid, 'PROCSCOPE_OWNER')?.split('/')[0]).filter(Boolean))];
  if (owners.length === 0) throw new Error('the processes carry no PROCSCOPE_OWNER mark');
  const supervisor = readProcess(heartbeat.pid)?.ppid;
  return { pids, heartbeat, server, owners, supervisor };
}

/** The one extension host under this test's code-server. */
function extensionHostPid(t) {
  const hosts = descendantsOf(t.server.pid).filter((p) => p.cmdline.some((arg) => arg === '--type=extensionHost'));
  if (hosts.length !== 1) {
    throw new Error(`expected one extension host under code-server ${t.server.pid}, found ${hosts.length}: ${hosts.map((p) => describeProcess(p.pid)).join('; ')}`);
  }
  return hosts[0].pid;
}

/** Fails if any process carrying one of the marks is still alive. */
async function expectNoneMarked(t, owners, what) {
  const deadline = Date.now() + CLEANUP_DEADLINE_MS;
  let left = processesMarkedBy(owners);
  while (left.length > 0 && Date.now() < deadline) {
    await delay(100);
    left = processesMarkedBy(owners);
  }
  if (left.length) throw new Error(`still alive after ${what}:\n${left.map((p) => `      ${describeProcess(p.pid)}`).join('\n')}`);
}

/**
 * Starts polling /proc every 50 ms for `pids` (zombies count as gone), from now on, so that the
 * moment they are all gone is known even while the test waits for something else.
 */
function watchUntilGone(pids) {
  const watch = { pids, goneAt: undefined, left: () => pids.filter((pid) => !isGone(pid)) };
  const timer = setInterval(() => {
    if (watch.left().length === 0) {
      watch.goneAt = Date.now();
      clearInterval(timer);
    }
  }, 50);
  watch.stop = () => clearInterval(timer);
  return watch;
}

/** Waits until the watched pids are all gone, or fails at `deadline` listing the survivors. */
async function expectAllGone(t, watch, deadline, since, what) {
  try {
    while (watch.goneAt === undefined && Date.now() <= deadline) await delay(50);
    if (watch.goneAt !== undefined) {
      t.log(`all ${watch.pids.length} processes gone ${watch.goneAt - since} ms after ${what}`);
      return;
    }
    const left = watch.left();
    if (!left.length) return; // gone between the last poll and now
    throw new Error(`${left.length} of ${watch.pids.length} processes still alive ${Date.now() - since} ms after ${what}:\n${left.map((pid) => `      ${describeProcess(pid)}`).join('\n')}`);
  } finally {
    watch.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Person-style helpers

/** Runs a palette command; when it is missing, says whether the extension's manifest contributes it at all. */
async function palette(t, label) {
  try {
    await runPaletteCommand(t.page, label);
  } catch (error) {
    const [category, title] = label.split(': ');
    if (category === 'ProcScope') {
      const commands = manifest()?.contributes?.commands ?? [];
      const found = commands.find((c) => c.category === category && String(c.title).replace(/(…|\.\.\.)$/, '') === title);
      const why = found ? `the manifest does contribute it (${found.command}), so it was not registered in time or is hidden (enablement/when)`
        : `the extension's package.json contributes no command with category "${category}" and title "${title}"`;
      throw new Error(`${error instanceof Error ? error.message : error}\n    (${why})`);
    }
    throw error;
  }
}

function manifest() {
  try {
    return readManifest(extensionPath);
  } catch {
    return undefined;
  }
}

/** Types into the input box a command opened (not the palette itself) and presses Enter. */
async function typeIntoInputBox(page, text) {
  const input = page.locator('.quick-input-widget input.input');
  const deadline = Date.now() + 15_000;
  // After the palette closes, the same widget reopens for the command's input box: see it close first.
  await input.waitFor({ state: 'hidden', timeout: 3000 }).catch(() => {});
  while (!(await input.isVisible()) || (await input.inputValue()).startsWith('>')) {
    if (Date.now() > deadline) throw new Error(`no input box appeared to type "${text}" into; notifications: ${JSON.stringify(await notifications(page))}`);
    await delay(100);
  }
  await input.fill(text);
  await input.press('Enter');
}

/** Shows the Processes view by clicking the ProcScope activity-bar item (unless it is already showing). */
async function openProcessesView(page) {
  const item = page.locator('.activitybar .action-item').filter({ has: page.locator('.action-label[aria-label^="ProcScope"]') }).first();
  try {
    await item.waitFor({ state: 'visible', timeout: 30_000 });
  } catch {
    const labels = await page.locator('.activitybar .action-item .action-label').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
    throw new Error(`no "ProcScope" item in the activity bar; it has: ${JSON.stringify(labels)}`);
  }
  // Clicking the item of the container already shown would hide the side bar; right after a reload the workbench may
  // still be restoring it, so a click can land on either side of that: look again, and click again if it is hidden.
  const deadline = Date.now() + 30_000;
  while (!(await processesPane(page).isVisible())) {
    if (Date.now() > deadline) throw new Error('the Processes view did not show after 30 s of clicking the ProcScope item');
    await item.click();
    await processesPane(page).waitFor({ state: 'visible', timeout: 3000 }).catch(() => {});
  }
}

function processesPane(page) {
  return page.locator('.pane').filter({ has: page.locator('.pane-header[aria-label^="Processes"]') }).first();
}

/** Rows of the Processes view as { label, description, level }. */
async function processRows(page) {
  return processesPane(page).locator('.monaco-list-row').evaluateAll((rows) => rows.map((row) => ({
    label: row.querySelector('.label-name')?.textContent?.trim() ?? '',
    description: row.querySelector('.label-description')?.textContent?.trim() ?? '',
    level: Number(row.getAttribute('aria-level') ?? 0),
  })));
}

/** Waits until a row labelled `label` satisfies `ok`; the error names what was seen instead. */
async function waitForRow(page, label, ok, wanted, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let rows = [];
  for (;;) {
    rows = await processRows(page);
    const row = rows.find((r) => (label instanceof RegExp ? label.test(r.label) : r.label === label) && ok(r));
    if (row) return row;
    if (Date.now() > deadline) break;
    await delay(200);
  }
  const seen = rows.length ? rows.map((r) => `${'  '.repeat(Math.max(0, r.level - 1))}${r.label} — ${r.description}`).join('\n      ') : '(no rows)';
  throw new Error(`no row "${label}" with ${wanted} in the Processes view after ${timeoutMs} ms; rows:\n      ${seen}\n    notifications: ${JSON.stringify(await notifications(page))}`);
}

function isSleep(pid) {
  const p = readProcess(pid);
  return p !== undefined && p.comm === 'sleep';
}

function delay(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function slug(name) {
  return name.split(':')[0].toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

/** The timeline's page: VS Code nests a webview's document two iframes deep, so look through every frame for bars. */
async function timelineFrame(page, bars, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let counts = [];
  while (Date.now() < deadline) {
    counts = [];
    for (const frame of page.frames()) {
      const count = await frame.evaluate(() => document.querySelectorAll('.bar').length).catch(() => -1);
      counts.push(count);
      if (count >= bars) return frame;
    }
    await delay(200);
  }
  throw new Error(`no frame shows ${bars} timeline bars after ${timeoutMs} ms (bars per frame: ${JSON.stringify(counts)}); notifications: ${JSON.stringify(await notifications(page))}`);
}

/** The timeline's bars as { id, classes, label }. */
async function timelineBars(frame) {
  return frame.locator('.bar').evaluateAll((els) => els.map((el) => ({ id: el.dataset.id, classes: el.className, label: el.getAttribute('aria-label') ?? '' })));
}

/** Waits until the Processes view's row labelled `label` is the selected one. */
async function expectRowSelected(page, label, timeoutMs = 10_000) {
  const selected = () => processesPane(page).locator('.monaco-list-row').evaluateAll((rows) => rows
    .filter((row) => row.classList.contains('selected') || row.getAttribute('aria-selected') === 'true')
    .map((row) => row.querySelector('.label-name')?.textContent?.trim() ?? ''));
  let shown = [];
  try {
    await waitUntil(async () => (shown = await selected()).length === 1 && shown[0] === label, timeoutMs, '');
  } catch {
    throw new Error(`the Processes view's selection is ${JSON.stringify(shown)}, not the row "${label}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// The runner

/** Starts code-server + Chromium with the extension loaded, runs `test.run`, always cleans up. */
async function runOne(test, browser) {
  const name = slug(test.name);
  let serverText = '';
  let windowText = '';
  const folder = test.workspace ? test.workspace() : workspace;
  const t = { server: undefined, page: undefined, folder, pidsToKill: [], log: (line) => console.log(`    ${line}`) };
  const timeoutMs = Number(opts.timeout);
  let context;
  try {
    t.server = await startCodeServer({ root, folder, disableWorkspaceTrust: test.trusted !== false, userSettings: test.userSettings, onOutput: (text) => { serverText += text; } });
    t.page = await newWorkbenchPage(browser, {
      onLog: (type, text) => { windowText += `[${type}] ${text}\n`; },
      onConsole: (text) => { windowText += `${text}\n`; },
    });
    context = t.page.context();
    await t.page.goto(t.server.workbenchUrl([
      ['extensionDevelopmentPath', t.server.remoteUri(extensionPath)],
      ['skipWelcome', 'true'],
    ]));
    await waitForWorkbench(t.page);
    let timer;
    await Promise.race([
      test.run(t),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs); }),
    ]).finally(() => clearTimeout(timer));
    return undefined;
  } catch (error) {
    if (t.page) {
      const shot = join(artifacts, `ui-${name}-failure.png`);
      await t.page.screenshot({ path: shot }).then(() => t.log(`screenshot: ${shot}`), () => {});
    }
    writeFileSync(join(artifacts, `ui-${name}-code-server.log`), serverText);
    writeFileSync(join(artifacts, `ui-${name}-window.log`), windowText);
    return error;
  } finally {
    await context?.close().catch(() => {});
    // Test processes left alive (the tests' own failure cases): pids this test collected, still sleep/bash.
    for (const pid of t.pidsToKill) {
      const p = readProcess(pid);
      if (p && p.state !== 'Z' && (p.comm === 'sleep' || p.comm === 'bash')) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
      }
    }
    await t.server?.stop();
    if (folder !== workspace) rmSync(folder, { recursive: true, force: true });
  }
}

async function main() {
  const selected = tests.filter((test) => !opts.grep || test.name.includes(opts.grep));
  // Screenshots and logs of an earlier run of these tests would be mistaken for this run's.
  const prefixes = selected.map((test) => `ui-${slug(test.name)}`);
  for (const file of readdirSync(artifacts)) {
    if (prefixes.some((prefix) => file.startsWith(prefix))) rmSync(join(artifacts, file), { force: true });
  }
  const results = [];
  const main = manifest()?.main;
  const missing = !main ? `no extension manifest with "main" at ${join(extensionPath, 'package.json')}`
    : !existsSync(join(extensionPath, main)) ? `the extension is not built: ${join(extensionPath, main)} is missing (run \`node scripts/build.mjs\`)`
      : undefined;

  let browser;
  let setupError;
  if (!missing) {
    try {
      await setupCodeServer();
      browser = await launchBrowser();
    } catch (error) {
      setupError = error;
    }
  }
  for (const test of selected) {
    const started = Date.now();
    console.log(`• ${test.name}`);
    const error = missing ? new Error(missing) : setupError ?? await runOne(test, browser);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (error) {
      console.log(`  ✗ failed (${seconds} s)\n${String(error instanceof Error ? error.message : error).replace(/^/gm, '      ')}`);
    } else {
      console.log(`  ✓ passed (${seconds} s)`);
    }
    results.push({ name: test.name, error });
  }
  await browser?.close().catch(() => {});

  console.log('\nui results:');
  for (const r of results) console.log(`  ${r.error ? '✗' : '✓'} ${r.name}`);
  const failed = results.filter((r) => r.error).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  return failed === 0 && results.length > 0;
}

let ok = false;
try {
  ok = await main();
} catch (error) {
  console.log(`ui tests crashed: ${error instanceof Error ? error.stack : error}`);
  console.log('0 passed, 1 failed');
}
process.exit(ok ? 0 : 1);
