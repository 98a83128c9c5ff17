// heaptale playground (first cut): runs C-like statements against the real
// allocator compiled to WebAssembly and draws its heap. Plain ES module, no
// bundler; the wasm-pack output is served at /pkg/ next to /www/.
//
// One heap per WebAssembly instance (memory.grow belongs to one linear
// memory): a new Heap replaces the live one and starts at the same address, so
// switching policy or emptying the heap makes a new Heap and replays the
// statements run so far.

const PKG_URL = new URL('../pkg/heaptale.js', import.meta.url).href;
const WASM_URL = new URL('../pkg/heaptale_bg.wasm', import.meta.url).href;

// Shows a split (d reuses part of b's hole), a coalesce (freeing d merges it
// with a and with the rest of b's hole) and another split (e carves the merged
// hole). c keeps the top of the heap busy.
export const DEFAULT_SCRIPT = [
  'a = malloc(24)',
  'b = malloc(40)',
  'c = malloc(16)',
  'free(b)',
  'd = malloc(16)',
  'free(a)',
  'free(d)',
  'e = malloc(8)',
];

const COLORS = {              // Okabe–Ito
  used: '#0072B2',            // blue
  usedText: '#ffffff',
  free: '#E69F00',            // orange, hatched
  freeBg: '#FFF1D0',
  freeText: '#000000',
  header: 'rgba(0, 0, 0, 0.45)',
  unused: '#8c8c8c',          // grey dots
  unusedBg: '#f0f0f0',
  last: '#CC79A7',            // reddish purple outline
  brk: '#D55E00',             // vermillion marker (with a label)
  text: '#1a1a1a',
  grid: '#c8c8c8',
};

const $ = (id) => document.getElementById(id);
const hex = (n) => '0x' + Number(n).toString(16);
const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');

const state = {
  engine: null,        // the pkg module (one WebAssembly instance)
  heap: null,
  policy: null,
  history: [],         // statements run on the current heap, in order
  lastAddr: null,
  busy: false,
};

// ---------------------------------------------------------------- engine

async function loadEngine() {
  const engine = await import(PKG_URL);
  await engine.default({ module_or_path: WASM_URL });
  return engine;
}

// A new heap in this instance; the engine releases the old one (its pages are
// reused from the same start address).
function newHeap(policy) {
  const heap = new state.engine.Heap(policy ? { policy } : {});
  state.heap = heap;
  state.policy = policy;
  state.history = [];
  state.lastAddr = null;
  $('steps').replaceChildren();
}

// ---------------------------------------------------------------- steps

function callName(stmt) {
  const m = /([A-Za-z_]\w*)\s*\(/.exec(stmt);
  return m ? m[1] : stmt.trim();
}

// Runs one statement; returns { stmt, ok, addr, text, error }.
function runStatement(stmt) {
  let r;
  try {
    r = state.heap.run(stmt);
  } catch (e) { // run() reports errors as values; be safe anyway
    r = { error: e && e.message ? e.message : String(e) };
  }
  const error = r && r.error != null && r.error !== '' ? String(r.error) : null;
  const addr = r && r.addr != null && r.addr !== undefined ? Number(r.addr) : null;
  const text = r && r.text != null ? String(r.text) : '';
  let checkError = null;
  try { state.heap.check(); } catch (e) { checkError = e && e.message ? e.message : String(e); }
  state.history.push(stmt);
  if (!error && addr !== null) state.lastAddr = addr;
  const step = { stmt, ok: !error && !checkError, addr, text, error: error || checkError, checkError };
  addStepToLog(step);
  return step;
}

function describe(step) {
  if (step.checkError) return `Heap check failed after ${step.stmt}: ${step.checkError}`;
  if (step.error) {
    // the engine's message often starts with the call already ("free(x): double free ...")
    return step.error.includes(`${callName(step.stmt)}(`) || step.error.includes(step.stmt)
      ? `Error: ${step.error}` : `Error: ${step.stmt}: ${step.error}`;
  }
  const call = callName(step.stmt);
  return step.addr !== null
    ? `${call}: ${step.stmt} returned ${hex(step.addr)}`
    : `${call}: ${step.stmt} done`;
}

function setStatus(step, prefix = '') {
  const status = $('status');
  const main = document.createElement('span');
  main.className = 'status-main';
  main.textContent = prefix + describe(step);
  const parts = [main];
  if (step.text && step.text !== step.stmt && !step.error) {
    const detail = document.createElement('span');
    detail.className = 'status-detail';
    detail.textContent = step.text;
    parts.push(detail);
  }
  status.replaceChildren(...parts);
  status.classList.toggle('is-error', !step.ok);
  status.classList.remove('flash');
  if (!reducedMotion.matches) {
    void status.offsetWidth; // restart the animation
    status.classList.add('flash');
  }
  $('statement').setAttribute('aria-invalid', step.ok ? 'false' : 'true');
}

function setStatusText(text, isError = false) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('is-error', isError);
}

