// <heap-tale>: a live heaptale heap for any page, set up in one line.
//
//   <script type="module" src="/www/element/heap-tale.js"></script>
//   <heap-tale policy="first" panels="heap,free-lists,stats" height="320" step="end">
//     <script type="text/x-heaptale">
//   a = malloc(24)
//   free(a)
//     </script>
//   </heap-tale>
//
// Each element runs its own WebAssembly instance of the engine (the glue at
// ../../pkg/heaptale.js from this file, or the `wasm` attribute), so several on a
// page never share a heap. It works under a strict Content-Security-Policy: no
// eval, no inline script or style (its stylesheet is built through the CSSOM),
// and user text only ever goes in as text. docs/EMBEDDING.md documents every
// attribute, property and event.

import { HeapModel, blockAt, blockIndexAt, blockState, listRank, quickBlockSize, topBlock, TOP_LIST, QUICK_LIST } from '../js/engine.js';
import { HeapMap } from '../js/heapmap.js';
import { narrate, hex, POLICY_NAMES } from '../js/narrate.js';
import { renderHex } from '../js/hexview.js';
import { Slider } from '../js/slider.js';
import { decodeState, POLICIES } from '../js/url.js';
import { DEFAULT_SCRIPT, SCENARIOS, TRACES, traceUrl } from '../js/scenarios.js';
import { processOptionsFromHash, ProcessCard } from '../js/process.js';
import { acquire, release, resolveUrls } from './loader.js';
import { CSS } from './style.js';

export const PANELS = ['heap', 'free-lists', 'pages', 'process', 'stats', 'console', 'hex'];
export const DEFAULT_PANELS = ['heap', 'free-lists', 'stats'];
const KNOBS = ['policy', 'order', 'coalesce', 'header', 'align', 'heap-size', 'base'];
const SOURCE_ATTRS = ['script', 'src', 'trace', 'cut', 'extra'];
/** The simulated process's knobs, as in the playground's links (js/process.js). */
const PROCESS_KNOBS = ['vm', 'phys', 'repl', 'tlb', 'mmap', 'others'];
/** The narrowest a heap's column gets before the columns wrap (px). */
const MIN_COL = 280;
const DEFAULTS = { policy: 'first', order: 'addr', coalesce: true, header: 8, align: 8, heapSize: null, base: null };
/** The largest program read from `src` (bytes). */
const MAX_SOURCE = 64 << 20;
/** Blocks listed as text (the map draws them all). */
const BLOCKS_SHOWN = 200;

const num = (v) => Number(v).toLocaleString('en');
const pct = (v) => `${(v * 100).toFixed(1)} %`;
const kib = (b) => (b >= 1 << 30 ? `${+(b / 2 ** 30).toFixed(1)} GiB` : b >= 1 << 20 ? `${+(b / 2 ** 20).toFixed(1)} MiB` : `${+(b / 1024).toFixed(1)} KiB`);
const errText = (e) => (e && e.message ? e.message : String(e));
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};

let sheet = null;
function styles(root) {
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
    root.adoptedStyleSheets = [sheet];
  } else {
    // older browsers: a <style> element (a strict CSP would refuse it there)
    root.append(el('style', null, CSS));
  }
}

/** Strips the indentation common to every non-blank line (scripts nested in HTML). */
export function dedent(text) {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  while (lines.length && !lines[0].trim()) lines.shift();
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  let indent = Infinity;
  for (const l of lines) if (l.trim()) indent = Math.min(indent, /^[ \t]*/.exec(l)[0].length);
  if (!Number.isFinite(indent)) indent = 0;
  return lines.map((l) => l.slice(indent)).join('\n') + (lines.length ? '\n' : '');
}

/**
 * The settings an element's attributes ask for, checked with the playground's
 * own URL-state decoder (so the names, values and messages are the same):
 * {config, policies, step, panels, height, error}.
 */
export async function readSettings(get) {
  const p = new URLSearchParams();
  for (const k of KNOBS) { const v = get(k); if (v != null) p.set(k, v.trim()); }
  if (!p.has('policy')) p.set('policy', DEFAULTS.policy);
  const policy = p.get('policy');
  const compareRaw = (get('compare') || '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of compareRaw) {
    if (!POLICIES.includes(c)) return { error: `compare: unknown policy "${c}" (expected one of ${POLICIES.join(', ')})` };
  }
  const compare = [...new Set(compareRaw)].filter((c) => c !== policy);
  if (compare.length > 3) return { error: 'compare: at most 4 heaps side by side (the policy and 3 more)' };
  const { state, error } = await decodeState('#' + p.toString(), []);
  if (error) return { error };
  const config = { ...DEFAULTS, ...state.config };

  let step = 'end';
  const s = (get('step') ?? '').trim();
  if (s && s !== 'end') {
    if (!/^\d+$/.test(s)) return { error: `step must be a step number or "end", got "${s}"` };
    step = Number(s);
  }
  let panels = DEFAULT_PANELS;
  const pv = get('panels');
  if (pv != null && pv.trim()) {
    panels = pv.split(',').map((x) => x.trim()).filter(Boolean);
    for (const x of panels) {
      if (!PANELS.includes(x)) return { error: `panels: unknown panel "${x}" (expected some of ${PANELS.join(', ')})` };
    }
  }
  let height = null;
  const hv = (get('height') ?? '').trim();
  if (hv && hv !== 'auto') {
    const m = /^(\d+)(px)?$/.exec(hv);
    if (!m || Number(m[1]) < 80 || Number(m[1]) > 10000) return { error: `height must be a number of pixels from 80 to 10000, or "auto", got "${hv}"` };
    height = Number(m[1]);
  }
  const pp = new URLSearchParams();
  for (const k of PROCESS_KNOBS) { const v = get(k); if (v != null) pp.set(k, v.trim()); }
  const proc = processOptionsFromHash(pp.toString());
  if (proc.errors.length) return { error: `unknown ${proc.errors.join(', ')} for the simulated process` };
  const walk = (get('walk') ?? '').trim() || null;
  if (walk && !/^(0x[0-9a-f]+|\d+)$/i.test(walk)) return { error: `walk must be an address in decimal or 0x hex, got "${walk}"` };
  return { config, policies: [config.policy, ...compare], step, panels, height, process: proc.options, walk, error: null };
}

let uid = 0;

/** The playground's heap map with as many rows as the element's height allows. */
class ElementMap extends HeapMap {
  maxRows() { return this.rowsWanted ?? super.maxRows(); }
}

export class HeapTaleElement extends HTMLElement {
  static get observedAttributes() {
    return [...KNOBS, ...SOURCE_ATTRS, ...PROCESS_KNOBS, 'step', 'panels', 'height', 'compare', 'readonly', 'title', 'wasm', 'walk'];
  }

  constructor() {
    super();
    this._uid = ++uid;
    this._root = this.attachShadow({ mode: 'open' });
    styles(this._root);
    this._cols = [];          // [{policy, glue, model, map, process, els, narration, last}]
    this._urls = null;        // {glue, wasm}
    this._gen = 0;
    this._chain = Promise.resolve();
    this._pending = null;     // 'render' | 'seek' | 'load'
    this._edited = null;      // a script typed into the console's editor
    this._pos = 0;
    this._steps = 0;
    this._selected = -1;
    this._settings = null;
    this._state = 'idle';
    this._ready = null;
    this._resolveReady = null;
    this._connected = false;
    this._reduced = window.matchMedia?.('(prefers-reduced-motion: reduce)');
    this._build();
    this._newReady();
  }

