// The ProcScope timeline page: keeps one DOM row per process (keyed by id), applies the extension's updates in one
// animation frame, and lets time pass by writing two CSS variables (--now, --k) instead of touching every bar.
/* global acquireVsCodeApi, document, window, requestAnimationFrame, ResizeObserver, HTMLElement, Element */
(function () {
  'use strict';

  const vscode = acquireVsCodeApi();
  /** How often live bars grow while something runs (ms); updates from the extension render at once. */
  const TICK_MS = 100;
  /** Space kept right of "now", so a live bar's end is not cut by the edge. */
  const RIGHT_PAD = 12;
  /** The shortest span the axis shows, so a session of one quick process is not a full-width hairline. */
  const MIN_SPAN_MS = 1000;
  /** Axis steps, ms: the first one whose ticks are at least MIN_TICK_PX apart is used. */
  const STEPS = [10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5];
  const MIN_TICK_PX = 72;
  /** Zoom goes up to this many px per ms, and never makes the chart wider than MAX_WIDTH_PX. */
  const MAX_K = 2;
  const MAX_WIDTH_PX = 4e6;

  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const scroller = $('scroller');
  const content = $('content');
  const rowsEl = $('rows');
  const ticksEl = $('ticks');
  const grid = $('grid');
  const nowLine = $('now');
  const corner = $('corner');
  const empty = $('empty');
  const summary = $('summary');
  const zoomIn = /** @type {HTMLButtonElement} */ ($('zoom-in'));
  const zoomOut = /** @type {HTMLButtonElement} */ ($('zoom-out'));
  const zoomFit = /** @type {HTMLButtonElement} */ ($('zoom-fit'));

  /** @type {Map<string, {data: any, row: HTMLElement, label: HTMLElement, state: HTMLElement, lane: HTMLElement, bar: HTMLElement, extras: HTMLElement[]}>} */
  const entries = new Map();
  /** @type {string[]} */
  let order = [];
  /** Updates received and not yet drawn. */
  let pending = [];
  /** The extension host's clock minus ours. */
  let clockOffset = 0;
  /** ms: the session's first start; bars are placed relative to it. */
  let origin = Infinity;
  let lastEnd = -Infinity;
  const aliveIds = new Set();
  let zoom = Number((vscode.getState() || {}).zoom) || 1;
  let nameWidth = 0;
  let k = 0;
  let step = 0;
  /** When set, the next render scrolls so that this time (ms since origin) is at the lanes' centre. */
  let anchorTime;
  /** The lanes were scrolled to their right end: keep following "now". */
  let following = true;
  let frameRequested = false;
  let tickTimer;
  /** The bar that Tab lands on (the last one focused). */
  let tabStop;
  /** Axis labels and grid lines by time (ms since origin): only those in view exist. */
  /** @type {Map<number, {label: HTMLElement, line: HTMLElement}>} */
  const ticks = new Map();
  let shownSummary = '';

  // ---- messages ----

  window.addEventListener('message', (event) => {
    const message = event.data;
    if (!message || message.type !== 'update') return;
    clockOffset = Number(message.now) - Date.now() || 0;
    pending.push(message);
    schedule();
  });

  function reveal(id) {
    vscode.postMessage({ type: 'reveal', id });
  }

  // ---- building rows ----

  function createEntry(id) {
    const row = document.createElement('div');
    row.className = 'row';
    row.setAttribute('role', 'listitem');
    row.dataset.id = id;
    const name = document.createElement('div');
    name.className = 'name';
    const label = document.createElement('span');
    label.className = 'label';
    const state = document.createElement('span');
    state.className = 'state';
    name.append(label, state);
    const lane = document.createElement('div');
    lane.className = 'lane';
    const bar = document.createElement('div');
    bar.dataset.id = id;
    bar.setAttribute('role', 'button');
    bar.tabIndex = -1;
    lane.append(bar);
    row.append(name, lane);
    const entry = { data: undefined, row, label, state, lane, bar, extras: [] };
    entries.set(id, entry);
    return entry;
  }

  function setSpan(element, from, to) {
    element.style.setProperty('--a', String(from - origin));
    element.style.setProperty('--b', to === null ? 'var(--now)' : String(to - origin));
  }

  function span(className, from, to, title) {
    const element = document.createElement('div');
    element.className = className;
    element.dataset.from = String(from);
    element.dataset.to = to === null ? '' : String(to);
    setSpan(element, from, to);
    if (title) element.title = title;
    return element;
  }

  function mark(className, at) {
    const element = document.createElement('div');
    element.className = className;
    element.dataset.from = String(at);
    element.style.setProperty('--a', String(at - origin));
    return element;
  }

  /** Draws a bar's data into its row: classes, position, the marks of runs, waits, readiness and restarts. */
  function fill(entry, data) {
    entry.data = data;
    const { row, bar, lane } = entry;
    row.classList.toggle('removed-row', data.removed);
    row.style.setProperty('--depth', String(data.depth));
    entry.label.textContent = data.name;
    entry.state.textContent = data.state;
    bar.className = `bar ${data.outcome}${data.removed ? ' removed' : ''}${data.daemon ? ' daemon' : ''}${data.deadlocked ? ' deadlocked' : ''}`;
    bar.tabIndex = data.id === tabStop ? 0 : -1;
    setSpan(bar, data.from, data.to);
    bar.setAttribute('aria-label', describe(data));
    for (const element of entry.extras) element.remove();
    entry.extras = [];
    const removed = data.removed ? ' removed' : '';
    data.runs.forEach((run, i) => {
      const element = span(`run${removed}`, run.from, run.to, `run ${i + 1}: ${run.state}`);
      element.dataset.outcome = run.outcome;
      entry.extras.push(element);
      if (i > 0) entry.extras.push(mark('restart', run.from));
    });
    if (data.runs.length > 0) entry.extras.push(mark('restart', data.from));
    for (const wait of data.waits) entry.extras.push(span(`wait${removed}`, wait.from, wait.to));
    if (data.readyAt !== null) entry.extras.push(mark('ready', data.readyAt));
    // Runs go under the bar; waits and marks over it.
    for (const element of entry.extras) {
      if (element.classList.contains('run')) lane.insertBefore(element, bar);
      else lane.append(element);
    }
    if (data.outcome === 'alive' || data.waits.some((w) => w.to === null)) aliveIds.add(data.id);
    else aliveIds.delete(data.id);
  }

  /** Moves every element of every row by a new origin (rare: only an earlier process than any seen so far). */
  function reposition() {
    for (const entry of entries.values()) {
      setSpan(entry.bar, entry.data.from, entry.data.to);
      for (const element of entry.extras) {
        const from = Number(element.dataset.from);
        if (element.dataset.to === undefined) element.style.setProperty('--a', String(from - origin));
        else setSpan(element, from, element.dataset.to === '' ? null : Number(element.dataset.to));
      }
    }
  }

  function apply(update) {
    if (update.reset) {
      for (const entry of entries.values()) entry.row.remove();
      entries.clear();
      aliveIds.clear();
      order = [];
      origin = Infinity;
      lastEnd = -Infinity;
    }
    let earliest = origin;
    for (const data of update.bars) {
      earliest = Math.min(earliest, data.runs.length ? data.runs[0].from : data.from, data.from);
    }
    if (earliest < origin) {
      origin = earliest;
      reposition();
    }
    for (const data of update.bars) {
      const entry = entries.get(data.id) || createEntry(data.id);
      fill(entry, data);
      if (data.to !== null) lastEnd = Math.max(lastEnd, data.to);
    }
    for (const id of update.removed) {
      const entry = entries.get(id);
      if (!entry) continue;
      entry.row.remove();
      entries.delete(id);
      aliveIds.delete(id);
    }
    if (update.order) order = update.order.filter((id) => entries.has(id));
    else if (update.removed.length) order = order.filter((id) => entries.has(id));
  }

  /** Puts the rows in `order`, moving only those out of place (a moved row would lose focus). */
  function arrange() {
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.id : undefined;
    let cursor = rowsEl.firstElementChild;
    for (const id of order) {
      const row = entries.get(id).row;
      if (cursor === row) {
        cursor = cursor.nextElementSibling;
        continue;
      }
      rowsEl.insertBefore(row, cursor);
    }
    while (cursor) {
      const next = cursor.nextElementSibling;
      cursor.remove();
      cursor = next;
    }
    if (tabStop === undefined || !entries.has(tabStop)) setTabStop(order[0]);
    if (focused !== undefined && document.activeElement === document.body && entries.has(focused)) {
      entries.get(focused).bar.focus({ preventScroll: true });
    }
  }

  function setTabStop(id) {
    if (tabStop !== undefined && entries.has(tabStop)) entries.get(tabStop).bar.tabIndex = -1;
    tabStop = id;
    if (id !== undefined && entries.has(id)) entries.get(id).bar.tabIndex = 0;
  }

  // ---- words ----

  function clock(ms) {
    const date = new Date(ms);
    const pad = (n, w = 2) => String(n).padStart(w, '0');
    return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3).slice(0, 1)}`;
  }

  /** 0.4 s under 10 s; 12 s; 2 min 5 s; 1 h 4 min (as the tree's tooltips say it). */
  function duration(ms) {
    if (ms < 10_000) return `${(Math.floor(Math.max(0, ms) / 100) / 10).toFixed(1)} s`;
    const s = Math.floor(ms / 1000);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${s % 60} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  /** An axis label: 0s, 500ms, 1.5s, 45s, 2m, 2m 30s, 1h, 1h 15m. */
  function offset(ms) {
    if (ms === 0) return '0';
    if (ms < 1000) return `${ms}ms`;
    if (ms < 60_000) return `${Number((ms / 1000).toFixed(2))}s`;
    const s = Math.round(ms / 1000);
    const m = Math.floor(s / 60);
    if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
    return m % 60 ? `${Math.floor(m / 60)}h ${m % 60}m` : `${Math.floor(m / 60)}h`;
  }

  /** What a screen reader says of a bar (and the start of its tooltip). */
  function describe(data) {
    const parts = [data.name, data.state];
    if (data.daemon) parts.push('daemon');
    parts.push(`started ${clock(data.from)}`);
    if (data.to !== null) parts.push(`ended ${clock(data.to)} after ${duration(data.to - data.from)}`);
    if (data.runs.length) parts.push(`restarted ${data.runs.length} time${data.runs.length === 1 ? '' : 's'}`);
    if (data.readyAt !== null) parts.push(`ready at ${clock(data.readyAt)}`);
    const waiting = data.waits.find((w) => w.to === null);
    if (waiting) parts.push(`${data.deadlocked ? 'deadlocked, ' : ''}waiting on ${waiting.label}`);
    else if (data.waits.length) parts.push(`waited ${data.waits.length} time${data.waits.length === 1 ? '' : 's'} on synchronisation objects`);
    if (data.removed) parts.push('row cleared from the Processes view');
    return parts.join(', ');
  }

  /** The tooltip, built when the pointer comes: live bars say how long they have run so far. */
  function tooltip(data) {
    const now = Date.now() + clockOffset;
    const lines = [`${data.name} — ${data.state}${data.daemon ? ' · daemon' : ''}`];
    lines.push(data.to === null ? `started ${clock(data.from)}, running for ${duration(now - data.from)}`
      : `${clock(data.from)} → ${clock(data.to)} (${duration(data.to - data.from)})`);
    data.runs.forEach((run, i) => lines.push(`run ${i + 1}: ${clock(run.from)} → ${clock(run.to)}, ${run.state}`));
    if (data.readyAt !== null) lines.push(`ready at ${clock(data.readyAt)} (${duration(data.readyAt - data.from)} after start)`);
    for (const wait of data.waits.slice(-5)) {
      lines.push(wait.to === null ? `waiting on ${wait.label} for ${duration(now - wait.from)}` : `waited on ${wait.label} for ${duration(wait.to - wait.from)}`);
    }
    lines.push(data.removed ? 'Its row was cleared from the Processes view.' : 'Click or press Enter to show its row.');
    return lines.join('\n');
  }

  // ---- drawing ----

  function schedule() {
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(render);
  }

  function render() {
    frameRequested = false;
    clearTimeout(tickTimer);
    tickTimer = undefined;
    if (pending.length) {
      const updates = pending;
      pending = [];
      for (const update of updates) apply(update);
      arrange();
    }
    const now = Date.now() + clockOffset;
    const live = aliveIds.size > 0;
    const hasBars = order.length > 0;
    empty.hidden = hasBars;
    content.hidden = !hasBars;
    grid.hidden = !hasBars;
    updateSummary();
    if (!hasBars) return;

    // Every read of the layout first (one layout at most), then the writes.
    if (!nameWidth) nameWidth = corner.offsetWidth;
    const clientWidth = scroller.clientWidth;
    const scrolled = scroller.scrollLeft;
    const end = live ? Math.max(now, lastEnd) : Math.max(lastEnd, origin);
    const spanMs = Math.max(end - origin, MIN_SPAN_MS);
    const available = Math.max(40, clientWidth - nameWidth - RIGHT_PAD);
    const maxZoom = Math.max(1, Math.min((MAX_K * spanMs) / available, MAX_WIDTH_PX / available));
    zoom = Math.min(Math.max(1, zoom), maxZoom);
    zoomIn.disabled = zoom >= maxZoom;
    zoomOut.disabled = zoomFit.disabled = zoom <= 1;
    const laneWidth = available * zoom;
    const width = Math.ceil(nameWidth + laneWidth + RIGHT_PAD);
    k = laneWidth / spanMs;
    const style = content.style;
    style.setProperty('--k', String(k));
    style.setProperty('--now', String(now - origin));
    style.width = `${width}px`;
    step = STEPS.find((s) => s * k >= MIN_TICK_PX) || STEPS[STEPS.length - 1];

    const view = clientWidth - nameWidth;
    let target;
    if (anchorTime !== undefined) target = Math.max(0, Math.min(width - clientWidth, anchorTime * k - view / 2));
    else if (following) target = Math.max(0, width - clientWidth);
    anchorTime = undefined;
    let left = scrolled;
    if (target !== undefined && Math.abs(target - scrolled) >= 1) {
      scroller.scrollLeft = target;
      left = scroller.scrollLeft;
    }
    drawTicks(left, view);
    nowLine.hidden = !live;
    if (live) nowLine.style.transform = `translateX(${((now - origin) * k - left).toFixed(1)}px)`;
    if (live && document.visibilityState === 'visible') tickTimer = setTimeout(schedule, TICK_MS);
  }

  /** Axis labels and grid lines for the part of the lanes in view only (a zoomed chart can be millions of px wide). */
  function drawTicks(left, view) {
    const first = Math.max(0, Math.floor(left / k / step) * step);
    // No label that the right edge would cut (the grid line is still drawn).
    const last = (left + view) / k;
    const lastLabel = (left + view - 36) / k;
    const wanted = new Set();
    for (let t = first; t <= last; t += step) wanted.add(t);
    for (const [t, tick] of ticks) {
      if (!wanted.has(t)) {
        tick.label.remove();
        tick.line.remove();
        ticks.delete(t);
      }
    }
    for (const t of wanted) {
      let tick = ticks.get(t);
      if (!tick) {
        const label = document.createElement('div');
        label.className = 'tick';
        label.style.setProperty('--a', String(t));
        label.textContent = offset(t);
        const line = document.createElement('div');
        line.className = 'gridline';
        ticksEl.append(label);
        grid.append(line);
        tick = { label, line };
        ticks.set(t, tick);
      }
      tick.label.hidden = t > lastLabel;
      tick.line.style.transform = `translateX(${(t * k - left).toFixed(1)}px)`;
    }
  }

  function updateSummary() {
    let cleared = 0;
    for (const entry of entries.values()) if (entry.data.removed) cleared++;
    const total = order.length;
    const text = total === 0 ? 'No processes yet'
      : `${total} process${total === 1 ? '' : 'es'} · ${aliveIds.size} alive${cleared ? ` · ${cleared} cleared` : ''}`;
    const since = Number.isFinite(origin) && total > 0 ? `since ${clock(origin).slice(0, 8)}` : '';
    const key = `${text}|${since}`;
    if (key === shownSummary) return;
    shownSummary = key;
    summary.textContent = text;
    if (since) {
      const small = document.createElement('span');
      small.className = 'since';
      small.textContent = ` · ${since}`;
      summary.append(small);
    }
  }

  // ---- zoom and scrolling ----

  function setZoom(next, atTime) {
    const view = scroller.clientWidth - nameWidth;
    const center = atTime !== undefined ? atTime : (scroller.scrollLeft + view / 2) / (k || 1);
    const wasFollowing = following && atTime === undefined;
    zoom = Math.max(1, next);
    following = wasFollowing || zoom === 1;
    anchorTime = following ? undefined : center;
    vscode.setState({ zoom });
    schedule();
  }

  zoomIn.addEventListener('click', () => setZoom(zoom * 2));
  zoomOut.addEventListener('click', () => setZoom(zoom / 2));
  zoomFit.addEventListener('click', () => setZoom(1));

  scroller.addEventListener('scroll', () => {
    following = scroller.scrollLeft + scroller.clientWidth >= scroller.scrollWidth - 2;
    schedule();
  }, { passive: true });

  scroller.addEventListener('wheel', (event) => {
    if (!event.ctrlKey || !k) return;
    event.preventDefault();
    const rect = scroller.getBoundingClientRect();
    const at = (scroller.scrollLeft + event.clientX - rect.left - nameWidth) / k;
    setZoom(event.deltaY < 0 ? zoom * 1.25 : zoom / 1.25, Math.max(0, at));
  }, { passive: false });

  new ResizeObserver(() => {
    nameWidth = corner.offsetWidth;
    schedule();
  }).observe(scroller);

  // ---- pointer and keyboard ----

  function idOf(target) {
    const row = target instanceof Element ? target.closest('.row') : null;
    return row ? row.dataset.id : undefined;
  }

  function focusBar(id) {
    const entry = entries.get(id);
    if (!entry) return;
    setTabStop(id);
    entry.bar.focus({ preventScroll: true });
    const top = entry.row.offsetTop;
    const axis = content.firstElementChild ? content.firstElementChild.offsetHeight : 0;
    if (top < scroller.scrollTop) scroller.scrollTop = top;
    else if (top + entry.row.offsetHeight > scroller.scrollTop + scroller.clientHeight - axis) {
      scroller.scrollTop = top + entry.row.offsetHeight - scroller.clientHeight + axis;
    }
  }

  rowsEl.addEventListener('click', (event) => {
    const id = idOf(event.target);
    if (id === undefined) return;
    focusBar(id);
    reveal(id);
  });

  rowsEl.addEventListener('focusin', (event) => {
    const id = idOf(event.target);
    if (id !== undefined && id !== tabStop) setTabStop(id);
  });

  rowsEl.addEventListener('pointerover', (event) => {
    const id = idOf(event.target);
    const entry = id === undefined ? undefined : entries.get(id);
    if (entry) entry.row.title = tooltip(entry.data);
  });

  rowsEl.addEventListener('keydown', (event) => {
    const id = idOf(event.target);
    if (id === undefined || event.altKey || event.ctrlKey || event.metaKey) return;
    const at = order.indexOf(id);
    let next;
    switch (event.key) {
      case 'ArrowDown':
      case 'ArrowRight':
        next = order[Math.min(order.length - 1, at + 1)];
        break;
      case 'ArrowUp':
      case 'ArrowLeft':
        next = order[Math.max(0, at - 1)];
        break;
      case 'PageDown':
        next = order[Math.min(order.length - 1, at + 10)];
        break;
      case 'PageUp':
        next = order[Math.max(0, at - 10)];
        break;
      case 'Home':
        next = order[0];
        break;
      case 'End':
        next = order[order.length - 1];
        break;
      case 'Enter':
      case ' ':
        event.preventDefault();
        reveal(id);
        return;
      default:
        return;
    }
    event.preventDefault();
    focusBar(next);
  });

  document.addEventListener('keydown', (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === '+' || event.key === '=') setZoom(zoom * 2);
    else if (event.key === '-' || event.key === '_') setZoom(zoom / 2);
    else if (event.key === '0') setZoom(1);
  });

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') schedule();
  });

  vscode.postMessage({ type: 'ready' });
  schedule();
})();