function addStepToLog(step) {
  const li = document.createElement('li');
  li.className = step.ok ? 'step' : 'step is-error';
  const code = document.createElement('code');
  code.textContent = step.stmt;
  li.append(code, ' ');
  const out = document.createElement('span');
  out.className = 'step-result';
  out.textContent = step.error ? `error: ${step.error}` : step.addr !== null ? `→ ${hex(step.addr)}` : '✓';
  li.append(out);
  const list = $('steps');
  list.append(li);
  while (list.children.length > 500) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

// ---------------------------------------------------------------- reading the heap

function snapshot() {
  const h = state.heap;
  const blocks = Array.from(h.blocks(), (b) => ({
    addr: Number(b.addr),
    size: Number(b.size),
    requested: Number(b.requested ?? 0),
    used: Boolean(b.used),
    header: Number(b.header ?? 0),
    payload: b.payload == null ? null : Number(b.payload),
  }));
  const heapStart = Number(h.heapStart());
  const brk = Number(h.brk());
  const memoryBytes = Number(h.memoryBytes());
  // Do block addresses name the header or the payload? Find out from the
  // tiling (the first block starts at heap start either way).
  const payloadAddressed = blocks.length > 0 && blocks[0].addr !== heapStart &&
    blocks[0].addr - blocks[0].header === heapStart;
  for (const b of blocks) {
    b.start = payloadAddressed ? b.addr - b.header : b.addr;
    if (b.payload === null) b.payload = b.start + b.header;
  }
  const freeList = Array.from(h.freeList(), (e) => [Number(e[0]), Number(e[1])]);
  const stats = h.stats();
  let module = null;
  try { if (state.engine.moduleMemory) module = state.engine.moduleMemory(); } catch { /* optional */ }
  return { blocks, heapStart, brk, memoryBytes, freeList, stats, module };
}

// ---------------------------------------------------------------- drawing

let patterns = null;
function makePatterns(ctx, dpr) {
  const tile = (size, draw) => {
    const c = document.createElement('canvas');
    c.width = c.height = Math.round(size * dpr);
    const g = c.getContext('2d');
    g.scale(dpr, dpr);
    draw(g, size);
    return ctx.createPattern(c, 'repeat');
  };
  return {
    dpr,
    free: tile(8, (g, s) => {
      g.fillStyle = COLORS.freeBg; g.fillRect(0, 0, s, s);
      g.strokeStyle = COLORS.free; g.lineWidth = 2.2;
      g.beginPath();
      g.moveTo(-2, s + 2); g.lineTo(s + 2, -2);
      g.moveTo(-2, 2); g.lineTo(2, -2);
      g.moveTo(s - 2, s + 2); g.lineTo(s + 2, s - 2);
      g.stroke();
    }),
    unused: tile(6, (g, s) => {
      g.fillStyle = COLORS.unusedBg; g.fillRect(0, 0, s, s);
      g.fillStyle = COLORS.unused;
      g.beginPath(); g.arc(s / 2, s / 2, 1, 0, Math.PI * 2); g.fill();
    }),
  };
}

// Bytes per row of the detail view: about 1.5 px a byte or more (a power of
// two), doubled while the heap would need more than 16 rows.
function rowBytesFor(span, barW) {
  let rb = 64;
  while (rb * 2 * 1.5 <= barW) rb *= 2;
  while (span / rb > 16) rb *= 2;
  return rb;
}

function draw(snap) {
  const canvas = $('heap-canvas');
  const box = $('canvas-box');
  const width = Math.max(200, Math.floor(box.clientWidth));
  const dpr = window.devicePixelRatio || 1;
  const { blocks, heapStart, brk, memoryBytes } = snap;

  const gutter = 64;               // row address labels
  const barW = width - gutter - 4;
  const overviewH = 22;
  const top = 18;                  // labels above the overview bar
  const detailTop = top + overviewH + 30;
  const rowH = 26;
  const span = Math.max(0, brk - heapStart);
  const rowBytes = rowBytesFor(span, barW);
  $('row-bytes').textContent = String(rowBytes);
  const rows = Math.max(1, Math.ceil(span / rowBytes));
  const height = detailTop + rows * rowH + 8;

  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  if (!patterns || patterns.dpr !== dpr) patterns = makePatterns(ctx, dpr);
  ctx.clearRect(0, 0, width, height);
  ctx.font = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
  ctx.textBaseline = 'middle';

  // --- overview: heap start .. memory.size, to scale
  const total = Math.max(1, memoryBytes - heapStart);
  const ox = (a) => gutter + ((a - heapStart) / total) * barW;
  ctx.fillStyle = COLORS.text;
  ctx.textAlign = 'left';
  ctx.fillText('grown', 0, top + overviewH / 2);
  ctx.fillStyle = patterns.unused;
  ctx.fillRect(gutter, top, barW, overviewH);
  for (const b of blocks) {
    const x0 = ox(b.start);
    const w = Math.max(1, ox(b.start + b.size) - x0);
    ctx.fillStyle = b.used ? COLORS.used : patterns.free;
    ctx.fillRect(x0, top, w, overviewH);
  }
  ctx.strokeStyle = COLORS.text; ctx.lineWidth = 1;
  ctx.strokeRect(gutter + 0.5, top + 0.5, barW - 1, overviewH - 1);
  // break marker
  const bx = Math.round(ox(brk)) + 0.5;
  ctx.strokeStyle = COLORS.brk; ctx.lineWidth = 2;
  ctx.beginPath(); ctx.moveTo(bx, top - 4); ctx.lineTo(bx, top + overviewH + 4); ctx.stroke();
  ctx.fillStyle = COLORS.text;
  ctx.textAlign = 'left';
  ctx.fillText(hex(heapStart), gutter, top - 9);
  ctx.textAlign = 'right';
  ctx.fillText(`memory.size ${hex(memoryBytes)}`, gutter + barW, top + overviewH + 11);
  const brkLabel = `brk ${hex(brk)}`;
  const brkW = ctx.measureText(brkLabel).width;
  ctx.textAlign = 'left';
  ctx.fillStyle = COLORS.brk;
  ctx.fillText(brkLabel, Math.min(Math.max(gutter, bx - brkW / 2), gutter + barW - brkW), top + overviewH + 11 + (bx > gutter + barW - 150 ? 12 : 0));

  // --- detail: heap start .. break, wrapped in rows of rowBytes
  const px = barW / rowBytes;
  ctx.textAlign = 'left';
  ctx.fillStyle = COLORS.text;
  for (let r = 0; r < rows; r++) {
    ctx.fillText(hex(heapStart + r * rowBytes), 0, detailTop + r * rowH + rowH / 2 - 1);
  }
  // past the break, to the end of the last row: grown but unused
  const endOff = span;
  const lastRowEnd = rows * rowBytes;
  if (endOff < lastRowEnd) {
    segments(endOff, lastRowEnd - endOff, rowBytes, (r, o, len) => {
      ctx.fillStyle = patterns.unused;
      ctx.fillRect(gutter + o * px, detailTop + r * rowH, len * px, rowH - 4);
    });
  }
  if (span === 0) {
    ctx.fillStyle = COLORS.text;
    ctx.fillText('the heap is empty: the break is at heap start', gutter + 6, detailTop + rowH / 2 - 2);
  }
  for (const b of blocks) {
    const off = b.start - heapStart;
    const hdr = Math.min(b.header, b.size);
    segments(off, b.size, rowBytes, (r, o, len) => {
      const x = gutter + o * px;
      const y = detailTop + r * rowH;
      ctx.fillStyle = b.used ? COLORS.used : patterns.free;
      ctx.fillRect(x, y, len * px, rowH - 4);
    });
    if (hdr > 0) {
      segments(off, hdr, rowBytes, (r, o, len) => {
        ctx.fillStyle = COLORS.header;
        ctx.fillRect(gutter + o * px, detailTop + r * rowH + rowH - 10, len * px, 6);
      });
    }
    // boundary between blocks
    const r0 = Math.floor(off / rowBytes);
    const x0 = gutter + (off % rowBytes) * px;
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(x0, detailTop + r0 * rowH, 1.5, rowH - 4);
    // size label when it fits
    const label = String(b.size);
    const firstLen = Math.min(b.size, rowBytes - (off % rowBytes));
    if (ctx.measureText(label).width + 6 < firstLen * px) {
      ctx.fillStyle = b.used ? COLORS.usedText : COLORS.freeText;
      if (!b.used) { // keep text legible over the hatch
        const tw = ctx.measureText(label).width;
        ctx.fillStyle = COLORS.freeBg;
        ctx.fillRect(x0 + 3, detailTop + r0 * rowH + 2, tw + 4, 13);
        ctx.fillStyle = COLORS.freeText;
      }
      ctx.fillText(label, x0 + 5, detailTop + r0 * rowH + 9);
    }
  }
  // last step's block, outlined
  if (state.lastAddr !== null) {
    const b = blocks.find((x) => isLast(x));
    if (b) {
      ctx.strokeStyle = COLORS.last; ctx.lineWidth = 3;
      segments(b.start - heapStart, b.size, rowBytes, (r, o, len) => {
        ctx.strokeRect(gutter + o * px + 1.5, detailTop + r * rowH + 1.5, len * px - 3, rowH - 7);
      });
    }
  }

  const used = blocks.filter((b) => b.used).length;
  canvas.setAttribute('aria-label',
    `Heap map: ${blocks.length} blocks (${used} used, ${blocks.length - used} free) from ${hex(heapStart)} ` +
    `to the break at ${hex(brk)}; memory grown to ${hex(memoryBytes)}. The block list below has the same content.`);
}

// Is this the block that the last step returned (by payload or block address)?
function isLast(b) {
  const a = state.lastAddr;
  return a !== null && b.used && (b.payload === a || b.addr === a);
}

// Splits [off, off+len) into pieces that each lie in one row.
function segments(off, len, rowBytes, fn) {
  let o = off;
  const end = off + len;
  while (o < end) {
    const r = Math.floor(o / rowBytes);
    const inRow = o % rowBytes;
    const n = Math.min(end - o, rowBytes - inRow);
    fn(r, inRow, n);
    o += n;
  }
}

// ---------------------------------------------------------------- lists

function renderLists(snap) {
  const items = snap.blocks.map((b) => {
    const li = document.createElement('li');
    li.className = b.used ? 'block used' : 'block free';
    if (isLast(b)) li.classList.add('last');
    li.textContent = `${b.used ? 'used' : 'free'}, ${hex(b.addr)}, ${b.size} bytes`;
    if (b.used && b.requested) li.title = `${b.requested} bytes requested, ${b.header}-byte header`;
    return li;
  });
  $('blocks').replaceChildren(...items);

  const fl = snap.freeList.map(([addr, size]) => {
    const li = document.createElement('li');
    li.textContent = `${hex(addr)}, ${size} bytes`;
    return li;
  });
  if (fl.length === 0) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'empty';
    fl.push(li);
  }
  $('free-list').replaceChildren(...fl);

  const s = snap.stats || {};
  const num = (v) => (v === undefined || v === null ? '–' : Number(v).toLocaleString('en'));
  const util = s.utilization === undefined ? '–' : `${(Number(s.utilization) * (Number(s.utilization) <= 1 ? 100 : 1)).toFixed(1)} %`;
  const rows = [
    ['policy', state.policy ?? 'default'],
    ['heap start', hex(snap.heapStart)],
    ['break (brk)', hex(snap.brk)],
    ['memory.size', `${hex(snap.memoryBytes)} (${snap.memoryBytes / 65536} pages)`],
    ['live bytes', num(s.live_bytes)],
    ['heap bytes', num(s.heap_bytes)],
    ['free bytes', num(s.free_bytes)],
    ['free blocks', num(s.free_blocks)],
    ['largest free', num(s.largest_free)],
    ['utilization', util],
  ];
  if (snap.module) {
    const m = snap.module;
    rows.push(['module arena', `${hex(m.arena_start)}–${hex(m.arena_end)} (${num(m.arena_used)} bytes used)`]);
  }
  $('stats').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    return [dt, dd];
  }));
}