  // ------------------------------------------------------------ public API

  /** Resolves when the program has loaded and the heap is drawn (to `this`), or rejects with the error shown. */
  get ready() { return this._ready; }
  /** 'idle' | 'loading' | 'ready' | 'error' (also the `data-state` attribute). */
  get state() { return this._state; }
  /** The step shown (0: the heap as made). Setting it goes there. */
  get step() { return this._pos; }
  set step(n) { this.goTo(n); }
  /** Steps in the program. */
  get steps() { return this._steps; }
  /** The plain-text error shown, or null. */
  get error() { return this._errorText ?? null; }
  /** The engine instance's glue module of the first heap (advanced use: `el.engine.policies()`). */
  get engine() { return this._cols[0]?.glue ?? null; }
  /** The `Heap` of the first heap (advanced use; the element owns it). */
  get heap() { return this._cols[0]?.model?.heap ?? null; }

  /** Goes to step `n` (clamped to 0..steps) in every heap shown. */
  goTo(n) {
    if (this._state !== 'ready') return;
    const v = Math.max(0, Math.min(this._steps, Math.round(Number(n) || 0)));
    this._show(v);
  }

  forward() { this.goTo(this._pos + 1); }
  back() { this.goTo(this._pos - 1); }

  /**
   * The layout of every heap at the step shown, as plain data: [{policy, step,
   * blocks: [{addr, size, requested, state, header}], freeList: [[addr, size]],
   * stats}] (the first is the `policy` attribute's heap).
   */
  layout() {
    return this._cols.filter((c) => c.last).map((c) => {
      const n = c.last.packed.length / 4;
      const blocks = [];
      for (let i = 0; i < n; i++) {
        const b = blockAt(c.last.packed, i);
        blocks.push({ addr: b.addr, size: b.size, requested: b.requested, state: b.used ? 'used' : 'free', header: b.header });
      }
      const f = c.last.free;
      const freeList = [];
      for (let j = 0; j < f.length; j += 3) freeList.push([f[j + 1], f[j + 2]]);
      return { policy: c.policy, step: this._pos, blocks, freeList, stats: { ...c.last.stats } };
    });
  }

  /** Runs one statement after the step shown, in every heap (as the console does): {ok, text, error}. */
  run(statement) { return this._runStatement(String(statement)); }

  // ------------------------------------------------------------ lifecycle

  connectedCallback() {
    this._connected = true;
    if (!this._observer) {
      // a child <script type="text/x-heaptale"> edited later re-runs the element
      this._observer = new MutationObserver(() => { if (this._childScript() !== this._lastChild) this._schedule('load'); });
    }
    this._observer.observe(this, { childList: true, subtree: true, characterData: true });
    if (!this._resize && typeof ResizeObserver === 'function') {
      let raf = 0;
      let lastW = -1;
      this._resize = new ResizeObserver((entries) => {
        const w = Math.round(entries[0].contentRect.width);
        if (w === lastW) return;
        lastW = w;
        cancelAnimationFrame(raf);
        raf = requestAnimationFrame(() => { this._fitColumns(); this._drawMaps(); });
      });
    }
    this._resize?.observe(this);
    this._schedule('load');
  }

  disconnectedCallback() {
    this._connected = false;
    this._observer?.disconnect();
    this._resize?.disconnect();
    // give the instances back once we are sure the element is gone (not just moved)
    queueMicrotask(() => { if (!this._connected) this._chain = this._chain.then(() => this._releaseAll()); });
  }

  attributeChangedCallback(name, oldV, newV) {
    if (oldV === newV || !this._connected) return;
    if (this._state === 'error') this._schedule('load'); // whatever changed may fix it
    else if (name === 'step') this._schedule('seek');
    else if (name === 'walk') { this._walkAddr = null; this._schedule('render'); }
    else if (name === 'panels' || name === 'height' || name === 'readonly' || name === 'title') this._schedule('render');
    else {
      if (SOURCE_ATTRS.includes(name)) this._edited = null;
      this._schedule('load');
    }
  }

  // ------------------------------------------------------------ building the shadow DOM

  _build() {
    const r = this._root;
    const box = el('section', 'ht');
    box.setAttribute('part', 'box');
    box.setAttribute('aria-label', 'heaptale heap');
    this._box = box;
    const title = el('p', 'title');
    title.setAttribute('part', 'title');
    title.hidden = true;
    const settings = el('p', 'settings');
    const bar = el('div', 'bar');
    bar.setAttribute('role', 'group');
    bar.setAttribute('aria-label', 'step controls');
    const mk = (text, label, fn) => {
      const b = el('button', null, text);
      b.type = 'button';
      b.setAttribute('aria-label', label);
      b.addEventListener('click', fn);
      return b;
    };
    const first = mk('|◀', 'Go to step 0', () => this.goTo(0));
    const back = mk('◀', 'Step back', () => this.back());
    const sliderEl = el('div', 'slider');
    const fwd = mk('▶', 'Step forward', () => this.forward());
    const last = mk('▶|', 'Go to the last step', () => this.goTo(this._steps));
    const count = el('span', 'count');
    count.setAttribute('aria-hidden', 'true');
    bar.append(first, back, sliderEl, fwd, last, count);
    this._slider = new Slider(sliderEl, {
      label: 'step',
      onChange: (v) => this.goTo(v),
      valueText: (v) => `step ${num(v)} of ${num(this._steps)}`,
    });
    const narration = el('p', 'narration');
    narration.setAttribute('role', 'status');
    narration.setAttribute('aria-live', 'polite');
    const loading = el('p', 'loading', 'Loading the heap…');
    const error = el('p', 'error');
    error.setAttribute('role', 'alert');
    error.hidden = true;
    const cols = el('div', 'cols');
    const failures = el('ul', 'failures');
    failures.setAttribute('aria-label', 'steps that failed');
    failures.hidden = true;
    const hexPanel = el('div', 'panel hex-panel');
    const hexTitle = el('p', 'panel-title', 'Bytes of the selected block');
    const hexBox = el('div', 'hex-box');
    hexPanel.append(hexTitle, hexBox);
    const consolePanel = this._buildConsole();
    box.append(title, settings, bar, narration, loading, error, failures, cols, hexPanel, consolePanel);
    r.append(box);
    this._els = { title, settings, bar, buttons: { first, back, fwd, last }, count, narration, loading, error, cols, failures, hexPanel, hexBox, consolePanel };
  }

  /** A one-line form: a labelled text input and a submit button (the statement box, the walk box). */
  _textForm(cls, name, labelText, placeholder, buttonText) {
    const form = el('form', cls);
    form.setAttribute('autocomplete', 'off');
    const id = `ht-${this._uid}-${name}`;
    const label = el('label', null, labelText);
    label.htmlFor = id;
    const input = el('input');
    input.id = id;
    input.type = 'text';
    input.spellcheck = false;
    input.placeholder = placeholder;
    const button = el('button', null, buttonText);
    button.type = 'submit';
    form.append(label, input, button);
    return { form, input };
  }

