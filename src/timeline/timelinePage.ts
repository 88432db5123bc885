// The timeline's page: static markup and its two assets (media/timeline/), under a policy that allows nothing else.
// Free of the vscode module, so that the benchmark draws the very same page in a browser.
import { randomBytes } from 'node:crypto';

/** The page: static markup, the two assets, and a policy that allows nothing else (no network, no inline code). */
export function timelinePage(assets: { cspSource: string; script: string; style: string }): string {
  const nonce = randomBytes(16).toString('base64');
  const { script, style } = assets;
  const csp = `default-src 'none'; style-src ${assets.cspSource}; script-src 'nonce-${nonce}';`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>Process Timeline</title>
</head>
<body>
<header class="toolbar">
  <div class="summary" id="summary">No processes yet</div>
  <ul class="legend" aria-label="Legend">
    <li><span class="swatch swatch-alive"></span>alive</li>
    <li><span class="swatch swatch-ok"></span>exit 0</li>
    <li><span class="swatch swatch-error"></span>error</li>
    <li><span class="swatch swatch-signal"></span>signal</li>
    <li><span class="swatch swatch-ended"></span>ended</li>
    <li><span class="swatch swatch-ready"></span>ready</li>
    <li><span class="swatch swatch-restart"></span>restart</li>
    <li><span class="swatch swatch-waiting"></span>waiting</li>
  </ul>
  <div class="zoom" role="group" aria-label="Zoom">
    <button id="zoom-out" title="Zoom out (-)" aria-label="Zoom out">&minus;</button>
    <button id="zoom-fit" title="Fit the session to the width (0)" aria-label="Fit to width">Fit</button>
    <button id="zoom-in" title="Zoom in (+)" aria-label="Zoom in">+</button>
  </div>
</header>
<main class="chart">
  <div class="grid" id="grid" aria-hidden="true" hidden><div class="now" id="now" hidden></div></div>
  <div class="scroller" id="scroller">
    <div class="content" id="content" hidden>
      <div class="axis" aria-hidden="true"><div class="corner" id="corner">Process</div><div class="ticks" id="ticks"></div></div>
      <div class="rows" id="rows" role="list" aria-label="Processes, from start to exit"></div>
    </div>
    <div class="empty" id="empty">No processes yet. Start one (ProcScope: Start Process…) and it appears here, from its start to its exit.</div>
  </div>
</main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}
