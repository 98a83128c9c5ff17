// heaptale playground: the real allocator compiled to WebAssembly, driven by
// C-like statements, scripts and real traces, drawn from its real memory, with
// a timeline to step back and forth through every call. Plain ES modules, no
// bundler; the wasm-pack output is served at /pkg/ next to /www/.
//
// One heap per WebAssembly instance (memory.grow belongs to one linear
// memory): changing the policy or a knob makes a new heap in the same instance
// and replays the program; comparing policies uses one instance per heap.

import { instance, HeapModel, blockAt, blockIndexAt, blockState, listRank, quickBlockSize, topBlock, TOP_LIST, QUICK_LIST } from './js/engine.js';
import { narrate, hex, bytes, kib, POLICY_NAMES } from './js/narrate.js';
import { HeapMap, drawBuddy } from './js/heapmap.js';
import { renderHex } from './js/hexview.js';
import { drawChart, rows as chartRows, describeChart } from './js/chart.js';
import { Slider } from './js/slider.js';
import { encodeState, decodeState, POLICIES } from './js/url.js';
import { DEFAULT_SCRIPT, SCENARIOS, TRACES, traceUrl } from './js/scenarios.js';
import { ProcessView, ProcessCard, processOptionsFromHash, processHash } from './js/process.js';

export { DEFAULT_SCRIPT };

const $ = (id) => document.getElementById(id);
const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
const num = (v) => (v === undefined || v === null || Number.isNaN(v) ? '–' : Number(v).toLocaleString('en'));
const pct = (v) => `${(v * 100).toFixed(1)} %`;
const errText = (e) => (e && e.message ? e.message : String(e));

/** Largest text kept in the editor (bigger traces are summarised instead). */
const EDITOR_MAX = 150_000;
/** Largest program put in a link. */
const LINK_MAX = 60_000;

const DEFAULT_CONFIG = { policy: 'first', order: 'addr', coalesce: true, header: 8, align: 8, heapSize: null, base: null };

const app = {
  glue: null,
  model: null,
  map: null,
  slider: null,
  policies: [],
  cfg: { ...DEFAULT_CONFIG },
  // The program: a script (its text is the truth), or a .rep trace with an
  // optional cut (steps kept) and statements typed after it.
  source: { kind: 'script', text: DEFAULT_SCRIPT, name: null, trace: null, cut: null, extra: [] },
  baseSteps: 0,       // steps of the trace before the extra statements
  steps: 0,
  pos: 0,
  busy: false,
  playing: null,
  last: null,         // last read of the main heap
  narration: null,
  series: [],
  compare: [],        // [{policy, glue, model, map, els}]
  compareWanted: [],
  failures: [],
  edited: false,
  urlTimer: 0,
};

// ---------------------------------------------------------------- small helpers

function setStatus(summary, detail = '', isError = false) {
  const status = $('status');
  const a = document.createElement('span');
  a.className = 'status-main';
  a.textContent = summary;
  const parts = [a];
  if (detail) {
    const b = document.createElement('span');
    b.className = 'status-detail';
    b.textContent = ` ${detail}`;
    parts.push(b);
  }
  status.replaceChildren(...parts);
  status.classList.toggle('is-error', isError);
  status.classList.remove('flash');
  if (!reducedMotion.matches) {
    void status.offsetWidth;
    status.classList.add('flash');
  }
}

function notice(text) {
  const n = $('notice');
  n.textContent = text;
  n.hidden = !text;
}

const CONTROLS = ['statement', 'run', 'script', 'run-script', 'reset', 'library', 'open-library', 'file', 'policy',
  'order', 'coalesce', 'header', 'align', 'heap-size', 'base', 'share', 'first', 'back', 'play', 'forward', 'last', 'speed',
  'goto', 'goto-button', 'zoom-out', 'zoom-in', 'zoom-fit', 'readable', 'arrows'];

function setEnabled(on) {
  for (const id of CONTROLS) $(id).disabled = !on;
  if (on) updateKnobs();
  $('script').readOnly = app.source.kind !== 'script';
}

function policyInfo(name) {
  return app.policies.find((p) => p.name === name) || { name, description: '', has_order: false };
}

function updateKnobs() {
  const has = policyInfo(app.cfg.policy).has_order;
  $('order').disabled = !has;
  $('coalesce').disabled = !has;
  const o = $('policy').selectedOptions[0];
  $('policy-description').textContent = (o && o.dataset.description ? `${o.dataset.description}.` : '') +
    (has ? '' : ' Order and coalescing are the policy\'s own: those knobs do not apply.');
}

// ---------------------------------------------------------------- loading programs

/** The source as the engine loads it. */
function engineSource() {
  const s = app.source;
  return { text: s.text, cut: s.kind === 'rep' ? s.cut : null, extra: s.kind === 'rep' ? s.extra : [] };
}

function progress(label, frac) {
  const box = $('progress-box');
  if (label === null) { box.hidden = true; return; }
  box.hidden = false;
  $('progress-label').textContent = label;
  const p = $('progress');
  if (frac === undefined) p.removeAttribute('value');
  else p.value = frac;
}

/** Makes the heaps anew (new Heap per instance) and loads the program into each. */
async function rebuild({ step = null, note = '' } = {}) {
  stopPlaying();
  app.busy = true;
  setEnabled(false);
  try {
    const heaps = [];
    try {
      app.model = new HeapModel(app.glue, app.cfg);
      app.process?.attach(app.glue, app.model.heap);
    } catch (e) {
      return { error: `The heap cannot be made with these settings: ${errText(e)}` };
    }
    heaps.push(['', app.model]);
    for (const c of app.compare) {
      c.model = new HeapModel(c.glue, { ...app.cfg, policy: c.policy });
      c.pcard?.attach(c.glue, c.model.heap);
      heaps.push([` under ${POLICY_NAMES[c.policy]}`, c.model]);
    }
    const src = engineSource();
    const big = src.text.length > 200_000;
    for (const [under, m] of heaps) {
      const r = await m.load(src, big ? (done, total) => progress(`Replaying ${num(total)} steps${under}…`, done / total) : null);
      if (r.error) return { error: r.error };
    }
    progress(null);
    const t = app.model.heap.timeline();
    app.steps = t.steps;
    app.baseSteps = t.steps - (app.source.kind === 'rep' ? app.source.extra.length : 0);
    app.series = chartRows(app.model.heap.series());
    const target = step === null ? app.steps : Math.min(step, app.steps);
    goTo(target, { note });
    renderScript();
    return { error: null };
  } finally {
    progress(null);
    app.busy = false;
    setEnabled(true);
  }
}