function render() {
  let snap;
  try {
    snap = snapshot();
  } catch (e) {
    setStatusText(`Error: cannot read the heap: ${e && e.message ? e.message : e}`, true);
    return;
  }
  draw(snap);
  renderLists(snap);
}

// ---------------------------------------------------------------- actions

function runAndShow(stmt) {
  const step = runStatement(stmt);
  render();
  setStatus(step);
  return step;
}

function resetHeap({ replay = [], script = [], note = '' } = {}) {
  state.busy = true;
  setEnabled(false);
  try {
    try {
      newHeap(state.policy ?? ($('policy').value || null));
    } catch (e) {
      setStatusText(`Error: new Heap: ${e && e.message ? e.message : e}`, true);
      return;
    }
    let last = null;
    for (const stmt of [...replay, ...script]) last = runStatement(stmt);
    render();
    if (last) setStatus(last, note ? `${note} Last: ` : '');
    else setStatusText(note || 'The heap is empty.');
  } finally {
    state.busy = false;
    setEnabled(true);
  }
}

function setEnabled(on) {
  for (const id of ['statement', 'run', 'policy', 'default-script', 'reset']) $(id).disabled = !on;
}

function fillPolicies(list) {
  const select = $('policy');
  const opts = list.map((p) => {
    const o = document.createElement('option');
    o.value = String(p.name);
    o.textContent = String(p.name);
    o.dataset.description = p.description ? String(p.description) : '';
    return o;
  });
  select.replaceChildren(...opts);
  showPolicyDescription();
}

