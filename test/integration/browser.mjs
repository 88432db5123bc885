// Headless Debian Chromium (through playwright-core) pointed at a code-server workbench,
// plus the few person-style moves the UI tests share: wait for the workbench, run a palette command.
/* global document */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/** Where screenshots and logs of a run are kept (gitignored). */
export function artifactsDir(root) {
  const dir = join(root, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function launchBrowser() {
  const executablePath = process.env.PROCSCOPE_CHROMIUM ?? '/usr/bin/chromium';
  try {
    return await chromium.launch({ executablePath, headless: true, args: CHROMIUM_FLAGS });
  } catch (error) {
    throw new Error(`could not launch Chromium at ${executablePath} (apt-get install -y chromium, or set PROCSCOPE_CHROMIUM): ${error instanceof Error ? error.message : error}`);
  }
}

/** Turns the `args` of a codeAutomationLog call (or a console message) into one readable string. */
export function formatLogArgs(args) {
  return (Array.isArray(args) ? args : [args])
    .map((a) => (typeof a === 'string' ? a : (() => { try { return JSON.stringify(a); } catch { return String(a); } })()))
    .join(' ');
}

/**
 * A page with VS Code's automation hooks installed before any workbench script runs.
 * @param {import('playwright-core').Browser} browser
 * @param {{ onLog?: (type: string, text: string) => void, onExit?: (code: number, logs: { relativePath: string, contents: string }[]) => void, onConsole?: (text: string) => void }} hooks
 */
export async function newWorkbenchPage(browser, hooks = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  // The workbench forwards the extension host's console here when it exists ...
  await page.exposeFunction('codeAutomationLog', (type, args) => hooks.onLog?.(String(type), formatLogArgs(args)));
  // ... and calls this with run()'s outcome (0 resolved, 1 rejected) and the window's log files
  // ([{ relativePath, contents }]) when extensionTestsPath is set.
  await page.exposeFunction('codeAutomationExit', (code, logs) => hooks.onExit?.(Number(code), Array.isArray(logs) ? logs : []));
  page.on('console', (msg) => hooks.onConsole?.(`[${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (error) => hooks.onConsole?.(`[pageerror] ${error.message}`));
  return page;
}

/** Waits until the workbench has rendered and connected to its server (the remote extension host is up). */
export async function waitForWorkbench(page, timeoutMs = 60_000) {
  await page.locator('.monaco-workbench .part.activitybar').first().waitFor({ state: 'visible', timeout: timeoutMs });
  await page.locator('.monaco-workbench .part.statusbar').first().waitFor({ state: 'visible', timeout: timeoutMs });
}

/**
 * Opens the command palette with F1, types `label`, and runs the entry whose label is exactly that.
 * The palette lists the commands known when it opens, and a development extension's contributions
 * arrive a little after the workbench shows: so it reopens the palette until the entry appears.
 */
export async function runPaletteCommand(page, label, { timeoutMs = 20_000 } = {}) {
  const input = page.locator('.quick-input-widget input.input');
  const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  // Exact, except that a trailing ellipsis ("Start Process…") is allowed.
  const exact = new RegExp(`^\\s*${escapeRegExp(label.replace(/(…|\.\.\.)$/, ''))}(…|\\.\\.\\.)?\\s*$`);
  const row = rows.filter({ has: page.locator('.label-name', { hasText: exact }) }).first();
  const deadline = Date.now() + timeoutMs;
  let shown = [];
  while (Date.now() < deadline) {
    if (!(await input.isVisible())) {
      await page.keyboard.press('F1');
      await input.waitFor({ state: 'visible', timeout: 2000 }).catch(() => {});
      if (!(await input.isVisible())) continue;
    }
    await input.fill(`>${label}`);
    try {
      await row.waitFor({ state: 'visible', timeout: 2000 });
      await row.click();
      return;
    } catch {
      shown = await rows.locator('.label-name').allInnerTexts().catch(() => []);
      await page.keyboard.press('Escape');
      await input.waitFor({ state: 'hidden', timeout: 2000 }).catch(() => {});
    }
  }
  throw new Error(`command palette has no entry "${label}" after ${timeoutMs} ms; it shows: ${JSON.stringify(shown.slice(0, 10))}`);
}

export function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Text of the workbench's visible notifications, for failure messages. */
export async function notifications(page) {
  return page.evaluate(() => [...document.querySelectorAll('.notification-toast .notification-list-item-message')].map((e) => e.textContent ?? ''));
}