/** Puts the program in place: replay under the current settings, or say why not. */
async function useSource(source, { step = null, note = '' } = {}) {
  const before = app.source;
  app.source = { kind: 'script', name: null, trace: null, cut: null, extra: [], ...source };
  const r = await rebuild({ step, note });
  if (r.error) {
    app.source = before;
    await rebuild({ step: app.pos });
    setStatus(`Error: ${r.error}`, 'The program before it is still loaded.', true);
    notice(`Could not open ${source.name || 'the program'}: ${r.error}`);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- stepping

/** Goes to step n in every heap, then draws and narrates it. */
function goTo(n, { note = '', announce = true } = {}) {
  n = Math.max(0, Math.min(app.steps, n));
  let info;
  try {
    info = app.model.heap.seek(n);
  } catch (e) {
    setStatus(`Error: ${errText(e)}`, '', true);
    return;
  }
  const events = app.model.heap.events();
  app.pos = n;
  for (const c of app.compare) {
    try {
      const ci = c.model.heap.seek(n);
      c.narration = narrate(ci, c.model.heap.events(), narrationContext(c.model, c.policy));
    } catch (e) {
      c.narration = { summary: `Error: ${errText(e)}`, detail: '', changed: [] };
    }
  }
  show(info, events, { note, announce });
}

function narrationContext(model, policy) {
  return {
    policy,
    header: model.cfg.header,
    coalesce: model.cfg.coalesce,
    memoryBytes: model.heap.memoryBytes(),
    memoryEnd: model.heap.memoryEnd(),
    steps: app.steps,
    top: policy === 'heaptale' ? topBlock(model.heap.freeListsPacked()) : null,
  };
}

function show(info, events, { note = '', announce = true } = {}) {
  const m = app.model;
  app.last = m.read();
  const nar = narrate(info, events, narrationContext(m, app.cfg.policy));
  nar.probes = events.filter((e) => e.kind === 'alloc').reduce((a, e) => a + e.probes, 0);
  app.narration = nar;
  app.map.setData({ ...app.last, changedAddrs: nar.changed, header: app.cfg.header, policy: app.cfg.policy });
  if (nar.grow) flashGrow(events);
  app.map.draw();
  if (!app.drawnOnce) {
    app.drawnOnce = true;
    performance.mark('heaptale:first-heap');
  }
  describeMap();
  renderBlocks();
  renderFreeLists();
  renderStats();
  app.process?.render();
  renderChart();
  renderSteps();
  renderCompare();
  renderSelection();
  app.slider.setRange(0, app.steps);
  app.slider.set(app.pos);
  $('step-count').textContent = `Step ${num(app.pos)} of ${num(app.steps)}` +
    (app.steps ? '' : ': run a statement, a script or a trace.');
  if (announce) setStatus(note ? `${note} ${nar.summary}` : nar.summary, nar.detail, nar.error);
  $('statement').setAttribute('aria-invalid', nar.error ? 'true' : 'false');
  markCurrentLine(info.line);
  scheduleUrl();
}

function flashGrow(events) {
  const g = events.filter((e) => e.kind === 'grow');
  if (!g.length) return;
  app.map.flash = { from: g[0].old_brk, to: g[g.length - 1].new_brk, t0: performance.now(), still: reducedMotion.matches };
  if (reducedMotion.matches) return;
  const tick = () => {
    if (!app.map.flash || performance.now() - app.map.flash.t0 > 900) { if (app.map.flash) { app.map.flash = null; app.map.draw(); } return; }
    app.map.draw();
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

function stopPlaying() {
  if (app.playing) {
    cancelAnimationFrame(app.playing.raf);
    clearTimeout(app.playing.timer);
    app.playing = null;
  }
  const b = $('play');
  b.textContent = '▶ Play';
  b.setAttribute('aria-label', 'Play');
}

function togglePlay() {
  if (app.playing) { stopPlaying(); return; }
  if (app.pos >= app.steps) goTo(0, { announce: false });
  const b = $('play');
  b.textContent = '⏸ Pause';
  b.setAttribute('aria-label', 'Pause');
  const speed = Number($('speed').value);
  app.playing = { raf: 0, timer: 0, acc: 0, t: performance.now() };
  const frame = () => {
    if (!app.playing) return;
    const now = performance.now();
    app.playing.acc += ((now - app.playing.t) / 1000) * speed;
    app.playing.t = now;
    const k = Math.floor(app.playing.acc);
    if (k >= 1) {
      app.playing.acc -= k;
      goTo(Math.min(app.steps, app.pos + k), { announce: speed <= 5 });
    }
    if (app.pos >= app.steps) {
      stopPlaying();
      goTo(app.pos);
      return;
    }
    if (speed > 20) app.playing.raf = requestAnimationFrame(frame);
    else app.playing.timer = setTimeout(frame, 1000 / speed);
  };
  if (speed > 20) app.playing.raf = requestAnimationFrame(frame);
  else { app.playing.acc = 1; frame(); }
}

// ---------------------------------------------------------------- statements and scripts

function runStatement(stmt) {
  stopPlaying();
  if (app.edited && app.source.kind === 'script') {
    setStatus('Error: the script has edits that have not run yet.', 'Run the script first (Ctrl+Enter or Run script), then add statements here; nothing changed.', true);
    return { ok: false };
  }
  const h = app.model.heap;
  const pos = app.pos;
  const r = h.run(stmt);
  const after = h.stepCount();
  if (after !== pos + 1 || h.position() !== pos + 1) {
    // refused as a whole (nothing to run, several statements): not a step
    setStatus(`Error: ${r.error || 'the statement was not run'}`, 'Nothing changed.', true);
    $('statement').setAttribute('aria-invalid', 'true');
    return { ok: false };
  }
  for (const c of app.compare) {
    try {
      c.model.heap.seek(pos);
      c.model.heap.events();
      c.model.heap.run(stmt);
    } catch { /* reported in its panel */ }
  }
  // the program: the statement goes after the step it was typed at
  const info = h.stepInfo(pos + 1);
  const s = app.source;
  if (s.kind === 'script') {
    const lines = s.text.split('\n');
    lines.length = Math.max(0, info.line - 1);
    while (lines.length < info.line - 1) lines.push('');
    lines.push(stmt.trim());
    s.text = lines.join('\n') + '\n';
  } else if (pos <= app.baseSteps) {
    s.cut = pos;
    s.extra = [stmt.trim()];
    app.baseSteps = pos;
  } else {
    s.extra = s.extra.slice(0, pos - app.baseSteps).concat(stmt.trim());
  }
  app.steps = after;
  app.series = chartRows(h.series());
  const events = h.events();
  for (const c of app.compare) {
    try { c.narration = narrate(c.model.heap.stepInfo(after), c.model.heap.events(), narrationContext(c.model, c.policy)); } catch { /* */ }
  }
  app.pos = after;
  renderScript();
  show(info, events);
  return { ok: !info.error };
}

/** The script editor: a textarea over a mirror that shows errors in place. */
function renderScript() {
  const s = app.source;
  const ta = $('script');
  const summary = $('trace-summary');
  if (s.kind === 'script') {
    if (ta.value !== s.text) ta.value = s.text;
    ta.hidden = false;
    $('editor').hidden = false;
    summary.hidden = true;
  } else {
    const small = s.text.length <= EDITOR_MAX;
    ta.hidden = !small;
    $('editor').hidden = !small;
    if (small && ta.value !== s.text) ta.value = s.text;
    summary.hidden = false;
    const extra = s.extra.length ? ` Then ${s.extra.length} statement${s.extra.length > 1 ? 's' : ''} typed after it: ${s.extra.join('; ')}.` : '';
    const cut = s.cut != null ? ` Cut after its step ${num(s.cut)}.` : '';
    summary.textContent = `A ${s.trace ? 'built-in' : ''} .rep trace${s.name ? ` (${s.name})` : ''}: ${num(app.baseSteps)} steps, read-only here.${cut}${extra} ` +
      'Open a script or a scenario to edit one.';
  }
  ta.readOnly = s.kind !== 'script';
  app.edited = false;
  app.failures = app.model ? app.model.heap.failures(1000) : [];
  renderErrors();
}

function renderErrors() {
  const list = $('script-errors');
  const items = app.failures.slice(0, 200).map((f) => {
    const li = document.createElement('li');
    li.textContent = f.line ? `Line ${f.line} (step ${num(f.step)}): ${f.error}` : `Step ${num(f.step)}: ${f.error}`;
    return li;
  });
  list.replaceChildren(...items);
  const n = app.failures.length;
  $('script-errors-summary').textContent = app.edited ? 'Edited: Ctrl+Enter (or Run script) runs it.'
    : n ? `${n === 1000 ? 'At least 1,000' : num(n)} step${n === 1 ? '' : 's'} failed; each is marked on its line. The steps after an error ran.` : '';
  renderMirror();
}

function renderMirror() {
  const ta = $('script');
  const mirror = $('script-mirror');
  if (ta.hidden) return;
  const byLine = new Map();
  if (!app.edited) for (const f of app.failures) if (f.line && !byLine.has(f.line)) byLine.set(f.line, f.error);
  const lines = ta.value.split('\n');
  const frag = document.createDocumentFragment();
  lines.forEach((text, i) => {
    const line = document.createElement('span');
    line.className = 'mline';
    line.dataset.line = String(i + 1);
    const code = document.createElement('span');
    code.className = 'mcode';
    code.textContent = text;
    line.append(code);
    const err = byLine.get(i + 1);
    if (err) {
      line.classList.add('has-error');
      const e = document.createElement('span');
      e.className = 'inline-error';
      e.textContent = `  ⚠ ${err}`;
      line.append(e);
    }
    frag.append(line, '\n');
  });
  mirror.replaceChildren(frag);
  markCurrentLine(app.currentLine);
  mirror.scrollTop = ta.scrollTop;
  mirror.scrollLeft = ta.scrollLeft;
}

function markCurrentLine(line) {
  app.currentLine = line;
  const mirror = $('script-mirror');
  for (const el of mirror.querySelectorAll('.mline.current')) el.classList.remove('current');
  if (!line || app.edited) return;
  const el = mirror.querySelector(`.mline[data-line="${line}"]`);
  if (el) el.classList.add('current');
}

// ---------------------------------------------------------------- rendering

function describeMap() {
  const d = app.last;
  const n = d.packed.length / 4;
  let used = 0;
  let quick = 0;
  for (let i = 0; i < n; i++) {
    const w = d.packed[i * 4 + 3];
    if (w & 0x80000000) used++;
    if (w & 0x40000000) quick++;
  }
  $('heap-canvas').setAttribute('aria-label',
    `Heap map: ${num(n)} blocks (${num(used)} used${quick ? `, ${num(quick)} of them in quick lists` : ''}, ${num(n - used)} free) from ${hex(d.heapStart)} ` +
    `to the break at ${hex(d.brk)}; memory grown to ${hex(d.memoryEnd)}. The block list has the same content.`);
  $('row-bytes').textContent = app.map.readable ? 'one cell per block, in address order, not to scale'
    : `the heap to scale, ${num(app.map.rowBytes())} bytes a row`;
}

function blockWords(b) {
  if (b.quick) {
    return `used block in quick list at ${hex(b.addr)}: ${num(b.size)} bytes (${b.header}-byte header; freed, waiting in a quick list and still marked used, so it does not merge)`;
  }
  const pad = b.used ? b.size - b.header - b.requested : 0;
  return `${b.used ? 'used' : 'free'} block at ${hex(b.addr)}: ${num(b.size)} bytes` +
    (b.used ? ` (${b.header}-byte header, ${num(b.requested)} bytes asked for, ${num(Math.max(0, pad))} bytes of padding; payload at ${hex(b.addr + b.header)})`
      : ` (${b.header}-byte header, free-list links in its payload)`);
}

function flagsWords(b) {
  const view = app.model.memoryView(b.addr, 4);
  if (view.length < 4) return '';
  const w = new DataView(view.buffer, view.byteOffset, 4).getUint32(0, true);
  if (app.cfg.policy === 'buddy') return `header word ${hex(w)}: order ${w & 0xff}, ${(w >>> 15) & 1 ? 'used' : 'free'}`;
  return `header word ${hex(w)}: size ${w & 0x3fffffff}, U=${(w >>> 31) & 1} (${(w >>> 31) & 1 ? 'used' : 'free'}), P=${(w >>> 30) & 1} (the block before is ${(w >>> 30) & 1 ? 'used' : 'free'})`;
}

const BLOCKS_SHOWN = 2000;

function renderBlocks() {
  const d = app.last;
  const n = d.packed.length / 4;
  let from = 0;
  if (n > BLOCKS_SHOWN) {
    const anchor = app.map.selected >= 0 ? app.map.selected : [...app.map.changed][0] ?? 0;
    from = Math.max(0, Math.min(n - BLOCKS_SHOWN, anchor - BLOCKS_SHOWN / 2));
  }
  const to = Math.min(n, from + BLOCKS_SHOWN);
  const items = [];
  for (let i = from; i < to; i++) {
    const b = blockAt(d.packed, i);
    const li = document.createElement('li');
    li.className = b.quick ? 'block used quick' : b.used ? 'block used' : 'block free';
    if (app.map.changed.has(i)) li.classList.add('changed');
    if (i === app.map.selected) li.classList.add('selected');
    li.textContent = `${blockState(b)}, ${hex(b.addr)}, ${b.size} bytes`;
    li.title = blockWords(b);
    li.dataset.index = String(i);
    items.push(li);
  }
  $('blocks').replaceChildren(...items);
  $('blocks-more').textContent = n > BLOCKS_SHOWN
    ? `Showing blocks ${num(from + 1)} to ${num(to)} of ${num(n)} (around the last change or the selected block).` : '';
}

function listName(list) {
  const p = app.cfg.policy;
  if (list === TOP_LIST) return 'Top block (kept apart, carved last)';
  if (list >= QUICK_LIST) {
    const q = list - QUICK_LIST;
    return `Quick list ${q}: ${num(quickBlockSize(q, app.cfg.header, app.cfg.align))}-byte blocks (freed, still marked used)`;
  }
  if (p === 'seglist') return `Size class ${list}: ${num(2 ** list)}–${num(2 ** (list + 1) - 1)} bytes`;
  if (p === 'buddy') return `Order ${list}: ${num(2 ** list)}-byte blocks`;
  if (p === 'tlsf' || p === 'heaptale') {
    const fl = list >> 4; const sl = list & 15;
    if (fl < 4) return `Class (${fl}, ${sl}): ${sl} bytes`;
    const lo = 2 ** fl + sl * 2 ** (fl - 4);
    return `Class (${fl}, ${sl}): ${num(lo)}–${num(lo + 2 ** (fl - 4) - 1)} bytes`;
  }
  const order = { addr: 'by address', 'size-asc': 'by size, smallest first', 'size-desc': 'by size, largest first', front: 'last freed first', back: 'first freed first' }[app.cfg.order];
  return `The free list (${order})`;
}

function renderFreeLists() {
  const f = app.last.free;
  const groups = new Map();
  for (let j = 0; j < f.length; j += 3) {
    if (!groups.has(f[j])) groups.set(f[j], []);
    groups.get(f[j]).push([f[j + 1], f[j + 2]]);
  }
  // size classes, then the top block, then the quick lists (each kind in the engine's order)
  const ordered = [...groups].sort((x, y) => listRank(x[0]) - listRank(y[0]));
  const out = [];
  if (!groups.size) {
    const p = document.createElement('p');
    p.className = 'help';
    p.textContent = 'No free block: every list is empty.';
    out.push(p);
  }
  for (const [list, entries] of ordered) {
    const h = document.createElement('h3');
    h.className = 'list-title';
    h.textContent = `${listName(list)} — ${entries.length} block${entries.length === 1 ? '' : 's'}`;
    const ol = document.createElement('ol');
    ol.className = 'free-list';
    ol.setAttribute('aria-label', listName(list));
    for (const [addr, size] of entries.slice(0, 200)) {
      const li = document.createElement('li');
      li.textContent = `${hex(addr)}, ${size} bytes`;
      ol.append(li);
    }
    out.push(h, ol);
    if (entries.length > 200) {
      const p = document.createElement('p');
      p.className = 'help';
      p.textContent = `… and ${num(entries.length - 200)} more in this list.`;
      out.push(p);
    }
  }
  $('free-lists').replaceChildren(...out);
  const buddy = app.cfg.policy === 'buddy';
  $('buddy-box').hidden = !buddy;
  if (buddy) drawBuddy(buddyCanvas(), app.last, app.map.changed);
  else $('buddy-canvas-box').replaceChildren();
}

/** The buddy tree's canvas, made when the buddy policy is on. */
function buddyCanvas() {
  const box = $('buddy-canvas-box');
  let c = box.querySelector('canvas');
  if (!c) {
    c = document.createElement('canvas');
    c.setAttribute('role', 'img');
    box.append(c);
  }
  return c;
}

function renderStats() {
  const d = app.last;
  const s = d.stats;
  const internal = s.used_bytes ? (s.used_bytes - s.live_bytes) / s.used_bytes : 0;
  const t = app.model.heap.timeline();
  const mm = app.glue.moduleMemory();
  const totalProbes = app.series.length ? null : null;
  void totalProbes;
  const rows = [
    ['policy', `${app.cfg.policy} (${POLICY_NAMES[app.cfg.policy]})`],
    ['heap start', hex(d.heapStart)],
    ...(d.realStart === d.heapStart ? [] : [['base address', `${hex(d.heapStart)}: addresses are reported from it; the heap's bytes really start at ${hex(d.realStart)} in linear memory (the hex view reads them there)`]]),
    ['break (brk)', `${hex(d.brk)} (${num(d.brk - d.heapStart)} bytes into the heap)`],
    ['memory.size', `${hex(d.memoryEnd)} (${num(d.memoryBytes / 65536)} pages of 64 KiB)` +
      (d.memoryEnd === d.memoryBytes ? '' : `: where memory ends, in reported addresses (${hex(d.memoryBytes)} bytes of linear memory)`)],
    ['live bytes', `${num(s.live_bytes)} (asked for by live blocks)`],
    ['heap size', `${num(s.heap_bytes)} bytes`],
    ['used blocks', `${num(s.used_blocks)} (${num(s.used_bytes)} bytes with headers and padding)`],
    ['free blocks', `${num(s.free_blocks)} (${num(s.free_bytes)} bytes)`],
    ['largest free block', `${num(s.largest_free)} bytes`],
    ['utilization', pct(s.utilization)],
    ['internal fragmentation', `${pct(internal)} of used bytes are headers or padding`],
    ['external fragmentation', `${pct(s.external_fragmentation)} of free bytes are outside the largest free block`],
    ['probes', `${num(app.narration.probes)} this step`],
    ['module memory', `arena ${hex(mm.arena_start)}–${hex(mm.arena_end)}${d.realStart === d.heapStart ? '' : ' (real addresses)'} below the heap, ${kib(mm.arena_used)} used (the module's own bookkeeping; it never grows memory)`],
    ['time travel', t.recording ? `${num(t.snapshots)} snapshot${t.snapshots === 1 ? '' : 's'} of the heap (one every ${num(t.interval)} steps; ${kib(t.snapshotBytes)} of heap bytes copied)` : `off: ${t.why}`],
  ];
  $('stats').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    return [dt, dd];
  }));
}

function renderChart() {
  drawChart($('chart'), app.series, app.pos, app.steps, (step) => goTo(step));
  $('chart-summary').textContent = describeChart(app.series, app.steps);
}

function renderSteps() {
  const h = app.model.heap;
  const around = 60;
  const from = Math.max(1, app.pos - around);
  const to = Math.min(app.steps, app.pos + around);
  const list = to >= from ? h.stepList(from, to - from + 1) : [];
  const items = [];
  if (from > 1 || app.steps === 0) {
    const li = document.createElement('li');
    li.value = 0;
    li.className = 'step';
    li.textContent = '0. the heap as made';
    li.dataset.step = '0';
    if (app.pos === 0) { li.classList.add('current'); li.setAttribute('aria-current', 'step'); }
    items.push(li);
  }
  for (const s of list) {
    const li = document.createElement('li');
    li.value = s.step;
    li.className = s.error ? 'step is-error' : 'step';
    li.dataset.step = String(s.step);
    const no = document.createElement('span');
    no.className = 'step-no';
    no.textContent = `${num(s.step)}.`;
    li.append(no, ' ');
    const code = document.createElement('code');
    code.textContent = s.text;
    li.append(code, ' ');
    const out = document.createElement('span');
    out.className = 'step-result';
    out.textContent = s.error ? `error: ${s.error}` : s.addr != null ? `→ ${hex(s.addr)}` : '✓';
    li.append(out);
    if (s.step === app.pos) { li.classList.add('current'); li.setAttribute('aria-current', 'step'); }
    items.push(li);
  }
  const ol = $('steps');
  ol.replaceChildren(...items);
  $('steps-more').textContent = app.steps > to || from > 1 ? `Steps ${num(from)} to ${num(to)} of ${num(app.steps)} (around the current step).` : '';
  const cur = ol.querySelector('.current');
  if (cur) ol.scrollTop = Math.max(0, cur.offsetTop - ol.offsetTop - ol.clientHeight / 2);
}

function renderSelection() {
  const i = app.map.selected;
  const box = $('hex-box');
  if (i < 0 || !app.last || i >= app.last.packed.length / 4) { box.hidden = true; return; }
  const b = blockAt(app.last.packed, i);
  box.hidden = false;
  const view = app.model.memoryView(b.addr, Math.min(b.size, 512));
  const full = app.model.memoryView(b.addr, b.size);
  renderHex($('hex'), b, full.length > view.length ? full : view, app.cfg.policy, window.innerWidth < 560 ? 8 : 16);
}

// ---------------------------------------------------------------- map interaction

function focusWords(i) {
  const d = app.last;
  if (i < 0) return '';
  const b = blockAt(d.packed, i);
  return `Block ${num(i + 1)} of ${num(d.packed.length / 4)}: ${blockWords(b)}; ${flagsWords(b)}.`;
}

function showTooltip(i, x, y) {
  const tip = $('tooltip');
  if (i < 0) { tip.hidden = true; return; }
  tip.textContent = focusWords(i);
  tip.hidden = false;
  const box = $('canvas-box').getBoundingClientRect();
  const w = Math.min(320, box.width - 8);
  tip.style.maxWidth = `${w}px`;
  tip.style.left = `${Math.max(4, Math.min(box.width - w - 4, x + 12))}px`;
  tip.style.top = `${y + 16}px`;
}

function setFocusBlock(i, { select = false } = {}) {
  const n = app.last.packed.length / 4;
  if (n === 0) return;
  i = Math.max(0, Math.min(n - 1, i));
  app.map.focus = i;
  if (select) app.map.selected = i;
  app.map.reveal(i);
  app.map.draw();
  $('map-focus').textContent = focusWords(i);
  if (select) { renderSelection(); renderBlocks(); }
}

function wireMap() {
  const canvas = $('heap-canvas');
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    showTooltip(app.map.hit(e.clientX - r.left, e.clientY - r.top), e.clientX - r.left, e.clientY - r.top);
  });
  canvas.addEventListener('mouseleave', () => { $('tooltip').hidden = true; });
  canvas.addEventListener('click', (e) => {
    const r = canvas.getBoundingClientRect();
    const x = e.clientX - r.left; const y = e.clientY - r.top;
    const ov = app.map.overviewOffset(x, y);
    if (ov !== null && !app.map.isFit()) {
      app.map.viewStart = ov - (app.map.rowBytes() * app.map.visibleRows()) / 2;
      app.map.clampView();
      app.map.draw();
      return;
    }
    const i = app.map.hit(x, y);
    if (i >= 0) setFocusBlock(i, { select: true });
  });
  canvas.addEventListener('keydown', (e) => {
    const m = app.map;
    const n = app.last ? app.last.packed.length / 4 : 0;
    const cur = m.focus >= 0 ? m.focus : 0;
    const byAddr = (delta) => {
      const b = blockAt(app.last.packed, cur);
      const target = b.addr + delta;
      const j = blockIndexAt(app.last.packed, Math.max(app.last.heapStart, Math.min(app.last.brk - 1, target)));
      return j >= 0 ? j : cur;
    };
    switch (e.key) {
      case 'ArrowRight': setFocusBlock(m.focus < 0 ? 0 : cur + 1); break;
      case 'ArrowLeft': setFocusBlock(m.focus < 0 ? 0 : cur - 1); break;
      case 'ArrowDown': setFocusBlock(m.readable ? cur + 8 : byAddr(m.rowBytes())); break;
      case 'ArrowUp': setFocusBlock(m.readable ? cur - 8 : byAddr(-m.rowBytes())); break;
      case 'Home': setFocusBlock(0); break;
      case 'End': setFocusBlock(n - 1); break;
      case 'Enter': case ' ': setFocusBlock(cur, { select: true }); break;
      case 'Escape': m.selected = -1; renderSelection(); m.draw(); break;
      case '+': case '=': m.zoomIn(); m.reveal(m.focus >= 0 ? m.focus : [...m.changed][0] ?? -1); m.draw(); describeMap(); break;
      case '-': case '_': m.zoomOut(); m.draw(); describeMap(); break;
      case '0': m.fit(); m.draw(); describeMap(); break;
      case 'PageDown': m.pan(m.visibleRows()); m.draw(); break;
      case 'PageUp': m.pan(-m.visibleRows()); m.draw(); break;
      default: return;
    }
    e.preventDefault();
  });
  canvas.addEventListener('focus', () => {
    if (app.map.focus < 0 && app.last && app.last.packed.length) setFocusBlock(0);
    else if (app.map.focus >= 0) $('map-focus').textContent = focusWords(app.map.focus);
  });
  // zooming in keeps the block in focus, or the one the step changed, in view
  const zoomTarget = () => (app.map.focus >= 0 ? app.map.focus : [...app.map.changed][0] ?? -1);
  $('zoom-in').addEventListener('click', () => { app.map.zoomIn(); app.map.reveal(zoomTarget()); app.map.draw(); describeMap(); });
  $('zoom-out').addEventListener('click', () => { app.map.zoomOut(); app.map.draw(); describeMap(); });
  $('zoom-fit').addEventListener('click', () => { app.map.fit(); app.map.draw(); describeMap(); });
  $('readable').addEventListener('change', () => {
    app.map.readable = $('readable').checked;
    if (app.map.readable && app.map.focus >= 0) app.map.reveal(app.map.focus);
    app.map.draw();
    describeMap();
  });
  $('arrows').addEventListener('change', () => { app.map.arrows = $('arrows').checked; app.map.draw(); });
  $('blocks').addEventListener('click', (e) => {
    const li = e.target.closest('li[data-index]');
    if (li) setFocusBlock(Number(li.dataset.index), { select: true });
  });
  $('steps').addEventListener('click', (e) => {
    const li = e.target.closest('li[data-step]');
    if (li && !app.busy) goTo(Number(li.dataset.step));
  });
}