function showPolicyDescription() {
  const o = $('policy').selectedOptions[0];
  $('policy-description').textContent = o && o.dataset.description ? o.dataset.description : '';
}

async function main() {
  let engine;
  try {
    engine = await loadEngine();
  } catch (e) {
    setStatusText(`Error: could not load the WebAssembly module (${e && e.message ? e.message : e}). Build it with "make build".`, true);
    document.documentElement.dataset.state = 'error';
    return;
  }
  try {
    fillPolicies(Array.from(engine.policies()));
  } catch (e) {
    fillPolicies([]);
  }
  state.policy = $('policy').value || null;
  state.engine = engine;
  resetHeap({ script: DEFAULT_SCRIPT });

  $('run-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (state.busy) return;
    const input = $('statement');
    const stmt = input.value.trim();
    if (!stmt) return;
    const step = runAndShow(stmt);
    if (step.ok) input.value = '';
    else input.select();
  });

  $('policy').addEventListener('change', () => {
    showPolicyDescription();
    const policy = $('policy').value;
    const replay = state.history.slice();
    state.policy = policy;
    resetHeap({ replay, note: `Policy ${policy}: replayed ${replay.length} statements.` });
  });

  $('reset').addEventListener('click', () => resetHeap({ note: 'Emptied the heap (a fresh WebAssembly instance).' }));
  $('default-script').addEventListener('click', () => resetHeap({ script: DEFAULT_SCRIPT, note: 'Ran the default script.' }));

  let pending = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => { if (state.heap && !state.busy) render(); });
  }).observe($('canvas-box'));

  document.documentElement.dataset.state = 'ready';
}

main();