  _buildConsole() {
    const panel = el('div', 'panel console-panel');
    panel.append(el('p', 'panel-title', 'Steps'));
    const steps = el('ol', 'steps');
    steps.setAttribute('aria-label', 'steps');
    steps.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-step]');
      if (b) this.goTo(Number(b.dataset.step));
    });
    const { form, input } = this._textForm('run', 'stmt', 'Statement', 'p = malloc(24)', 'Run');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const r = this._runStatement(input.value);
      if (r.ok) input.value = '';
      input.setAttribute('aria-invalid', r.ok ? 'false' : 'true');
    });
    const details = el('details', 'edit');
    details.append(el('summary', null, 'Edit the script'));
    const taId = `ht-${this._uid}-script`;
    const taLabel = el('label', 'sr-only', 'Script');
    taLabel.htmlFor = taId;
    const ta = el('textarea');
    ta.id = taId;
    ta.spellcheck = false;
    const runScript = el('button', null, 'Run script');
    runScript.type = 'button';
    runScript.addEventListener('click', () => { this._edited = ta.value; this._schedule('load'); });
    ta.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); runScript.click(); }
    });
    details.append(taLabel, ta, runScript);
    panel.append(steps, form, details);
    this._consoleEls = { steps, form, input, details, ta };
    return panel;
  }

  _buildCol(policy, index, many) {
    const section = el('section', 'col');
    const name = POLICY_NAMES[policy] || policy;
    section.setAttribute('aria-label', many ? `${name} heap` : 'heap');
    const heading = el('p', 'col-title', `${policy} (${name})`);
    heading.hidden = !many;
    const note = el('p', 'col-note');
    note.hidden = !many || index === 0;
    const heapPanel = el('div', 'panel heap-panel');
    const mapBox = el('div', 'map-box');
    const canvas = el('canvas');
    canvas.setAttribute('role', 'img');
    // The map takes focus, as the playground's does: arrows move between blocks, the focused
    // block is read out in the line under it, Enter shows its bytes (with the hex panel).
    canvas.tabIndex = 0;
    const helpId = `ht-${this._uid}-map-help-${index}`;
    const help = el('p', 'sr-only', 'Arrow keys move between blocks, Home and End go to the first and last, '
      + 'Enter shows a block\u2019s bytes when the bytes panel is shown, + and \u2212 zoom, Page Up and Page Down move.');
    help.id = helpId;
    canvas.setAttribute('aria-describedby', helpId);
    mapBox.append(canvas, help);
    const focusLine = el('p', 'map-focus');
    focusLine.setAttribute('aria-live', 'polite');
    const blocks = el('ul', 'blocks');
    blocks.setAttribute('aria-label', index === 0 ? 'heap blocks' : `heap blocks under ${name}`);
    const more = el('p', 'more');
    heapPanel.append(mapBox, focusLine, blocks, more);
    canvas.addEventListener('keydown', (e) => {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      if (this._mapKey(index, e.key)) e.preventDefault();
    });
    canvas.addEventListener('blur', () => {
      const c = this._cols[index];
      if (!c?.last || c.map.focus < 0) return;
      c.map.focus = -1;
      c.map.draw();
      focusLine.textContent = '';
    });
    canvas.addEventListener('focus', () => {
      const c = this._cols[index];
      if (!c?.last) return;
      this._focusBlock(index, c.map.focus >= 0 ? c.map.focus : this._selected >= 0 && index === 0 ? this._selected : 0);
    });
    blocks.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-index]');
      if (b) this._select(Number(b.dataset.index), index);
    });
    canvas.addEventListener('click', (e) => {
      const c = this._cols[index];
      if (!c) return;
      const rect = canvas.getBoundingClientRect();
      const i = c.map.hit(e.clientX - rect.left, e.clientY - rect.top);
      if (i >= 0) this._select(i, index);
    });
    const freePanel = el('div', 'panel free-panel');
    freePanel.append(el('p', 'panel-title', 'Free lists'));
    const freeBox = el('div');
    freePanel.append(freeBox);
    const pagesPanel = el('div', 'panel pages-panel');
    pagesPanel.append(el('p', 'panel-title', 'Pages (simulated process)'));
    const pagesBox = el('div');
    pagesPanel.append(pagesBox);
    const processPanel = el('div', 'panel process-panel');
    processPanel.append(el('p', 'panel-title', 'Process (simulated)'));
    const processBox = el('div');
    processPanel.append(processBox);
    let walkEls = null;
    if (index === 0) {
      const { form, input } = this._textForm('run walk-form', 'walk', 'Walk the page tables for', '0x4120008', 'Walk');
      const out = el('div', 'walk-out');
      out.setAttribute('aria-live', 'polite');
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        this._walkAddr = input.value.trim();
        this._renderWalk(this._cols[0], { typed: true });
      });
      processPanel.append(form, out);
      walkEls = { form, input, out };
    }
    const statsPanel = el('div', 'panel stats-panel');
    statsPanel.append(el('p', 'panel-title', 'Figures'));
    const stats = el('dl', 'stats');
    stats.setAttribute('aria-label', index === 0 ? 'figures' : `figures under ${name}`);
    statsPanel.append(stats);
    section.append(heading, note, heapPanel, freePanel, pagesPanel, processPanel, statsPanel);
    const map = new ElementMap(canvas);
    map.arrows = true;
    return { section, heading, note, heapPanel, canvas, focusLine, blocks, more, freePanel, freeBox, pagesPanel, pagesBox, processPanel, processBox, walkEls, statsPanel, stats, map };
  }

  // ------------------------------------------------------------ scheduling

  _newReady() {
    this._ready = new Promise((res, rej) => { this._resolveReady = res; this._rejectReady = rej; });
    this._ready.catch(() => {}); // an error is shown in the element; awaiting is optional
  }

  _setState(s) {
    this._state = s;
    this.dataset.state = s;
  }

  /** Asks for work, the heaviest asked wins; runs once, after the current task. */
  _schedule(kind) {
    const rank = { render: 1, seek: 2, load: 3 };
    if (!this._pending || rank[kind] > rank[this._pending]) this._pending = kind;
    if (kind === 'load') {
      this._gen += 1;
      if (this._state === 'ready' || this._state === 'error') this._newReady();
      this._setState('loading');
    }
    if (this._queued) return;
    this._queued = true;
    queueMicrotask(() => {
      this._queued = false;
      const k = this._pending;
      this._pending = null;
      const gen = this._gen;
      this._chain = this._chain.then(() => this._work(k, gen)).catch((e) => this._fail(errText(e), 'internal'));
    });
  }

  async _work(kind, gen) {
    if (!this._connected) return;
    if (kind === 'load') return this._load(gen);
    if (this._state !== 'ready') return;
    if (kind === 'seek') {
      const r = await readSettings((n) => this.getAttribute(n));
      if (r.error) return this._fail(r.error, 'settings');
      this._settings = r;
      this._show(r.step === 'end' ? this._steps : Math.min(r.step, this._steps));
      return;
    }
    const r = await readSettings((n) => this.getAttribute(n));
    if (r.error) return this._fail(r.error, 'settings');
    this._settings = { ...r, policies: this._settings.policies, config: this._settings.config };
    this._layoutPanels();
    this._show(this._pos, { announce: false });
  }

  _childScript() {
    const s = [...this.children].find((c) => c.localName === 'script' && (c.type || '').toLowerCase() === 'text/x-heaptale');
    return s ? s.textContent : null;
  }

  /** The program to load: {text, cut, extra, name}. */
  async _source() {
    const cut = this.getAttribute('cut');
    let cutN = null;
    if (cut != null && cut.trim() !== '') {
      if (!/^\d+$/.test(cut.trim())) throw new Error(`cut must be a whole number of steps, got "${cut}"`);
      cutN = Number(cut.trim());
    }
    const extra = (this.getAttribute('extra') || '').split('\n').map((l) => l.trim()).filter(Boolean);
    const base = { cut: cutN, extra };
    if (this._edited != null) return { ...base, text: this._edited, name: 'the edited script', kind: 'script' };
    const attr = this.getAttribute('script');
    if (attr != null) return { ...base, text: dedent(attr), name: 'the script attribute', kind: 'script' };
    // then `src`, `trace`, the child <script type="text/x-heaptale">, the default script
    const src = this.getAttribute('src');
    if (src) {
      let url;
      try { url = new URL(src, document.baseURI); } catch { throw new Error(`src: "${src}" is not a URL`); }
      return { ...base, text: await fetchText(url.href, `src "${src}"`), name: src, kind: 'file' };
    }
    const trace = this.getAttribute('trace');
    if (trace) {
      const sc = SCENARIOS.find((s) => s.id === trace);
      if (sc) return { ...base, text: sc.text, name: sc.title, kind: 'script', policy: sc.policy };
      const t = TRACES.find((x) => x.id === trace);
      if (!t) {
        throw new Error(`trace: unknown built-in trace "${trace}" (built in: ${[...SCENARIOS.map((s) => s.id), ...TRACES.map((x) => x.id)].join(', ')})`);
      }
      return { ...base, text: await fetchText(traceUrl(t), `the built-in trace "${trace}"`), name: t.title, kind: 'file' };
    }
    const child = this._childScript();
    this._lastChild = child;
    if (child != null) return { ...base, text: dedent(child), name: 'the script', kind: 'script' };
    return { ...base, text: DEFAULT_SCRIPT, name: 'the default script', kind: 'script' };
  }

  async _load(gen) {
    this._setState('loading');
    this._els.loading.hidden = false;
    const settings = await readSettings((n) => this.getAttribute(n));
    if (gen !== this._gen) return;
    if (settings.error) return this._fail(settings.error, 'settings');
    let urls;
    try { urls = resolveUrls(this.getAttribute('wasm'), document.baseURI); } catch (e) { return this._fail(errText(e), 'settings'); }
    let source;
    try { source = await this._source(); } catch (e) { if (gen === this._gen) this._fail(errText(e), 'source'); return; }
    if (gen !== this._gen) return;
    // instances: one per heap shown; a new wasm URL starts afresh
    if (this._urls && this._urls.glue !== urls.glue) await this._releaseAll();
    this._urls = urls;
    const want = settings.policies.length;
    const many = want > 1;
    while (this._cols.length > want) {
      const c = this._cols.pop();
      this._releaseCol(c);
      c.els.section.remove();
    }
    try {
      while (this._cols.length < want) {
        const glue = await acquire(urls);
        const index = this._cols.length;
        this._cols.push({ glue, els: this._buildCol('first', index, many), model: null, process: null });
      }
    } catch (e) {
      return this._fail(`The engine could not start: ${errText(e)}`, 'engine');
    }
    if (gen !== this._gen) return;
    this._settings = settings;
    // heaps: a new Heap in each instance, the program loaded into each
    for (let i = 0; i < want; i++) {
      const c = this._cols[i];
      const policy = settings.policies[i];
      const fresh = this._buildCol(policy, i, many);
      c.els.section.replaceWith(fresh.section);
      c.els = fresh;
      c.map = fresh.map;
      c.policy = policy;
      c.process?.free?.();
      c.process = null;
      c.model?.release();
      c.model = null;
      c.last = null;
      try {
        c.model = new HeapModel(c.glue, { ...settings.config, policy });
      } catch (e) {
        return this._fail(`The heap cannot be made with these settings: ${errText(e)}`, 'settings');
      }
      const r = await c.model.load(source);
      if (gen !== this._gen) return;
      if (r.error) return this._fail(`${source.name} cannot be loaded: ${r.error}`, 'source');
    }
    this._els.cols.replaceChildren(...this._cols.map((c) => c.els.section));
    this._steps = this._cols[0].model.heap.stepCount();
    this._source_ = source;
    this._failures = this._cols[0].model.heap.failures(100);
    this._selected = -1;
    this._clearError();
    this._setState('ready');
    this._els.loading.hidden = true;
    this._layoutPanels();
    const target = settings.step === 'end' ? this._steps : Math.min(settings.step, this._steps);
    this._show(target, { force: true });
    this._renderFailures();
    if (this._failures.length) {
      const f = this._failures[0];
      this._emitError(`${this._failures.length === 1 ? 'A step' : `${this._failures.length} steps`} failed; the first: ` +
        `${f.line ? `line ${f.line}` : `step ${f.step}`}: ${f.error}`, 'step');
    }
    this._resolveReady(this);
  }

  _releaseCol(c) {
    try { c.process?.free?.(); } catch { /* gone */ }
    c.model?.release();
    if (this._urls) release(this._urls.glue, c.glue);
  }

  async _releaseAll() {
    for (const c of this._cols) { this._releaseCol(c); c.els.section.remove(); }
    this._cols = [];
    if (!this._connected) this._setState('idle');
  }

  _fail(message, kind) {
    this._setState('error');
    this._els.loading.hidden = true;
    this._errorText = message;
    this._els.error.textContent = `Error: ${message}`;
    this._els.error.hidden = false;
    this._els.bar.hidden = true;
    this._els.narration.hidden = true;
    this._els.cols.hidden = true;
    this._els.hexPanel.hidden = true;
    this._els.consolePanel.hidden = true;
    this._els.failures.hidden = true;
    this._emitError(message, kind);
    this._rejectReady(new Error(message));
  }

  _clearError() {
    this._errorText = null;
    this._els.error.hidden = true;
    this._els.error.textContent = '';
    this._els.bar.hidden = false;
    this._els.narration.hidden = false;
    this._els.cols.hidden = false;
  }

  _emitError(message, kind) {
    this.dispatchEvent(new CustomEvent('heaptale-error', { detail: { message, kind }, bubbles: true, composed: true }));
  }

  // ------------------------------------------------------------ showing a step

  _layoutPanels() {
    const s = this._settings;
    const on = new Set(s.panels);
    const t = this.getAttribute('title');
    this._els.title.textContent = t || '';
    this._els.title.hidden = !t;
    this._box.setAttribute('aria-label', t ? `heaptale: ${t}` : 'heaptale heap');
    const c = s.config;
    const knobs = [`policy ${s.policies[0]}`, `order ${c.order}`, `coalesce ${c.coalesce ? 'on' : 'off'}`, `header ${c.header}`, `align ${c.align}`];
    if (c.heapSize) knobs.push(`heap-size ${c.heapSize}`);
    if (c.base != null) knobs.push(`base ${hex(c.base)}`);
    this._els.settings.textContent = knobs.join(' · ') + (s.policies.length > 1 ? ` · compared with ${s.policies.slice(1).join(', ')}` : '');
    for (const col of this._cols) {
      col.els.heapPanel.hidden = !on.has('heap');
      col.els.freePanel.hidden = !on.has('free-lists');
      col.els.pagesPanel.hidden = !on.has('pages');
      col.els.processPanel.hidden = !on.has('process');
      col.els.statsPanel.hidden = !on.has('stats');
    }
    this._els.hexPanel.hidden = !on.has('hex');
    this._els.consolePanel.hidden = !on.has('console');
    const ro = this.hasAttribute('readonly');
    this._consoleEls.form.hidden = ro;
    this._consoleEls.details.hidden = ro || this._source_?.kind !== 'script';
    if (this._source_?.kind === 'script' && this._consoleEls.ta.value !== this._source_.text) this._consoleEls.ta.value = this._source_.text;
    const h = s.height;
    if (h) { this._box.style.height = `${h}px`; } else { this._box.style.removeProperty('height'); }
    // the map's rows: a few in a small element, up to the playground's 20
    const rows = h ? Math.max(3, Math.min(20, Math.floor((h - 200) / 40))) : 8;
    for (const col of this._cols) col.map.rowsWanted = rows;
    this._fitColumns();
  }

  /** Heaps side by side as many as fit (each at least MIN_COL px), the rest wrap below. */
  _fitColumns() {
    const n = this._cols.length || 1;
    const w = this._els.cols.clientWidth || this._box.clientWidth;
    const fit = w ? Math.max(1, Math.min(n, Math.floor((w + 10) / MIN_COL))) : n;
    if (this._els.cols.style.getPropertyValue('--ht-cols') !== String(fit)) this._els.cols.style.setProperty('--ht-cols', String(fit));
  }

  _show(n, { announce = true, force = false } = {}) {
    const changedStep = n !== this._pos || force;
    this._pos = n;
    let mainNar = null;
    let mainInfo = null;
    for (let i = 0; i < this._cols.length; i++) {
      const c = this._cols[i];
      const h = c.model.heap;
      let info;
      try {
        info = h.seek(Math.min(n, h.stepCount()));
      } catch (e) {
        c.narration = { summary: `Error: ${errText(e)}`, detail: '', changed: [], error: true };
        continue;
      }
      const events = h.events();
      c.last = c.model.read();
      c.narration = narrate(info, events, {
        policy: c.policy, header: c.model.cfg.header, coalesce: c.model.cfg.coalesce,
        memoryBytes: c.last.memoryBytes, memoryEnd: c.last.memoryEnd, steps: this._steps,
        top: c.policy === 'heaptale' ? topBlock(c.last.free) : null,
      });
      if (i === 0) { mainNar = c.narration; mainInfo = info; }
    }
    this._render();
    if (mainNar && announce) this._narrate(mainNar);
    this._markStep(mainInfo);
    if (changedStep) {
      this.dispatchEvent(new CustomEvent('heaptale-step', { detail: { step: this._pos, steps: this._steps }, bubbles: true, composed: true }));
    }
  }

  _narrate(nar) {
    const p = this._els.narration;
    const a = el('span', 'summary', nar.summary);
    const parts = [a];
    if (nar.detail) parts.push(' ', el('span', 'detail', nar.detail));
    p.replaceChildren(...parts);
    p.classList.toggle('is-error', Boolean(nar.error));
    p.classList.remove('flash');
    if (!this._reduced?.matches) { void p.offsetWidth; p.classList.add('flash'); }
  }

  _markStep() {
    const b = this._els.buttons;
    b.first.disabled = b.back.disabled = this._pos <= 0;
    b.fwd.disabled = b.last.disabled = this._pos >= this._steps;
    this._slider.setRange(0, this._steps);
    this._slider.set(this._pos);
    this._els.count.textContent = `Step ${num(this._pos)} of ${num(this._steps)}`;
  }

  _render() {
    const on = new Set(this._settings.panels);
    this._cols.forEach((c, i) => {
      if (!c.last) return;
      if (i > 0) {
        c.els.note.textContent = c.narration ? c.narration.summary : '';
      }
      if (on.has('heap')) this._renderHeap(c, i);
      if (on.has('free-lists')) this._renderFree(c);
      if (on.has('stats')) this._renderStats(c);
      if (on.has('pages')) this._renderPages(c);
      if (on.has('process')) this._renderProcess(c, i);
    });
    if (on.has('hex')) this._renderHex();
    if (on.has('console')) this._renderSteps();
  }

  _drawMaps() {
    if (this._state !== 'ready' || !this._settings?.panels.includes('heap')) return;
    for (const c of this._cols) if (c.last) c.map.draw();
  }

  _renderHeap(c, index) {
    const d = c.last;
    const map = c.map;
    map.selected = index === 0 ? this._selected : -1;
    // The map's keyboard focus lasts while the map has focus; the line under it follows the step.
    const mapFocused = this.shadowRoot?.activeElement === c.els.canvas;
    if (!mapFocused) map.focus = -1;
    map.setData({ ...d, changedAddrs: c.narration?.changed || [], header: c.model.cfg.header, policy: c.policy });
    map.draw();
    c.els.focusLine.textContent = mapFocused && map.focus >= 0 ? this._blockWords(c, map.focus) : '';
    const n = d.packed.length / 4;
    let used = 0;
    let quick = 0;
    for (let i = 0; i < n; i++) {
      const w = d.packed[i * 4 + 3];
      if (w & 0x80000000) used++;
      if (w & 0x40000000) quick++;
    }
    c.els.canvas.setAttribute('aria-label', `Heap map${this._cols.length > 1 ? ` under ${POLICY_NAMES[c.policy]}` : ''}: ` +
      `${num(n)} blocks (${num(used)} used${quick ? `, ${num(quick)} of them in quick lists` : ''}, ${num(n - used)} free) from ${hex(d.heapStart)} to the break at ${hex(d.brk)}. ` +
      'The list below names every block.');
    let from = 0;
    if (n > BLOCKS_SHOWN) {
      const anchor = [...map.changed][0] ?? 0;
      from = Math.max(0, Math.min(n - BLOCKS_SHOWN, anchor - BLOCKS_SHOWN / 2));
    }
    const to = Math.min(n, from + BLOCKS_SHOWN);
    const withHex = index === 0 && this._settings.panels.includes('hex');
    const items = [];
    for (let i = from; i < to; i++) {
      const b = blockAt(d.packed, i);
      const li = el('li', b.used ? 'used' : 'free');
      if (b.quick) li.classList.add('quick');
      if (map.changed.has(i)) li.classList.add('changed');
      if (withHex && i === this._selected) li.classList.add('selected');
      const text = `${blockState(b)}, ${hex(b.addr)}, ${b.size} bytes`;
      if (withHex) {
        const btn = el('button', null, text);
        btn.type = 'button';
        btn.dataset.index = String(i);
        btn.setAttribute('aria-pressed', i === this._selected ? 'true' : 'false');
        li.append(btn);
      } else {
        li.textContent = text;
      }
      li.title = b.quick ? `used block in quick list: ${b.header}-byte header; freed, still marked used, waiting for the next malloc of its size`
        : b.used ? `used block: ${b.header}-byte header, ${num(b.requested)} bytes asked for, payload at ${hex(b.addr + b.header)}`
        : `free block: ${b.header}-byte header, free-list links in its payload`;
      items.push(li);
    }
    c.els.blocks.replaceChildren(...items);
    c.els.more.textContent = n > BLOCKS_SHOWN ? `Blocks ${num(from + 1)} to ${num(to)} of ${num(n)} listed (around the last change).` : '';
  }

  _renderFree(c) {
    const f = c.last.free;
    const groups = new Map();
    for (let j = 0; j < f.length; j += 3) {
      if (!groups.has(f[j])) groups.set(f[j], []);
      groups.get(f[j]).push([f[j + 1], f[j + 2]]);
    }
    const out = [];
    if (!groups.size) out.push(el('p', 'help', 'No free block: every list is empty.'));
    // size classes, then the top block, then the quick lists
    const ordered = [...groups].sort((x, y) => listRank(x[0]) - listRank(y[0]));
    for (const [list, entries] of ordered) {
      const name = listName(c.policy, c.model.cfg, list);
      out.push(el('p', 'list-name', `${name}: ${entries.length} block${entries.length === 1 ? '' : 's'}`));
      const ol = el('ol', 'free-list');
      ol.setAttribute('aria-label', name);
      for (const [addr, size] of entries.slice(0, 100)) ol.append(el('li', null, `${hex(addr)}, ${size} bytes`));
      out.push(ol);
      if (entries.length > 100) out.push(el('p', 'more', `… and ${num(entries.length - 100)} more in this list.`));
    }
    c.els.freeBox.replaceChildren(...out);
  }

  _renderStats(c) {
    const d = c.last;
    const s = d.stats;
    const internal = s.used_bytes ? (s.used_bytes - s.live_bytes) / s.used_bytes : 0;
    const rows = [
      ['policy', `${c.policy} (${POLICY_NAMES[c.policy]})`],
      ['heap start', hex(d.heapStart)],
      ['break (brk)', `${hex(d.brk)} (${num(d.brk - d.heapStart)} bytes in)`],
      ['memory.size', `${num(d.memoryBytes / 65536)} pages of 64 KiB`],
      ['live bytes', num(s.live_bytes)],
      ['used blocks', `${num(s.used_blocks)} (${num(s.used_bytes)} bytes)`],
      ['free blocks', `${num(s.free_blocks)} (${num(s.free_bytes)} bytes)`],
      ['largest free block', `${num(s.largest_free)} bytes`],
      ['utilization', pct(s.utilization)],
      ['internal fragmentation', pct(internal)],
      ['external fragmentation', pct(s.external_fragmentation)],
    ];
    c.els.stats.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
  }

  _renderPages(c) {
    const box = c.els.pagesBox;
    try {
      const g = this._process(c).pages();
      const counts = {};
      const ul = el('ul', 'pages');
      ul.setAttribute('aria-hidden', 'true');
      for (const p of g.pages.slice(0, 1024)) {
        counts[p.state] = (counts[p.state] || 0) + 1;
        const li = el('li', p.state);
        li.title = `page ${hex(p.addr)}: ${p.state}${p.frame != null && p.state === 'resident' ? `, frame ${hex(p.frame)}` : ''}`;
        ul.append(li);
      }
      const summary = `Simulated: ${num(g.pages.length)} heap page${g.pages.length === 1 ? '' : 's'} of 4 KiB from ${hex(g.start)} (start_brk) to ${hex(g.end)}` +
        ` (memory.size), the break at ${hex(g.brk)}: ` +
        Object.entries(counts).map(([k, v]) => `${num(v)} ${k}`).join(', ') + '.';
      const legend = el('p', 'legend', 'Filled: resident (backed by a frame). Striped: mapped, not yet touched. Dotted: unmapped (above the break). Stripes across: swapped out.');
      box.replaceChildren(el('p', 'help', summary), ul, legend);
    } catch (e) {
      box.replaceChildren(el('p', 'help', `The simulated process is not available: ${errText(e)}`));
    }
  }

  /** The simulated process around column `c`'s heap (made on first use, with the element's process knobs). */
  _process(c) {
    if (!c.process) c.process = new c.glue.Process(c.model.heap, { ...this._settings.process });
    return c.process;
  }

  _renderProcess(c, index) {
    const box = c.els.processBox;
    let proc;
    try { proc = this._process(c); } catch (e) {
      box.replaceChildren(el('p', 'help', `The simulated process is not available: ${errText(e)}`));
      return;
    }
    const l = proc.layout();
    const out = [];
    const compared = this._cols.length > 1;
    if (compared) {
      // Side by side, each heap's own process in the playground's compact card (counters, page
      // grid, the step's paging lines), so that the heaps read alike; the first keeps its areas
      // and the page walk below its card.
      if (!c.els.pcard) {
        c.els.pcard = new ProcessCard({ proc }, POLICY_NAMES[c.policy], { shared: true });
        c.els.pcard.el.querySelector('.process-card-title')?.remove();
      }
      c.els.pcard.view = { proc };
      c.els.pcard.render();
      out.push(c.els.pcard.el);
      if (index > 0) { box.replaceChildren(...out); return; }
    }
    const s = proc.stats();
    const o = proc.options();
    // the address space: mm_struct's areas
    const table = el('table', 'vmas');
    table.append(el('caption', null, `Address space (simulated ${l.mode}, mm_struct): the heap from start_brk ${hex(l.startBrk)} to brk ${hex(l.brk)}`));
    const head = el('tr');
    for (const h of ['area', 'start', 'end', 'size', 'rights']) { const th = el('th', null, h); th.scope = 'col'; head.append(th); }
    const thead = el('thead'); thead.append(head);
    const body = el('tbody');
    for (const v of l.vmas) {
      const tr = el('tr', v.kind === 'heap' ? 'heap-row' : null);
      const th = el('th', null, v.kind); th.scope = 'row';
      tr.append(th, el('td', null, hex(v.start)), el('td', null, hex(v.end)), el('td', null, kib(v.end - v.start)), el('td', null, v.prot));
      body.append(tr);
    }
    table.append(thead, body);
    const scroll = el('div', 'table-scroll'); scroll.append(table);
    out.push(scroll);
    // counters
    const rows = [
      ['page faults', `${num(s.minorFaults)} minor, ${num(s.majorFaults)} major`],
      ['resident (RSS)', `${num(s.rssPages)} pages (${kib(s.rssPages * 4096)}), ${num(s.rssHeapPages)} of the heap`],
      ['virtual size', kib(s.virtualBytes)],
      ['page tables', `${num(s.pageTablePages)} page${s.pageTablePages === 1 ? '' : 's'}`],
      ['physical memory', `${num(s.frames)} frames of 4 KiB, ${num(s.freeFrames)} free (${o.policy} replacement)`],
    ];
    if (o.tlbEntries) rows.push(['TLB', `${num(s.tlbHits)} hits, ${num(s.tlbMisses)} misses (${o.tlbEntries} entries, ${o.tlbWays ? `${o.tlbWays}-way` : 'fully associative'})`]);
    if (s.swapOuts || s.swapIns) rows.push(['swap', `${num(s.swapOuts)} out, ${num(s.swapIns)} in, ${num(s.swapUsed)} slots used`]);
    if (compared) { box.replaceChildren(...out); this._renderWalk(c); return; }
    const dl = el('dl', 'stats');
    dl.setAttribute('aria-label', index === 0 ? 'process figures' : `process figures under ${POLICY_NAMES[c.policy]}`);
    dl.append(...rows.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
    out.push(dl);
    // what this step touched
    const notes = proc.notes();
    out.push(el('p', 'list-name', 'This step, in the simulated process:'));
    const ul = el('ul', 'notes');
    ul.setAttribute('aria-label', index === 0 ? 'paging notes' : `paging notes under ${POLICY_NAMES[c.policy]}`);
    if (!notes.length) ul.append(el('li', null, 'No page touched and no mapping changed.'));
    for (const n of notes) ul.append(el('li', null, n));
    out.push(ul);
    box.replaceChildren(...out);
    if (index === 0) this._renderWalk(c);
  }

  /** The page walk of the `walk` attribute, the address typed, or the heap's first payload. */
  _renderWalk(c, { typed = false } = {}) {
    const w = c.els.walkEls;
    if (!w) return;
    let addr = this._walkAddr ?? this._settings.walk;
    if (addr == null) {
      const n = c.last ? c.last.packed.length / 4 : 0;
      addr = n ? blockAt(c.last.packed, 0).addr + blockAt(c.last.packed, 0).header : c.model.heap.heapStart();
    }
    let r;
    try {
      r = this._process(c).walk(typeof addr === 'number' ? addr : String(addr));
    } catch (e) {
      w.out.replaceChildren(el('p', 'error', `Error: ${errText(e)}`));
      w.input.setAttribute('aria-invalid', 'true');
      return;
    }
    w.input.removeAttribute('aria-invalid');
    if (!typed || !w.input.value) w.input.value = r.vaddrHex;
    const fields = el('p', 'walk-fields', `${r.vaddrHex} = ` + r.fields.map((f) => `${f.name} ${f.name === 'offset' ? hex(f.value) : f.value} (${f.bits} bits)`).join(' · '));
    const table = el('table', 'walk');
    table.append(el('caption', null, `Walk of ${r.vaddrHex} through the simulated ${r.mode} page tables (CR3 → frame ${hex(r.root)})`));
    const head = el('tr');
    for (const h of ['level', 'table', 'index', 'entry', 'P W U A D']) { const th = el('th', null, h); th.scope = 'col'; head.append(th); }
    const thead = el('thead'); thead.append(head);
    const body = el('tbody');
    for (const s of r.levels) {
      const tr = el('tr');
      const th = el('th', null, `${s.level} ${s.entry}`); th.scope = 'row';
      const flags = ['present', 'writable', 'user', 'accessed', 'dirty'].map((k, j) => (s[k] ? 'PWUAD'[j] : '·')).join(' ');
      tr.append(th, el('td', null, `${s.tableName} (frame ${hex(s.table)})`), el('td', null, String(s.index)), el('td', null, s.text), el('td', null, flags));
      body.append(tr);
    }
    table.append(thead, body);
    const scroll = el('div', 'table-scroll'); scroll.append(table);
    const result = el('p', r.fault ? 'walk-result is-fault' : 'walk-result', r.fault
      ? `Fault at level ${r.fault.level} (${r.fault.entry}): ${r.fault.text}${r.vma ? ` (the address is in the ${r.vma} area: a first touch would map it)` : ' (in no area: a segmentation fault)'}.`
      : `Physical address ${hex(r.paddr)}: frame ${hex(Math.floor(r.paddr / 4096))}, offset ${hex(r.paddr % 4096)}.`);
    w.out.replaceChildren(fields, scroll, result);
  }

  _select(i, index, { keepFocus = false } = {}) {
    if (index !== 0 || !this._settings.panels.includes('hex')) return;
    this._selected = i;
    this._render();
    if (keepFocus) return;
    const btn = this._cols[0].els.blocks.querySelector(`button[data-index="${i}"]`);
    btn?.focus();
  }

  /** Block `i` of column `index`, in words (the playground's map says the same). */
  _blockWords(c, i) {
    const d = c.last;
    const n = d.packed.length / 4;
    const b = blockAt(d.packed, i);
    const pad = b.used ? Math.max(0, b.size - b.header - b.requested) : 0;
    let words = `Block ${num(i + 1)} of ${num(n)}: ${b.quick ? 'used block in quick list' : b.used ? 'used block' : 'free block'} at ${hex(b.addr)}: ${num(b.size)} bytes` +
      (b.quick ? ` (${b.header}-byte header; freed, waiting in a quick list and still marked used, so it does not merge)`
        : b.used ? ` (${b.header}-byte header, ${num(b.requested)} bytes asked for, ${num(pad)} bytes of padding; payload at ${hex(b.addr + b.header)})`
        : ` (${b.header}-byte header, free-list links in its payload)`);
    try {
      const view = c.model.memoryView(b.addr, 4);
      if (view.length >= 4) {
        const w = new DataView(view.buffer, view.byteOffset, 4).getUint32(0, true);
        words += c.policy === 'buddy'
          ? `; header word ${hex(w)}: order ${w & 0xff}, ${(w >>> 15) & 1 ? 'used' : 'free'}`
          : `; header word ${hex(w)}: size ${w & 0x3fffffff}, U=${(w >>> 31) & 1} (${(w >>> 31) & 1 ? 'used' : 'free'}), P=${(w >>> 30) & 1} (the block before is ${(w >>> 30) & 1 ? 'used' : 'free'})`;
      }
    } catch { /* the words without the header word */ }
    return `${words}.`;
  }

  /** Moves the map's keyboard focus to block `i` of column `index` and reads it out. */
  _focusBlock(index, i) {
    const c = this._cols[index];
    const n = c?.last ? c.last.packed.length / 4 : 0;
    if (!n) { if (c) c.els.focusLine.textContent = 'The heap has no block yet.'; return; }
    i = Math.max(0, Math.min(n - 1, i));
    c.map.focus = i;
    c.map.reveal(i);
    c.map.draw();
    c.els.focusLine.textContent = this._blockWords(c, i);
  }

  /** A key on column `index`'s map; true when it was the map's. */
  _mapKey(index, key) {
    const c = this._cols[index];
    if (!c?.last || this._state !== 'ready') return false;
    const m = c.map;
    const d = c.last;
    const n = d.packed.length / 4;
    const cur = m.focus >= 0 ? m.focus : 0;
    const byAddr = (delta) => {
      if (!n) return cur;
      const b = blockAt(d.packed, cur);
      const j = blockIndexAt(d.packed, Math.max(d.heapStart, Math.min(d.brk - 1, b.addr + delta)));
      return j >= 0 ? j : cur;
    };
    switch (key) {
      case 'ArrowRight': this._focusBlock(index, m.focus < 0 ? 0 : cur + 1); break;
      case 'ArrowLeft': this._focusBlock(index, m.focus < 0 ? 0 : cur - 1); break;
      case 'ArrowDown': this._focusBlock(index, m.readable ? cur + 8 : byAddr(m.rowBytes())); break;
      case 'ArrowUp': this._focusBlock(index, m.readable ? cur - 8 : byAddr(-m.rowBytes())); break;
      case 'Home': this._focusBlock(index, 0); break;
      case 'End': this._focusBlock(index, n - 1); break;
      case 'Enter': case ' ':
        if (!n) return true;
        if (index === 0 && this._settings.panels.includes('hex')) {
          this._select(cur, 0, { keepFocus: true });
          this._focusBlock(index, cur);
          c.els.focusLine.textContent += ' Its bytes are shown below.';
        } else {
          this._focusBlock(index, cur);
        }
        break;
      case 'Escape':
        if (index !== 0 || this._selected < 0) return false;
        this._selected = -1;
        this._render();
        break;
      case '+': case '=': m.zoomIn(); m.reveal(cur); m.draw(); break;
      case '-': case '_': m.zoomOut(); m.draw(); break;
      case '0': m.fit(); m.draw(); break;
      case 'PageDown': m.pan(m.visibleRows()); m.draw(); break;
      case 'PageUp': m.pan(-m.visibleRows()); m.draw(); break;
      default: return false;
    }
    return true;
  }

  _renderHex() {
    const c = this._cols[0];
    if (!c?.last) return;
    const n = c.last.packed.length / 4;
    if (!n) { this._els.hexBox.replaceChildren(el('p', 'help', 'The heap has no block yet.')); return; }
    let i = this._selected;
    if (i < 0 || i >= n) i = [...c.map.changed][0] ?? 0;
    const b = blockAt(c.last.packed, i);
    const view = c.model.memoryView(b.addr, b.size);
    const narrow = this._box.clientWidth < 460;
    renderHex(this._els.hexBox, b, view, c.policy, narrow ? 8 : 16);
  }

  _renderSteps() {
    const h = this._cols[0].model.heap;
    const around = 25;
    const from = Math.max(1, this._pos - around);
    const to = Math.min(this._steps, this._pos + around);
    const list = to >= from ? h.stepList(from, to - from + 1) : [];
    const items = [];
    const item = (step, text, result, isError) => {
      const li = el('li', isError ? 'is-error' : null);
      const b = el('button');
      b.type = 'button';
      b.dataset.step = String(step);
      b.append(`${num(step)}. `, el('code', null, text), ' ', el('span', 'result', result));
      if (step === this._pos) { li.classList.add('current'); b.setAttribute('aria-current', 'step'); }
      li.append(b);
      return li;
    };
    if (from <= 1) items.push(item(0, 'the heap as made', '', false));
    for (const s of list) items.push(item(s.step, s.text, s.error ? `error: ${s.error}` : s.addr != null ? `→ ${hex(s.addr)}` : '✓', Boolean(s.error)));
    this._consoleEls.steps.replaceChildren(...items);
    const cur = this._consoleEls.steps.querySelector('li.current');
    if (cur) {
      const box = this._consoleEls.steps;
      const top = cur.offsetTop - box.offsetTop;
      if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - cur.offsetHeight) box.scrollTop = Math.max(0, top - box.clientHeight / 2);
    }
  }

  _renderFailures() {
    const f = this._failures || [];
    const ul = this._els.failures;
    ul.replaceChildren(...f.slice(0, 20).map((x) => el('li', null, x.line ? `Line ${x.line}: ${x.error}` : `Step ${num(x.step)}: ${x.error}`)));
    if (f.length > 20) ul.append(el('li', null, `… ${f.length === 100 ? 'at least 100' : num(f.length)} steps failed in all.`));
    ul.hidden = !f.length;
  }

  _runStatement(stmt) {
    if (this._state !== 'ready') return { ok: false, text: stmt, error: 'the element is not ready' };
    if (!stmt.trim()) return { ok: false, text: stmt, error: 'nothing to run' };
    const pos = this._pos;
    const main = this._cols[0].model.heap;
    const r = main.run(stmt);
    if (main.stepCount() !== pos + 1 || main.position() !== pos + 1) {
      const msg = r.error || 'the statement was not run';
      this._narrate({ summary: `Error: ${msg}`, detail: 'Nothing changed.', error: true });
      return { ok: false, text: r.text, error: msg };
    }
    for (const c of this._cols.slice(1)) {
      try { c.model.heap.seek(pos); c.model.heap.events(); c.model.heap.run(stmt); } catch { /* shown in its column */ }
    }
    const s = this._source_;
    if (s && s.kind === 'script') {
      const info = main.stepInfo(pos + 1);
      const lines = s.text.replace(/\n$/, '').split('\n');
      lines.length = Math.max(0, info.line - 1);
      while (lines.length < info.line - 1) lines.push('');
      lines.push(stmt.trim());
      s.text = lines.join('\n') + '\n';
      this._edited = s.text;
      this._consoleEls.ta.value = s.text;
    }
    this._steps = main.stepCount();
    this._failures = main.failures(100);
    this._renderFailures();
    this._show(pos + 1, { force: true });
    return { ok: !r.error, text: r.text, error: r.error };
  }
}