// ---------------------------------------------------------------- compare

function renderCompareOptions() {
  const box = $('compare-options');
  const items = POLICIES.map((p) => {
    const wrap = document.createElement('span');
    wrap.className = 'knob-check';
    const cb = document.createElement('input');
    cb.type = 'checkbox';
    cb.id = `compare-${p}`;
    cb.value = p;
    cb.checked = app.compareWanted.includes(p);
    const main = p === app.cfg.policy;
    cb.disabled = main;
    const label = document.createElement('label');
    label.htmlFor = cb.id;
    label.textContent = `${p} (${POLICY_NAMES[p]})${main ? ': the policy above' : ''}`;
    wrap.append(cb, label);
    return wrap;
  });
  box.replaceChildren(...items);
}

/** Keeps the compared policies apart from the main one; rebuilds the cards. */
async function resyncCompare() {
  const wanted = app.compareWanted.filter((p) => p !== app.cfg.policy);
  if (wanted.length !== app.compare.length || wanted.some((p, k) => app.compare[k].policy !== p)) {
    await setCompare(wanted, { rebuild: false });
  } else {
    buildCompareGrid();
  }
  renderCompareOptions();
}

async function setCompare(list, { rebuild: again = true } = {}) {
  list = list.filter((p) => POLICIES.includes(p) && p !== app.cfg.policy).slice(0, 3);
  app.compareWanted = list;
  for (const c of app.compare) { c.pcard?.release(); c.model?.release(); }
  app.compare = [];
  for (let k = 0; k < list.length; k++) {
    const glue = await instance(k + 1);
    app.compare.push({ policy: list[k], glue, model: null, map: null, narration: null });
  }
  buildCompareGrid();
  renderCompareOptions();
  if (again) await rebuild({ step: app.pos });
}

