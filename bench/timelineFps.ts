// Measures the timeline page (the very page and assets of the webview) drawing 500 processes in headless Chromium:
// frames a second while live bars grow and updates arrive ten times a second, against the same page with no process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TimelineBar, TimelineUpdate } from '../src/core/timeline';
import { timelinePage } from '../src/timeline/timelinePage';
import { log, main, median, ROOT, round, type BenchResult } from './common';

const BARS = 500;
const ROOTS = 10;
const SECONDS = 3;
const ROUNDS = 3;
const ORIGIN = 'https://timeline.bench';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const load = (path: string): Promise<any> => import(pathToFileURL(join(ROOT, path)).href);
// What the functions evaluated in the page use there (this project compiles without the DOM's types).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any, document: any, requestAnimationFrame: (f: (t: number) => void) => number;

/** 10 roots of 49 children: alive, ended in each way, with waits and readiness, as a busy session has them. */
function session(now: number): TimelineBar[] {
  const bars: TimelineBar[] = [];
  const perRoot = BARS / ROOTS - 1;
  for (let r = 0; r < ROOTS; r++) {
    const rootId = `r${r}`;
    const start = now - 60_000 + r * 1000;
    bars.push({ id: rootId, name: `server-${r}`, parentId: null, depth: 0, from: start, to: null, outcome: 'alive', state: 'alive', daemon: false, removed: false, runs: [], waits: [], readyAt: start + 500, deadlocked: false });
    for (let c = 0; c < perRoot; c++) {
      const from = start + 100 + c * 900;
      const ended = c % 3 === 0;
      const outcome = ended ? (['ok', 'error', 'signal'] as const)[c % 9 === 0 ? 0 : c % 2] : 'alive';
      bars.push({
        id: `${rootId}c${c}`, name: `server-${r}:${c + 1}`, parentId: rootId, depth: 1, from, to: ended ? from + 400 : null, outcome,
        state: ended ? 'exitcode 1' : 'alive', daemon: c % 5 === 0, removed: false, runs: c % 7 === 0 ? [{ from: from - 300, to: from - 50, outcome: 'error', state: 'exitcode 1' }] : [],
        waits: c % 4 === 0 ? [{ from: from + 50, to: ended ? from + 200 : null, label: 'Lock (bank.py:12) held by worker-1' }] : [], readyAt: null, deadlocked: false,
      });
    }
  }
  return bars;
}

interface Round {
  fps: number;
  worstFrameMs: number;
}

main(async (): Promise<BenchResult> => {
  const { launchBrowser } = await load('test/integration/browser.mjs');
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const html = timelinePage({ cspSource: ORIGIN, script: `${ORIGIN}/timeline.js`, style: `${ORIGIN}/timeline.css` });
    await context.route(`${ORIGIN}/**`, (route: { request(): { url(): string }; fulfill(o: object): Promise<void> }) => {
      const file = new URL(route.request().url()).pathname.slice(1);
      if (file === 'index.html') return route.fulfill({ contentType: 'text/html', body: html });
      return route.fulfill({ contentType: file.endsWith('.css') ? 'text/css' : 'text/javascript', body: readFileSync(join(ROOT, 'media/timeline', file)) });
    });
    // What VS Code gives a webview; messages to the extension go nowhere here.
    await context.addInitScript(() => {
      (globalThis as unknown as { acquireVsCodeApi: () => object }).acquireVsCodeApi = () => ({ postMessage() {}, getState() {}, setState() {} });
    });

    /** Frames a second over SECONDS, while (with bars) an update ending or starting 20 processes arrives every 100 ms. */
    const measure = async (withBars: boolean): Promise<Round> => {
      const page = await context.newPage();
      await page.goto(`${ORIGIN}/index.html`);
      if (withBars) {
        const update: TimelineUpdate = { type: 'update', now: Date.now(), reset: true, bars: session(Date.now()), removed: [] };
        update.order = update.bars.map((b) => b.id);
        await page.evaluate((u: TimelineUpdate) => window.postMessage(u, '*'), update);
        await page.waitForFunction((n: number) => document.querySelectorAll('#rows .row').length === n, BARS, { timeout: 30_000 });
      }
      const result = await page.evaluate(async ({ seconds, withBars, bars }: { seconds: number; withBars: boolean; bars: TimelineBar[] }) => {
        let turn = 0;
        const churn = withBars ? setInterval(() => {
          turn++;
          const now = Date.now();
          const changed = bars.slice((turn * 20) % bars.length, (turn * 20) % bars.length + 20).map((b) => (
            b.to === null ? { ...b, to: now, outcome: 'ok' as const, state: 'exitcode 0' } : { ...b, runs: [...b.runs, { from: b.from, to: b.to, outcome: b.outcome, state: b.state }], from: now, to: null, outcome: 'alive' as const, state: 'alive' }
          ));
          for (const b of changed) bars[bars.findIndex((x) => x.id === b.id)] = b;
          window.postMessage({ type: 'update', now, reset: false, bars: changed, removed: [] }, '*');
        }, 100) : undefined;
        const gaps: number[] = [];
        let frames = 0;
        await new Promise<void>((resolve) => {
          let last = performance.now();
          const start = last;
          const frame = (t: number) => {
            frames++;
            gaps.push(t - last);
            last = t;
            if (t - start < seconds * 1000) requestAnimationFrame(frame);
            else resolve();
          };
          requestAnimationFrame(frame);
        });
        clearInterval(churn);
        return { fps: frames / seconds, worstFrameMs: Math.max(...gaps.slice(1)) };
      }, { seconds: SECONDS, withBars, bars: withBars ? session(Date.now()) : [] });
      await page.close();
      return result;
    };

    const ours: Round[] = [];
    const empty: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      empty.push(await measure(false));
      ours.push(await measure(true));
      log(`round ${i + 1}: ${round(ours[i].fps, 1)} frames/s with ${BARS} bars (worst frame ${round(ours[i].worstFrameMs, 1)} ms); empty page ${round(empty[i].fps, 1)} frames/s`);
    }
    const fps = median(ours.map((r) => r.fps));
    const emptyFps = median(empty.map((r) => r.fps));
    return {
      name: 'timeline',
      rows: [{
        benchmark: 'timeline',
        what: `the timeline page (its own markup and assets) in headless Chromium, ${BARS} processes, live bars growing and an update of 20 processes every 100 ms: frames/s over ${SECONDS} s, median of ${ROUNDS}; worst frame`,
        procscope: `${round(fps, 1)} frames/s; worst frame ${round(Math.max(...ours.map((r) => r.worstFrameMs)), 1)} ms`,
        baseline: `${round(emptyFps, 1)} frames/s`,
        baselineName: 'the same page with no process',
        ratio: round(fps / emptyFps, 2),
        bar: '≥ 30 frames/s',
        met: fps >= 30,
      }],
      details: { ours, empty },
      notes: [],
    };
  } finally {
    await browser.close();
  }
});