function listName(policy, cfg, list) {
  const order = cfg.order;
  if (list === TOP_LIST) return 'top block (kept apart, carved last)';
  if (list >= QUICK_LIST) {
    const q = list - QUICK_LIST;
    return `quick list ${q}: ${num(quickBlockSize(q, cfg.header, cfg.align))}-byte blocks (freed, still marked used)`;
  }
  if (policy === 'seglist') return `size class ${list}: ${num(2 ** list)}–${num(2 ** (list + 1) - 1)} bytes`;
  if (policy === 'buddy') return `order ${list}: ${num(2 ** list)}-byte blocks`;
  if (policy === 'tlsf' || policy === 'heaptale') {
    const fl = list >> 4; const sl = list & 15;
    if (fl < 4) return `class (${fl}, ${sl}): ${sl} bytes`;
    const lo = 2 ** fl + sl * 2 ** (fl - 4);
    return `class (${fl}, ${sl}): ${num(lo)}–${num(lo + 2 ** (fl - 4) - 1)} bytes`;
  }
  const o = { addr: 'by address', 'size-asc': 'by size, smallest first', 'size-desc': 'by size, largest first', front: 'last freed first', back: 'first freed first' }[order] || order;
  return `the free list (${o})`;
}

async function fetchText(url, what) {
  let res;
  try { res = await fetch(url); } catch (e) { throw new Error(`${what} could not be fetched: ${errText(e)}`); }
  if (!res.ok) throw new Error(`${what} could not be fetched: HTTP ${res.status}`);
  const len = Number(res.headers.get('content-length') || 0);
  if (len > MAX_SOURCE) throw new Error(`${what} is too large (${num(len)} bytes; at most ${num(MAX_SOURCE)})`);
  const buf = await res.arrayBuffer();
  if (buf.byteLength > MAX_SOURCE) throw new Error(`${what} is too large (${num(buf.byteLength)} bytes; at most ${num(MAX_SOURCE)})`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw new Error(`${what} is not a text file`);
  }
}

if (!customElements.get('heap-tale')) customElements.define('heap-tale', HeapTaleElement);