function buildCompareGrid() {
  for (const c of app.compare) c.pcard?.release();
  const grid = $('compare-grid');
  if (!app.compare.length) {
    grid.replaceChildren();
    $('compare-table-box').replaceChildren();
    return;
  }
  const panels = [{ policy: app.cfg.policy, main: true }, ...app.compare].map((c) => {
    const sec = document.createElement('section');
    sec.className = 'compare-card';
    const h = document.createElement('h3');
    h.textContent = `${c.policy} (${POLICY_NAMES[c.policy]})${c.main ? ' — as above' : ''}`;
    const box = document.createElement('div');
    box.className = 'canvas-box small';
    const canvas = document.createElement('canvas');
    canvas.setAttribute('role', 'img');
    box.append(canvas);
    const p = document.createElement('p');
    p.className = 'compare-narration';
    const det = document.createElement('details');
    const sum = document.createElement('summary');
    sum.textContent = 'Blocks';
    const ul = document.createElement('ul');
    ul.className = 'blocks';
    ul.setAttribute('role', 'list');
    ul.setAttribute('aria-label', `blocks under ${c.policy}`);
    det.append(sum, ul);
    sec.append(h, box, p, det);
    const map = new HeapMap(canvas, { compact: true });
    map.arrows = false;
    // Each heap's own simulated process (the main heap's is the Process section's).
    c.pcard = app.process ? new ProcessCard(app.process, c.policy, { shared: !!c.main }) : null;
    if (c.pcard) {
      sec.append(c.pcard.el);
      if (c.model) c.pcard.attach(c.glue, c.model.heap);
    }
    if (c.main) app.compareMainCard = c.pcard;
    c.els = { sec, canvas, p, ul, sum };
    c.map = map;
    return sec;
  });
  app.compareMain = { policy: app.cfg.policy, main: true };
  grid.replaceChildren(...panels);
  // the main card reuses the main heap's data
  const mainCard = grid.firstElementChild;
  app.compareMainEls = { canvas: mainCard.querySelector('canvas'), p: mainCard.querySelector('p'), ul: mainCard.querySelector('ul'), sum: mainCard.querySelector('summary') };
  app.compareMainMap = new HeapMap(app.compareMainEls.canvas, { compact: true });
  app.compareMainMap.arrows = false;
  app.process?.setFollowers([app.compareMainCard, ...app.compare.map((c) => c.pcard)].filter(Boolean));
}

function renderCompare() {
  if (!app.compare.length) return;
  const cards = [{ policy: app.cfg.policy, main: true, model: app.model, map: app.compareMainMap, els: app.compareMainEls, narration: app.narration, read: app.last },
    ...app.compare.map((c) => ({ ...c, read: c.model.read() }))];
  for (const c of cards) {
    if (!c.map) continue;
    const d = c.read;
    c.map.setData({ ...d, changedAddrs: c.narration ? c.narration.changed : [] });
    c.map.draw();
    (c.main ? app.compareMainCard : c.pcard)?.render();
    const n = d.packed.length / 4;
    c.els.canvas.setAttribute('aria-label', `Heap under ${c.policy}: ${num(n)} blocks, break at ${hex(d.brk)}.`);
    c.els.p.textContent = c.narration ? `${c.narration.summary} ${c.narration.detail}` : '';
    c.els.sum.textContent = `Blocks (${num(n)})`;
    const items = [];
    for (let i = 0; i < Math.min(n, 500); i++) {
      const b = blockAt(d.packed, i);
      const li = document.createElement('li');
      li.className = b.quick ? 'block used quick' : b.used ? 'block used' : 'block free';
      li.textContent = `${blockState(b)}, ${hex(b.addr)}, ${b.size} bytes`;
      items.push(li);
    }
    c.els.ul.replaceChildren(...items);
  }
  // the figures side by side
  const table = document.createElement('table');
  table.className = 'compare-table';
  const cap = document.createElement('caption');
  cap.textContent = `Figures at step ${num(app.pos)}, side by side`;
  const head = document.createElement('tr');
  const corner = document.createElement('th');
  corner.scope = 'col';
  corner.textContent = 'figure';
  head.append(corner);
  for (const c of cards) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = c.policy;
    head.append(th);
  }
  const figures = [
    ['heap size', (s) => num(s.heap_bytes)],
    ['live bytes', (s) => num(s.live_bytes)],
    ['utilization', (s) => pct(s.utilization)],
    ['free blocks', (s) => num(s.free_blocks)],
    ['largest free', (s) => num(s.largest_free)],
    ['external fragmentation', (s) => pct(s.external_fragmentation)],
    ['internal fragmentation', (s) => pct(s.used_bytes ? (s.used_bytes - s.live_bytes) / s.used_bytes : 0)],
  ];
  const body = document.createElement('tbody');
  for (const [name, f] of figures) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = name;
    tr.append(th);
    for (const c of cards) {
      const td = document.createElement('td');
      td.textContent = f(c.read.stats);
      tr.append(td);
    }
    body.append(tr);
  }
  const thead = document.createElement('thead');
  thead.append(head);
  table.append(cap, thead, body);
  const wrap = document.createElement('div');
  wrap.className = 'table-scroll';
  wrap.append(table);
  $('compare-table-box').replaceChildren(wrap);
}

// ---------------------------------------------------------------- files, scenarios, traces

function fillLibrary() {
  const sel = $('library');
  const g1 = document.createElement('optgroup');
  g1.label = 'Scenarios';
  for (const s of SCENARIOS) {
    const o = document.createElement('option');
    o.value = `s:${s.id}`;
    o.textContent = s.title;
    g1.append(o);
  }
  const g2 = document.createElement('optgroup');
  g2.label = 'Real programs';
  for (const t of TRACES) {
    const o = document.createElement('option');
    o.value = `t:${t.id}`;
    o.textContent = t.title;
    g2.append(o);
  }
  sel.replaceChildren(g1, g2);
}

/** Downloads a built-in trace, with progress (XMLHttpRequest reports it as it comes). */
function fetchTrace(t) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('GET', traceUrl(t));
    xhr.responseType = 'text';
    xhr.onprogress = (e) => { if (e.lengthComputable) progress(`Downloading ${t.file}`, e.loaded / e.total); };
    xhr.onload = () => (xhr.status === 200 ? resolve(xhr.responseText) : reject(new Error(`${t.file}: HTTP ${xhr.status}`)));
    xhr.onerror = () => reject(new Error(`${t.file}: the download failed`));
    xhr.send();
  });
}

async function openTrace(id, { step = null, cut = null, extra = [] } = {}) {
  const t = TRACES.find((x) => x.id === id);
  progress(`Downloading ${t.file}`, 0);
  let text;
  try {
    text = await fetchTrace(t);
  } catch (e) {
    progress(null);
    setStatus(`Error: could not download ${t.file}: ${errText(e)}`, '', true);
    return false;
  }
  return useSource({ kind: 'rep', text, name: t.file, trace: t.id, cut, extra }, { step, note: `Opened ${t.file}.` });
}

async function openScenario(id) {
  const s = SCENARIOS.find((x) => x.id === id);
  if (s.policy && s.policy !== app.cfg.policy) {
    app.cfg.policy = s.policy;
    syncKnobs();
    await resyncCompare();
  }
  return useSource({ kind: 'script', text: s.text, name: s.title }, { note: `Opened "${s.title}" (policy ${app.cfg.policy}).` });
}

/** Reads a dropped or chosen file with progress, then loads it. */
function readFile(file) {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onprogress = (e) => { if (e.lengthComputable) progress(`Reading ${file.name}`, e.loaded / e.total); };
    reader.onerror = () => resolve({ error: `could not read the file (${reader.error?.message || 'unknown error'})` });
    reader.onload = () => resolve({ buffer: reader.result });
    progress(`Reading ${file.name}`, 0);
    reader.readAsArrayBuffer(file);
  });
}

/** Text the playground cannot read, told by its first bytes, as the command line tool does. */
function notUtf8Kind(b) {
  if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff)) {
    return 'it is UTF-16 text: the playground reads UTF-8 (or ASCII); save it as UTF-8 first (iconv -f UTF-16 -t UTF-8 FILE)';
  }
  if (b[0] === 0x1f && b[1] === 0x8b) return 'it is gzip-compressed: decompress it first (gunzip -k FILE)';
  if ([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00].every((x, i) => b[i] === x)) return 'it is xz-compressed: decompress it first (xz -dk FILE)';
  return null;
}

async function openFile(file) {
  if (!file) return;
  notice('');
  if (file.size > 8 * 1024 * 1024) {
    fileError(file.name, `it is ${kib(file.size)}; the playground takes files up to 8 MiB (use the heaptale command line tool for bigger traces)`);
    return;
  }
  const r = await readFile(file);
  if (r.error) { progress(null); fileError(file.name, r.error); return; }
  const kind = notUtf8Kind(new Uint8Array(r.buffer, 0, Math.min(6, r.buffer.byteLength)));
  if (kind) { progress(null); fileError(file.name, kind); return; }
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(r.buffer);
  } catch {
    progress(null);
    fileError(file.name, 'it is not a text file (it is not valid UTF-8): expected a .rep trace or a script');
    return;
  }
  if (text.includes('\0')) { progress(null); fileError(file.name, 'it holds NUL bytes: it is a binary file, not a .rep trace or a script'); return; }
  const first = text.split('\n').map((l) => l.trim()).find((l) => l);
  if (first === undefined) { progress(null); fileError(file.name, 'it is empty'); return; }
  const isRep = /^\d/.test(first);
  const ok = await useSource(isRep ? { kind: 'rep', text, name: file.name } : { kind: 'script', text, name: file.name },
    { note: `Opened ${file.name}.` });
  if (ok && app.failures.length && !isRep) {
    notice(`${file.name}: ${app.failures.length} statement${app.failures.length > 1 ? 's' : ''} failed; each is marked on its line in the script.`);
  }
}

function fileError(name, why) {
  const msg = `Could not open ${name}: ${why}.`;
  notice(msg);
  setStatus(`Error: ${msg}`, 'The program before it is still loaded.', true);
}

// ---------------------------------------------------------------- URL state

function scheduleUrl() {
  clearTimeout(app.urlTimer);
  app.urlTimer = setTimeout(() => { writeUrl(); }, 250);
}

function shareable() {
  const s = app.source;
  if (s.trace) return { ok: true, source: { trace: s.trace, cut: s.cut, extra: s.extra } };
  if (s.text.length > LINK_MAX) return { ok: false, why: `this program (${kib(s.text.length)}) is too large to put in a link; links carry scripts, small traces and the built-in traces` };
  return { ok: true, source: { text: s.text, cut: s.kind === 'rep' ? s.cut : null, extra: s.kind === 'rep' ? s.extra : [] } };
}

async function stateHash() {
  const sh = shareable();
  if (!sh.ok) return null;
  const h = await encodeState({ config: app.cfg, source: sh.source, step: app.pos, compare: app.compareWanted });
  return h + (app.process ? processHash(app.process.options) : '');
}

async function writeUrl() {
  const h = await stateHash();
  if (h && h !== location.hash) history.replaceState(null, '', h);
}

async function share() {
  const h = await stateHash();
  const out = $('share-status');
  if (!h) { out.textContent = `No link: ${shareable().why}.`; return; }
  history.replaceState(null, '', h);
  const url = location.href;
  try {
    await navigator.clipboard.writeText(url);
    out.textContent = 'The link is copied: it opens this program, these settings and this step.';
  } catch {
    out.replaceChildren('Copy this link: ');
    const input = document.createElement('input');
    input.readOnly = true;
    input.value = url;
    input.className = 'share-url';
    input.setAttribute('aria-label', 'link to this state');
    out.append(input);
    input.select();
  }
}

/** Applies a decoded URL state; returns false (with a message) if it cannot. */
async function applyUrl(st) {
  app.cfg = { ...DEFAULT_CONFIG, ...st.config };
  syncKnobs();
  if (st.compare?.length) await setCompare(st.compare, { rebuild: false });
  if (st.source?.trace) return openTrace(st.source.trace, { step: st.step, cut: st.source.cut, extra: st.source.extra });
  const text = st.source?.text ?? DEFAULT_SCRIPT;
  const isRep = /^\d/.test((text.split('\n').map((l) => l.trim()).find((l) => l)) || '');
  return useSource(isRep ? { kind: 'rep', text, name: 'the linked trace', cut: st.source?.cut ?? null, extra: st.source?.extra ?? [] }
    : { kind: 'script', text }, { step: st.step, note: 'Opened the linked state.' });
}

// ---------------------------------------------------------------- knobs

/**
 * The base address box: empty (real addresses), or an address in decimal or
 * 0x hex (as the CLI's --base). Returns {value} or {error}; the engine checks
 * the range (at most 0xbfffffff) and says why when it refuses one.
 */
function parseBase(text) {
  const t = text.trim().replace(/[_,\s]/g, '');
  if (!t) return { value: null };
  if (/^0x[0-9a-f]+$/i.test(t)) return { value: Number.parseInt(t.slice(2), 16) };
  if (/^\d+$/.test(t)) return { value: Number(t) };
  return { error: 'must be an address in decimal or 0x hex (such as 0x1000), or empty for the real addresses' };
}

function syncKnobs() {
  $('policy').value = app.cfg.policy;
  $('order').value = app.cfg.order || 'addr';
  $('coalesce').checked = app.cfg.coalesce !== false;
  $('header').value = String(app.cfg.header);
  $('align').value = String(app.cfg.align);
  $('heap-size').value = app.cfg.heapSize ? String(app.cfg.heapSize) : '';
  $('base').value = app.cfg.base != null ? hex(app.cfg.base) : '';
  updateKnobs();
}

async function knobsChanged(what) {
  const before = { ...app.cfg };
  const hs = $('heap-size').value.trim().replace(/[_,\s]/g, '');
  if (hs && !/^\d+$/.test(hs)) {
    setStatus(`Error: the fixed heap size must be a number of bytes, got "${$('heap-size').value}"`, 'The settings are unchanged.', true);
    $('heap-size').value = before.heapSize ? String(before.heapSize) : '';
    return;
  }
  const base = parseBase($('base').value);
  if (base.error) {
    setStatus(`Error: the base address ${base.error}, got "${$('base').value}"`, 'The settings are unchanged.', true);
    $('base').value = before.base != null ? hex(before.base) : '';
    return;
  }
  app.cfg = {
    policy: $('policy').value,
    order: $('order').value,
    coalesce: $('coalesce').checked,
    header: Number($('header').value),
    align: Number($('align').value),
    heapSize: hs ? Number(hs) : null,
    base: base.value,
  };
  updateKnobs();
  await resyncCompare();
  const r = await rebuild({ step: app.pos, note: `Policy ${app.cfg.policy}${what === 'policy' ? '' : `, ${what} changed`}: replayed ${num(app.pos)} of the steps.` });
  if (r.error) {
    app.cfg = before;
    syncKnobs();
    await resyncCompare();
    await rebuild({ step: app.pos });
    setStatus(`Error: ${r.error}`, 'The settings are back as they were.', true);
  }
}

// ---------------------------------------------------------------- wiring

function wire() {
  $('run-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (app.busy) return;
    const input = $('statement');
    const stmt = input.value.trim();
    if (!stmt) return;
    const r = runStatement(stmt);
    if (r.ok) input.value = '';
    else input.select();
  });
  const runScript = () => {
    if (app.busy) return;
    if (app.source.kind !== 'script') { setStatus('This trace is read-only here: open a script or a scenario to edit one.', ''); return; }
    useSource({ kind: 'script', text: $('script').value, name: app.source.name }, { note: 'Ran the script.' });
  };
  $('run-script').addEventListener('click', runScript);
  $('script').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); runScript(); }
  });
  $('script').addEventListener('input', () => {
    app.edited = true;
    renderErrors();
  });
  $('script').addEventListener('scroll', () => {
    const m = $('script-mirror');
    m.scrollTop = $('script').scrollTop;
    m.scrollLeft = $('script').scrollLeft;
  });
  $('reset').addEventListener('click', () => useSource({ kind: 'script', text: '' }, { note: 'Emptied the heap.' }));
  $('open-library').addEventListener('click', () => {
    const v = $('library').value;
    if (v.startsWith('s:')) openScenario(v.slice(2));
    else openTrace(v.slice(2));
  });
  $('file').addEventListener('change', () => {
    const f = $('file').files[0];
    openFile(f).finally(() => { $('file').value = ''; });
  });
  const drop = document.body;
  drop.addEventListener('dragover', (e) => { e.preventDefault(); $('drop').classList.add('dragging'); });
  drop.addEventListener('dragleave', (e) => { if (e.target === document.body || e.target === drop) $('drop').classList.remove('dragging'); });
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    $('drop').classList.remove('dragging');
    if (!app.busy && e.dataTransfer?.files?.length) openFile(e.dataTransfer.files[0]);
  });
  for (const id of ['policy', 'order', 'coalesce', 'header', 'align']) {
    $(id).addEventListener('change', () => knobsChanged(id === 'policy' ? 'policy' : id));
  }
  $('heap-size').addEventListener('change', () => knobsChanged('heap size'));
  $('base').addEventListener('change', () => knobsChanged('base address'));
  $('share').addEventListener('click', share);
  $('first').addEventListener('click', () => { stopPlaying(); goTo(0); });
  $('back').addEventListener('click', () => { stopPlaying(); goTo(app.pos - 1); });
  $('forward').addEventListener('click', () => { stopPlaying(); goTo(app.pos + 1); });
  $('last').addEventListener('click', () => { stopPlaying(); goTo(app.steps); });
  $('play').addEventListener('click', togglePlay);
  $('speed').addEventListener('change', () => { if (app.playing) { stopPlaying(); togglePlay(); } });
  $('goto-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = $('goto').value.trim().replace(/[_,\s]/g, '');
    if (!/^\d+$/.test(v)) { setStatus(`Error: "${$('goto').value}" is not a step number (0 to ${num(app.steps)})`, '', true); return; }
    stopPlaying();
    goTo(Number(v));
  });
  $('compare-options').addEventListener('change', (e) => {
    const boxes = [...$('compare-options').querySelectorAll('input:checked')].map((b) => b.value);
    if (boxes.length > 3) { e.target.checked = false; setStatus('Compare up to 3 policies at a time.', ''); return; }
    setCompare(boxes);
  });
  let pending = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      if (!app.last || app.busy) return;
      app.map.clampView();
      app.map.draw();
      renderCompare();
      if (app.cfg.policy === 'buddy') drawBuddy(buddyCanvas(), app.last, app.map.changed);
    });
  }).observe($('canvas-box'));
}

function fillPolicies(list) {
  app.policies = list;
  const opts = list.map((p) => {
    const o = document.createElement('option');
    o.value = p.name;
    o.textContent = `${p.name} — ${POLICY_NAMES[p.name] || p.name}`;
    o.dataset.description = p.description || '';
    return o;
  });
  $('policy').replaceChildren(...opts);
}

async function main() {
  performance.mark('heaptale:main');
  try {
    app.glue = await instance(0);
    performance.mark('heaptale:engine');
  } catch (e) {
    setStatus(`Error: could not load the WebAssembly module (${errText(e)}). Build it with "make build".`, '', true);
    document.documentElement.dataset.state = 'error';
    return;
  }
  fillPolicies(Array.from(app.glue.policies(), (p) => ({ name: String(p.name), description: String(p.description), has_order: Boolean(p.has_order) })));
  fillLibrary();
  app.map = new HeapMap($('heap-canvas'));
  app.process = new ProcessView($('process'), $('status-detail'), { options: processOptionsFromHash(location.hash).options, onChange: scheduleUrl });
  app.slider = new Slider($('slider'), {
    label: 'Timeline step',
    valueText: (v) => {
      if (!app.model || v === 0) return `step 0 of ${app.steps}: the heap as made`;
      try { const s = app.model.heap.stepInfo(v); return `step ${v} of ${app.steps}: ${s.text}${s.error ? ' (failed)' : ''}`; } catch { return `step ${v}`; }
    },
    onChange: (v) => { if (app.busy) return; stopPlaying(); goTo(v); },
  });
  wire();
  wireMap();
  renderCompareOptions();
  syncKnobs();

  const { state, error } = await decodeState(location.hash, TRACES.map((t) => t.id));
  let ok = false;
  if (state) ok = await applyUrl(state);
  if (!ok) {
    if (error) notice(`This link could not be read: ${error}. Showing the default program instead.`);
    else if (state) notice('The linked state could not be opened. Showing the default program instead.');
    app.cfg = { ...DEFAULT_CONFIG };
    syncKnobs();
    await useSource({ kind: 'script', text: DEFAULT_SCRIPT });
    if (error) setStatus(`Error: this link could not be read: ${error}.`, 'Showing the default program instead; everything works as usual.', true);
  }
  document.documentElement.dataset.state = 'ready';
}

main();
