// The "Process (simulated)" section: the simulated process around the real heap
// (wasm `Process`, heaptale::vm): the address-space bar, the heap's page grid,
// the counters, the step's paging narration, a page walk and the frame map,
// with the paging knobs. Everything here is a simulation; only the heap's bytes,
// its break and its addresses are real. It follows the heap's timeline: the
// wasm side rebuilds the process for whatever step the heap is at.

const hex = (v) => `0x${Math.round(v).toString(16)}`;
const num = (v) => Number(v).toLocaleString('en');
const kib = (b) => (b >= 1 << 30 ? `${+(b / 2 ** 30).toFixed(1)} GiB` : b >= 1 << 20 ? `${+(b / 2 ** 20).toFixed(1)} MiB` : `${+(b / 1024).toFixed(1)} KiB`);
const pl = (n, w) => `${num(n)} ${w}${n === 1 ? '' : 's'}`;
const SVG = 'http://www.w3.org/2000/svg';

export const PROCESS_DEFAULTS = { mode: 'x86', physicalMemory: 16 << 20, policy: 'lru', tlbEntries: 64, tlbWays: 4, mmap: false, othersPercent: 38 };
const PHYS = [64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20];
const OTHERS = [0, 12, 25, 38, 50, 75];
/** Milliseconds between two levels of an animated page walk. */
export const WALK_STEP_MS = 450;
const reducedMotion = () => typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;
const MAX_CELLS = 1024;
const KINDS = ['free', 'kernel', 'other process', 'our page table', 'our page'];

function el(tag, attrs = {}, text = null) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  if (text !== null) e.textContent = text;
  return e;
}
function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** The knobs from the URL fragment (vm, phys, repl, tlb, mmap); bad values are reported. */
export function processOptionsFromHash(hash) {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const o = { ...PROCESS_DEFAULTS };
  const errors = [];
  if (p.has('vm')) { if (['x86', 'x86-64'].includes(p.get('vm'))) o.mode = p.get('vm'); else errors.push(`paging mode "${p.get('vm')}"`); }
  if (p.has('phys')) { const n = Number(p.get('phys')); if (PHYS.includes(n)) o.physicalMemory = n; else errors.push(`physical memory "${p.get('phys')}"`); }
  if (p.has('repl')) { if (['fifo', 'lru', 'clock', 'opt', 'random'].includes(p.get('repl'))) o.policy = p.get('repl'); else errors.push(`replacement policy "${p.get('repl')}"`); }
  if (p.has('tlb')) {
    const m = /^(\d+)x(\d+)$/.exec(p.get('tlb'));
    if (m) { o.tlbEntries = Number(m[1]); o.tlbWays = Number(m[2]); } else errors.push(`TLB "${p.get('tlb')}"`);
  }
  if (p.has('mmap')) o.mmap = p.get('mmap') === 'on';
  if (p.has('others')) { const n = Number(p.get('others')); if (OTHERS.includes(n)) o.othersPercent = n; else errors.push(`other processes' frames "${p.get('others')}"`); }
  return { options: o, errors };
}

/** The fragment's process part ('' when every knob is at its default). */
export function processHash(o) {
  const p = new URLSearchParams();
  if (o.mode !== PROCESS_DEFAULTS.mode) p.set('vm', o.mode);
  if (o.physicalMemory !== PROCESS_DEFAULTS.physicalMemory) p.set('phys', String(o.physicalMemory));
  if (o.policy !== PROCESS_DEFAULTS.policy) p.set('repl', o.policy);
  if (o.tlbEntries !== PROCESS_DEFAULTS.tlbEntries || o.tlbWays !== PROCESS_DEFAULTS.tlbWays) p.set('tlb', `${o.tlbEntries}x${o.tlbWays}`);
  if (o.mmap) p.set('mmap', 'on');
  if ((o.othersPercent ?? PROCESS_DEFAULTS.othersPercent) !== PROCESS_DEFAULTS.othersPercent) p.set('others', String(o.othersPercent));
  const s = p.toString();
  return s ? `&${s}` : '';
}

export class ProcessView {
  /** `section`: the empty section element; `notesAfter`: where the step's paging lines go. */
  constructor(section, notesAfter, { onChange = () => {}, options = PROCESS_DEFAULTS } = {}) {
    this.section = section;
    this.onChange = onChange;
    this.options = { ...options };
    this.proc = null;
    this.heap = null;
    this.glue = null;
    this.focusPage = 0;
    this.walkAddr = null;
    this.walkTimers = [];
    /** The compare cards' process views: re-made when a knob changes. */
    this.followers = [];
    this.build(notesAfter);
    const { errors } = processOptionsFromHash(typeof location === 'undefined' ? '' : location.hash);
    if (errors.length) {
      this.linkNote.textContent = `The link's simulated-process settings could not all be read (${errors.join(', ')}): the defaults are used for those.`;
      this.linkNote.hidden = false;
    }
  }

  build(notesAfter) {
    const s = this.section;
    s.replaceChildren();
    s.append(el('h2', { id: 'process-heading' }, 'Process (simulated)'));
    s.append(el('p', { class: 'help' }, 'A simulated Linux process around the real heap: its address space (mm_struct), ' +
      'page tables, physical frames, faults and TLB follow x86 and Linux rules, but only the heap’s bytes, its break ' +
      'and its addresses are real (wasm32 addresses are the process’s virtual addresses). Memory the allocator writes ' +
      '(headers, footers, free-list links) and the program’s own writes (write(p, "text") and memset(p, 0, n) in a script) touch pages; ' +
      'a page’s first touch is a minor fault, and a written page is dirty.'));

    // Knobs.
    const knobs = el('div', { class: 'knobs process-knobs', role: 'group', 'aria-label': 'simulated process settings' });
    const select = (id, label, choices, value) => {
      const k = el('div', { class: 'knob' });
      k.append(el('label', { for: id }, label));
      const sel = el('select', { id });
      for (const [v, t] of choices) { const o = el('option', { value: String(v) }, t); if (String(v) === String(value)) o.selected = true; sel.append(o); }
      sel.addEventListener('change', () => this.knobsChanged());
      k.append(sel);
      knobs.append(k);
      return sel;
    };
    const o = this.options;
    this.modeSel = select('vm-mode', 'Paging mode', [['x86', 'x86, 2 levels'], ['x86-64', 'x86-64, 4 levels']], o.mode);
    this.physSel = select('vm-phys', 'Physical memory', PHYS.map((b) => [b, kib(b)]), o.physicalMemory);
    this.replSel = select('vm-repl', 'Page replacement', [['fifo', 'FIFO'], ['lru', 'LRU'], ['clock', 'CLOCK'], ['opt', 'OPT'], ['random', 'random']], o.policy);
    this.tlbSel = select('vm-tlb', 'TLB entries', [[0, 'no TLB'], [4, '4'], [8, '8'], [16, '16'], [64, '64'], [256, '256']], o.tlbEntries);
    this.waysSel = select('vm-ways', 'TLB ways', [[0, 'fully associative'], [1, '1 (direct mapped)'], [2, '2'], [4, '4'], [8, '8']], o.tlbWays);
    this.othersSel = select('vm-others', 'Frames held by other processes', OTHERS.map((n) => [n, `${n} %`]), o.othersPercent ?? PROCESS_DEFAULTS.othersPercent);
    const mk = el('div', { class: 'knob knob-check' });
    this.mmapBox = el('input', { id: 'vm-mmap', type: 'checkbox', 'aria-describedby': 'vm-mmap-help' });
    this.mmapBox.checked = !!o.mmap;
    this.mmapBox.addEventListener('change', () => this.knobsChanged());
    mk.append(this.mmapBox, el('label', { for: 'vm-mmap' }, 'mmap threshold (glibc, 128 KiB)'));
    knobs.append(mk);
    s.append(knobs);
    // OSTEP's paging knobs, and where each lives here.
    this.knobFacts = el('p', { class: 'help', id: 'vm-knob-facts' });
    s.append(this.knobFacts);
    s.append(el('p', { id: 'vm-mmap-help', class: 'help' }, 'The mmap threshold, and how it maps onto linear memory: glibc serves a request of ' +
      '128 KiB or more (the threshold rises as such blocks are freed) with its own mmap, in the mmap region, and free unmaps it at once. ' +
      'WebAssembly has one linear memory and no mmap, so heaptale’s allocator still carves such a block from its heap, and its real bytes ' +
      'stay there (the heap map and the hex view show them). The simulation draws the mapping glibc would have made in the mmap region ' +
      '(orange) and sends the block’s page touches there; the heap pages under the block stay mapped but untouched, counted in the virtual size, not in RSS.'));
    this.linkNote = el('p', { class: 'help', id: 'vm-link-note' });
    this.linkNote.hidden = true;
    s.append(this.linkNote);
    this.error = el('p', { class: 'process-error', role: 'alert', id: 'vm-error' });
    this.error.hidden = true;
    s.append(this.error);

    // Layout.
    s.append(el('h3', { id: 'vm-layout-heading' }, 'Address space'));
    const segLegend = el('ul', { class: 'legend', 'aria-label': 'address space legend' });
    for (const [k, t] of [['code', 'code (grey)'], ['data', 'data (green)'], ['bss', 'bss (sky blue)'], ['heap', 'heap (blue)'],
      ['mmap', 'mmap (orange)'], ['stack', 'stack (purple)']]) {
      const li = el('li');
      li.append(el('span', { class: `swatch swatch-seg-${k}`, 'aria-hidden': 'true' }), document.createTextNode(t));
      segLegend.append(li);
    }
    s.append(segLegend);
    this.bar = el('div', { class: 'vm-bars' });
    s.append(this.bar);
    this.layoutList = el('dl', { class: 'stats vm-layout', 'aria-labelledby': 'vm-layout-heading' });
    s.append(this.layoutList);

    // Counters.
    s.append(el('h3', { id: 'vm-counters-heading' }, 'Counters'));
    this.counters = el('dl', { class: 'stats', id: 'vm-counters', 'aria-labelledby': 'vm-counters-heading' });
    s.append(this.counters);

    // The step's paging narration, under the step narration and here.
    this.notes = el('ul', { class: 'vm-notes', id: 'vm-notes', 'aria-label': 'simulated paging this step' });
    if (notesAfter) notesAfter.after(this.notes); else s.append(this.notes);

    // Page grid.
    s.append(el('h3', { id: 'vm-grid-heading' }, 'The heap’s pages'));
    const legend = el('ul', { class: 'legend', 'aria-label': 'page legend' });
    for (const [cls, t] of [['unmapped', 'unmapped (grey dots)'], ['mapped', 'mapped, never touched (outline)'], ['resident', 'resident, clean (sky blue)'],
      ['dirty', 'resident, dirty (blue, stripes)'], ['swapped', 'swapped out (orange, hatched)']]) {
      const li = el('li');
      li.append(el('span', { class: `swatch page-${cls}`, 'aria-hidden': 'true' }), document.createTextNode(t));
      legend.append(li);
    }
    s.append(legend);
    s.append(el('p', { class: 'help', id: 'vm-grid-help' }, 'From start_brk up to memory.size, 4 KiB a cell. Focus a page (Tab, then the ' +
      'arrow keys) to read it; Enter walks its address.'));
    this.grid = el('div', { class: 'page-grid', role: 'group', 'aria-labelledby': 'vm-grid-heading', 'aria-describedby': 'vm-grid-help', id: 'vm-grid' });
    this.grid.addEventListener('keydown', (e) => this.gridKey(e));
    this.grid.addEventListener('focusin', (e) => {
      const c = e.target.closest('.page');
      if (c && Number(c.dataset.i) !== this.focusPage) this.setFocus(Number(c.dataset.i), false); else this.describePage();
    });
    this.grid.addEventListener('click', (e) => {
      const c = e.target.closest('.page'); if (!c) return;
      this.setFocus(Number(c.dataset.i), true); this.walk(Number(c.dataset.addr));
    });
    s.append(this.grid);
    this.pageInfo = el('p', { class: 'map-focus', id: 'vm-page-info', 'aria-live': 'polite' });
    s.append(this.pageInfo);

    // Walk.
    s.append(el('h3', { id: 'vm-walk-heading' }, 'Page walk'));
    const form = el('form', { class: 'field-row', id: 'vm-walk-form', autocomplete: 'off' });
    const lab = el('label', { for: 'vm-walk-addr' }, 'Address to walk');
    this.walkInput = el('input', { id: 'vm-walk-addr', type: 'text', spellcheck: 'false', placeholder: '0x110008' });
    form.append(lab, this.walkInput, el('button', { type: 'submit', id: 'vm-walk-go' }, 'Walk'));
    form.addEventListener('submit', (e) => { e.preventDefault(); this.walk(this.walkInput.value.trim()); });
    s.append(form);
    this.walkOut = el('div', { class: 'vm-walk', id: 'vm-walk', 'aria-live': 'polite' });
    s.append(this.walkOut);

    this.buildOstep(s);

    // Frames.
    s.append(el('h3', { id: 'vm-frames-heading' }, 'Physical frames'));
    this.frameLegend = el('ul', { class: 'legend', 'aria-label': 'frame legend' });
    KINDS.forEach((k, i) => {
      const li = el('li');
      li.append(el('span', { class: `swatch frame-k${i}`, 'aria-hidden': 'true' }), document.createTextNode(k));
      this.frameLegend.append(li);
    });
    s.append(this.frameLegend);
    // Drawn on a canvas off the page and shown as an image (the page's one canvas stays the heap map).
    this.frameCanvas = document.createElement('canvas');
    this.frameImg = el('img', { class: 'frame-map', id: 'vm-frames', alt: 'frame map' });
    s.append(this.frameImg);
    this.frameSummary = el('p', { class: 'help', id: 'vm-frames-summary' });
    s.append(this.frameSummary);
  }

  /** OSTEP's paging exercise: its knobs where they apply as such (a linear page table). */
  buildOstep(s) {
    s.append(el('h3', { id: 'vm-ostep-heading' }, 'OSTEP’s paging exercise'));
    s.append(el('p', { class: 'help', id: 'vm-ostep-help' }, 'OSTEP’s paging knobs as its homework uses them (paging-linear-translate.py, ' +
      'chapter 18): a linear page table, one entry per virtual page with its top bit the valid bit, for an address space, a page size, ' +
      'a physical memory and a share of valid pages; translate each virtual address. The same knobs and seed give the very exercise ' +
      'the script prints. Simulated, and apart from the heap above.'));
    const box = el('div', { class: 'knobs process-knobs', role: 'group', 'aria-label': 'OSTEP paging exercise settings' });
    const size = (b) => (b >= 1 << 20 ? `${b / (1 << 20)}m` : b >= 1024 ? `${b / 1024}k` : String(b));
    const sel = (id, label, values, value) => {
      const k = el('div', { class: 'knob' });
      k.append(el('label', { for: id }, label));
      const e = el('select', { id });
      for (const v of values) { const o = el('option', { value: String(v) }, size(v)); if (v === value) o.selected = true; e.append(o); }
      e.addEventListener('change', () => this.renderOstep());
      k.append(e);
      box.append(k);
      return e;
    };
    const numIn = (id, label, min, max, value) => {
      const k = el('div', { class: 'knob' });
      k.append(el('label', { for: id }, label));
      const e = el('input', { id, type: 'number', min: String(min), max: String(max), step: '1', value: String(value), inputmode: 'numeric' });
      e.addEventListener('change', () => this.renderOstep());
      k.append(e);
      box.append(k);
      return e;
    };
    this.ostep = {
      as: sel('vm-ostep-as', 'Address space (-a)', [1024, 4096, 16384, 32768, 65536, 262144, 1 << 20], 16384),
      ps: sel('vm-ostep-ps', 'Page size (-P)', [256, 1024, 2048, 4096, 8192, 16384], 4096),
      pm: sel('vm-ostep-pm', 'Physical memory (-p)', [16384, 65536, 262144, 1 << 20, 4 << 20, 16 << 20], 65536),
      u: numIn('vm-ostep-u', 'Percent valid (-u)', 0, 100, 50),
      n: numIn('vm-ostep-n', 'Addresses (-n)', 1, 50, 5),
      seed: numIn('vm-ostep-s', 'Seed (-s)', 0, 4294967295, 0),
    };
    const ck = el('div', { class: 'knob knob-check' });
    this.ostep.c = el('input', { id: 'vm-ostep-c', type: 'checkbox' });
    this.ostep.c.addEventListener('change', () => this.renderOstep());
    ck.append(this.ostep.c, el('label', { for: 'vm-ostep-c' }, 'Show the answers (-c)'));
    box.append(ck);
    s.append(box);
    this.ostepError = el('p', { class: 'process-error', role: 'alert', id: 'vm-ostep-error' });
    this.ostepError.hidden = true;
    this.ostepOut = el('pre', { class: 'vm-ostep', id: 'vm-ostep-out', tabindex: '0', 'aria-labelledby': 'vm-ostep-heading' });
    s.append(this.ostepError, this.ostepOut);
  }

  renderOstep() {
    if (!this.glue?.ostepPaging) return;
    const o = this.ostep;
    try {
      const r = this.glue.ostepPaging({
        addressSpace: Number(o.as.value), pageSize: Number(o.ps.value), physicalMemory: Number(o.pm.value),
        percentValid: Number(o.u.value), count: Number(o.n.value), seed: Number(o.seed.value), answers: o.c.checked, verbose: true,
      });
      this.ostepOut.textContent = r.text;
      this.ostepError.hidden = true;
    } catch (e) {
      this.ostepError.textContent = `${e.message || e}`;
      this.ostepError.hidden = false;
    }
  }

  knobsChanged() {
    this.options = {
      mode: this.modeSel.value,
      physicalMemory: Number(this.physSel.value),
      policy: this.replSel.value,
      tlbEntries: Number(this.tlbSel.value),
      tlbWays: Number(this.waysSel.value),
      mmap: this.mmapBox.checked,
      othersPercent: Number(this.othersSel.value),
    };
    if (this.glue && this.heap) {
      this.attach(this.glue, this.heap);
      // The attach re-ran the steps: the heap's pending events are the current step's, already shown.
      try { this.heap.events(); } catch { /* */ }
      this.render();
    }
    for (const f of this.followers) f.reattach();
    this.onChange();
  }

  /** The options for `new Process` (the TLB's ways kept within its entries). */
  processOptions() {
    const o = { ...PROCESS_DEFAULTS, ...this.options };
    if (o.tlbEntries && o.tlbWays > o.tlbEntries) o.tlbWays = 0;
    return o;
  }

  /** The process cards that follow this view's knobs (the compared heaps'). */
  setFollowers(cards) {
    this.followers = cards;
  }

  /** Attaches a simulated process to `heap` (before its steps run, or after: it rebuilds). */
  attach(glue, heap) {
    const first = !this.glue;
    this.glue = glue;
    this.heap = heap;
    if (first) this.renderOstep();
    try { this.proc?.free(); } catch { /* */ }
    this.proc = null;
    const o = this.processOptions();
    try {
      this.proc = new glue.Process(heap, o);
      this.showError('');
    } catch (e) {
      this.showError(`The simulated process is off: ${e.message || e}`);
    }
  }

  showError(t) {
    this.error.textContent = t;
    this.error.hidden = !t;
  }

  render() {
    if (!this.proc) { this.notes.replaceChildren(); return; }
    let lay, stats, pages, notes, frames;
    try {
      lay = this.proc.layout(); stats = this.proc.stats(); pages = this.proc.pages(); notes = this.proc.notes(); frames = this.proc.frames();
    } catch (e) {
      this.showError(`The simulated process is off: ${e.message || e}`);
      this.notes.replaceChildren();
      return;
    }
    this.showError('');
    this.lay = lay;
    this.renderFacts(stats);
    this.renderLayout(lay);
    this.renderCounters(stats);
    this.renderNotes(notes);
    this.renderGrid(pages);
    this.renderFrames(frames);
    this.walkInput.placeholder = hex(lay.startBrk + 8);
    // Something to read from the start: the walk of the heap's first payload.
    if (this.walkAddr === null && pages.pages.length) this.walkAddr = lay.startBrk + 8;
    if (this.walkAddr !== null) this.walk(this.walkAddr, { quiet: true });
  }

  renderFacts(stats) {
    const o = this.proc.options();
    const bits = o.mode === 'x86' ? 32 : 48;
    this.knobFacts.textContent = `OSTEP’s paging knobs, here: address-space size ${o.addressSpace >= 2 ** 40 ? `${o.addressSpace / 2 ** 40} TiB` : kib(o.addressSpace)} ` +
      `(2^${bits} bytes: the paging mode; wasm32’s addresses are 32-bit), page size ${kib(o.pageSize)} (x86’s base page, in both modes), ` +
      `percent valid ${+((stats.virtualBytes / o.addressSpace) * 100).toPrecision(2)} % (the mapped areas, ${kib(stats.virtualBytes)}: an address outside them is a segmentation fault), ` +
      `physical memory ${kib(o.physicalMemory)} (${num(o.physicalMemory / o.pageSize)} frames), of which the kernel holds ${o.kernelPercent} % and ` +
      `other processes ${o.othersPercent} % (how full memory is before our first fault); the TLB, ${o.tlbEntries ? `${o.tlbEntries} entries, ` +
      `${o.tlbWays ? `${o.tlbWays}-way` : 'fully associative'}` : 'off'}; page replacement ${o.policy.toUpperCase()} when memory is full (a swap area of 16 MiB).`;
  }

  renderLayout(l) {
    const top = l.taskSize;
    const segs = l.vmas.map((v) => ({ ...v }));
    // Two bars: the whole address space to scale, then code to memory.size to scale.
    const bar = (from, to, title, id, marks) => {
      const W = 1000, H = 34;
      const box = el('div', { class: 'vm-bar-box' });
      box.append(el('p', { class: 'vm-bar-title', id }, title));
      const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'vm-bar', role: 'img', 'aria-labelledby': id });
      s.append(svg('rect', { x: 0, y: 4, width: W, height: H - 8, class: 'seg-none' }));
      const x = (a) => ((a - from) / (to - from)) * W;
      for (const v of segs) {
        if (v.end <= from || v.start >= to) continue;
        const x0 = x(Math.max(v.start, from)), x1 = x(Math.min(v.end, to));
        const r = svg('rect', { x: x0, y: 4, width: Math.max(2, x1 - x0), height: H - 8, class: `seg seg-${v.kind}` });
        const t = svg('title'); t.textContent = `${v.kind} ${hex(v.start)}–${hex(v.end)} (${kib(v.end - v.start)})`; r.append(t);
        s.append(r);
      }
      for (const [a, cls] of marks) {
        if (a < from || a > to) continue;
        s.append(svg('rect', { x: Math.min(W - 2, x(a)), y: 0, width: 2, height: H, class: cls }));
      }
      box.append(s);
      return box;
    };
    const lo = l.startCode;
    const hi = Math.max(l.memoryEnd, l.brk) + (Math.max(l.memoryEnd, l.brk) - lo) * 0.05;
    this.bar.replaceChildren(
      bar(0, top, `Whole address space, 0 to ${hex(top)} (${l.mode}), to scale`, 'vm-bar-all', [[l.brk, 'mark-brk'], [l.mmapBase, 'mark-mmap']]),
      bar(lo, hi, `Code to memory.size (${hex(lo)}–${hex(hi)}), to scale: brk in black, memory.size in purple`, 'vm-bar-low', [[l.brk, 'mark-brk'], [l.memoryEnd, 'mark-mem']]),
    );
    const rows = [];
    for (const v of l.vmas) rows.push([v.kind, `${hex(v.start)}–${hex(v.end)} ${v.prot}, ${kib(v.end - v.start)}`]);
    rows.push(['start_brk', hex(l.startBrk)], ['brk', hex(l.brk)],
      ['sbrk(0)', `${hex(l.brk)}: sbrk(0) reports the break; sbrk(n) moves it by n and returns the old break, or fails with ENOMEM and returns (void *) -1 (a heap that cannot grow)`],
      ['memory.size (real)', `${hex(l.memoryEnd)}${l.brk < l.memoryEnd ? ' — the break is below it: memory.grow adds 64 KiB pages, and linear memory never shrinks when the break falls' : ''}`],
      ['mmap_base', hex(l.mmapBase)]);
    if (l.threshold !== null) rows.push(['mmap threshold', `${kib(l.threshold)} (requests at or above it get their own mapping)`]);
    for (const c of l.chunks) rows.push(['mmapped block', `real bytes at ${hex(c.payload)} in linear memory (the heap); drawn as glibc would map it at ${hex(c.mapStart)} in the mmap region (${kib(c.mapLen)})`]);
    this.layoutList.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }

  renderCounters(s) {
    const tlb = s.tlbHits + s.tlbMisses;
    const rows = [
      ['minor faults', num(s.minorFaults)],
      ['major faults', num(s.majorFaults)],
      ['RSS', `${pl(s.rssPages, 'page')} (${kib(s.rssPages * 4096)}) resident of the virtual size`],
      ['virtual size', kib(s.virtualBytes)],
      ['TLB hits / misses', tlb ? `${num(s.tlbHits)} / ${num(s.tlbMisses)} (${((s.tlbHits / tlb) * 100).toFixed(1)} % hits)` : 'no accesses yet'],
      ['page tables', pl(s.pageTablePages, 'page')],
      ['swapped', `${pl(s.swappedPages, 'page')}, ${pl(s.evictions, 'eviction')}`],
      ['free frames', `${num(s.freeFrames)} of ${num(s.frames)}`],
    ];
    this.counters.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-counter': k }, v)]));
  }

  renderNotes(notes) {
    const lines = Array.from(notes);
    const shown = lines.slice(0, 12);
    const items = shown.map((t) => el('li', {}, `Simulated: ${t}`));
    if (lines.length > shown.length) items.push(el('li', {}, `… and ${num(lines.length - shown.length)} more page touches`));
    this.notes.replaceChildren(...items);
  }

  renderGrid(g) {
    const pages = g.pages.slice(0, MAX_CELLS);
    this.pages = pages;
    if (this.focusPage >= pages.length) this.focusPage = 0;
    const cells = pages.map((p, i) => {
      const st = p.state === 'resident' && p.dirty ? 'dirty' : p.state;
      const c = el('span', { class: `page page-${st}`, role: 'button', tabindex: i === this.focusPage ? '0' : '-1', 'aria-label': this.pageText(p), 'data-i': String(i), 'data-addr': String(p.addr) });
      return c;
    });
    const hadFocus = this.grid.contains(document.activeElement);
    this.grid.replaceChildren(...cells);
    if (hadFocus && cells.length) cells[this.focusPage].focus();
    if (g.truncated || g.pages.length > MAX_CELLS) this.grid.append(el('p', { class: 'help' }, `First ${num(pages.length)} pages shown.`));
    if (pages.length && this.grid.contains(document.activeElement)) this.describePage();
  }

  pageText(p) {
    const where = `page ${hex(p.vpn)} at ${hex(p.addr)}`;
    if (p.state === 'resident') return `${where}: resident in frame ${hex(p.frame)}${p.dirty ? ', dirty' : ', clean'}${p.accessed ? ', accessed' : ''}`;
    if (p.state === 'swapped') return `${where}: swapped out, slot ${p.slot}`;
    if (p.state === 'mapped') return `${where}: mapped (below the break), never touched: no frame`;
    return `${where}: unmapped (above the break)`;
  }

  describePage() {
    const p = this.pages?.[this.focusPage];
    this.pageInfo.textContent = p ? this.pageText(p) : '';
  }

  setFocus(i, focus) {
    const cells = this.grid.querySelectorAll('.page');
    if (!cells.length) return;
    i = Math.max(0, Math.min(cells.length - 1, i));
    cells[this.focusPage]?.setAttribute('tabindex', '-1');
    this.focusPage = i;
    cells[i].setAttribute('tabindex', '0');
    if (focus) cells[i].focus();
    this.describePage();
  }

  gridKey(e) {
    const cells = this.grid.querySelectorAll('.page');
    if (!cells.length) return;
    const cols = Math.max(1, Math.round(this.grid.clientWidth / (cells[0].offsetWidth + 2 || 14)));
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols, Home: -1e9, End: 1e9 }[e.key];
    if (step !== undefined) { e.preventDefault(); this.setFocus(this.focusPage + step, true); return; }
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.walk(this.pages[this.focusPage].addr); }
  }

  walk(addr, { quiet = false } = {}) {
    if (!this.proc) return;
    let w;
    try {
      w = this.proc.walk(typeof addr === 'number' ? addr : String(addr));
    } catch (e) {
      if (!quiet) this.walkOut.replaceChildren(el('p', { class: 'process-error', role: 'alert' }, `${e.message || e}`));
      return;
    }
    this.walkAddr = w.vaddr;
    if (!quiet || this.walkInput.value === '') this.walkInput.value = w.vaddrHex;
    for (const t of this.walkTimers) clearTimeout(t);
    this.walkTimers = [];
    const out = [];
    // The address's bits, a field a colour (textbook layout: 10/10/12 or 9/9/9/9/12).
    const bits = el('div', { class: 'addr-bits', role: 'img', 'aria-label': `${w.vaddrHex} split as ${w.fields.map((f) => `${f.name} ${f.bits} bits = ${f.value}`).join(', ')}` });
    const fieldEls = w.fields.map((f, i) => {
      const cls = f.name === 'offset' ? 'fo' : `f${i}`;
      const b = el('span', { class: `bitfield ${cls}` });
      b.append(el('span', { class: 'bits' }, f.value.toString(2).padStart(f.bits, '0')),
        el('span', { class: 'bitname' }, `${f.name} (${f.bits}) = ${f.name === 'offset' ? hex(f.value) : f.value}`));
      bits.append(b);
      return b;
    });
    out.push(bits);
    if (w.mode === 'x86-64') out.push(el('p', { class: 'help' }, 'Bits 63–48 copy bit 47 (canonical addresses); they are not shown.'));

    // The walk, level by level: CR3, then one entry per level, then the frame.
    const path = el('ol', { class: 'walk-path', id: 'vm-walk-path', 'aria-label': `page walk of ${w.vaddrHex}, level by level` });
    const stepEl = (cls, label, text, field) => {
      const li = el('li', { class: `walk-step ${cls}` });
      li.dataset.field = field === null ? '' : String(field);
      li.append(el('span', { class: 'walk-label' }, label), el('span', { class: 'walk-text' }, text));
      path.append(li);
      return li;
    };
    const levelsShown = [stepEl('cr3', 'CR3', `the page tables’ root: frame ${hex(w.root)}`, null)];
    w.levels.forEach((s, i) => {
      const flags = ['present', 'writable', 'user', 'accessed', 'dirty'].filter((k) => s[k]).join(', ') || 'not present';
      const to = s.present ? `frame ${hex(s.frame)}` : s.swapSlot !== null ? `swapped out (slot ${s.swapSlot})` : 'no frame';
      const li = stepEl(`f${i}`, `${s.entry} ${s.index}`, `entry ${s.index} of the ${s.tableName} at ${hex(s.entryAddr)} = ${s.raw} → ${to} (${flags})`, i);
      li.dataset.level = String(s.level);
      levelsShown.push(li);
    });
    if (w.fault) {
      levelsShown.push(stepEl('walk-fault', 'fault', `level ${w.fault.level} (${w.fault.entry}): ${w.fault.text}`, null));
    } else {
      const off = w.fields[w.fields.length - 1].value;
      levelsShown.push(stepEl('fo', 'frame', `frame ${hex(Math.floor(w.paddr / 4096))} + offset ${hex(off)} = physical ${hex(w.paddr)}`, w.fields.length - 1));
    }
    out.push(path);

    const table = el('table', { class: 'walk-table' });
    table.append(el('caption', {}, `Walk of ${w.vaddrHex} (simulated ${w.mode} page tables, CR3 → frame ${hex(w.root)})`));
    const head = el('tr');
    for (const h of ['level', 'table', 'index', 'entry at', 'entry', 'P W U A D']) head.append(el('th', { scope: 'col' }, h));
    const thead = el('thead'); thead.append(head); table.append(thead);
    const body = el('tbody');
    w.levels.forEach((s, i) => {
      const tr = el('tr', { class: `walk-level f${i}-row` });
      const flags = ['present', 'writable', 'user', 'accessed', 'dirty'].map((k, j) => (s[k] ? 'PWUAD'[j] : '·')).join(' ');
      tr.append(el('th', { scope: 'row' }, `${s.level} ${s.entry}`), el('td', {}, `${s.tableName} (frame ${hex(s.table)})`),
        el('td', { class: `idx f${i}` }, String(s.index)), el('td', {}, hex(s.entryAddr)), el('td', {}, s.text), el('td', {}, flags));
      body.append(tr);
    });
    table.append(body);
    const det = el('details', { class: 'walk-details' });
    det.append(el('summary', {}, 'The entries, as a table'));
    const scroll = el('div', { class: 'table-scroll' });
    scroll.append(table);
    det.append(scroll);
    if (this.walkDetailsOpen) det.open = true;
    det.addEventListener('toggle', () => { this.walkDetailsOpen = det.open; });
    out.push(det);
    const result = el('p', { class: w.fault ? 'walk-result walk-fault' : 'walk-result', id: 'vm-walk-result' },
      w.fault ? `Fault at level ${w.fault.level} (${w.fault.entry}): ${w.fault.text}${w.vma ? ` — the address is in the ${w.vma} area: a first touch would be a minor fault` : ' — in no area: a segmentation fault'}.`
        : `Physical address ${hex(w.paddr)} (frame ${hex(Math.floor(w.paddr / 4096))}, offset ${hex(w.paddr % 4096)}).`);
    out.push(result);
    this.walkOut.replaceChildren(...out);

    // Animated one level at a time (an explicit walk, with motion allowed); otherwise all at once.
    if (quiet || reducedMotion()) {
      path.dataset.done = 'true';
      return;
    }
    path.dataset.done = 'false';
    result.classList.add('walk-pending');
    const show = (k) => {
      levelsShown.forEach((li, j) => {
        li.classList.toggle('walk-pending', j > k);
        li.classList.toggle('walk-current', j === k);
      });
      fieldEls.forEach((f, j) => f.classList.toggle('walk-active', String(j) === levelsShown[k]?.dataset.field));
      if (k >= levelsShown.length - 1) {
        result.classList.remove('walk-pending');
        path.dataset.done = 'true';
        fieldEls.forEach((f) => f.classList.remove('walk-active'));
      }
    };
    show(0);
    for (let k = 1; k < levelsShown.length; k++) this.walkTimers.push(setTimeout(() => show(k), k * WALK_STEP_MS));
  }

  renderFrames(f) {
    const c = this.frameCanvas;
    const n = f.count;
    const cols = n <= 1024 ? 32 : n <= 4096 ? 64 : 128;
    const cell = n <= 4096 ? 6 : 3;
    const rows = Math.ceil(n / cols);
    const dpr = window.devicePixelRatio || 1;
    c.width = cols * cell * dpr; c.height = rows * cell * dpr;
    const g = c.getContext('2d');
    g.scale(dpr, dpr);
    const css = getComputedStyle(this.section);
    const colours = KINDS.map((_, i) => css.getPropertyValue(`--frame-k${i}`).trim() || '#ccc');
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      const k = f.kinds[i];
      counts[k]++;
      g.fillStyle = colours[k];
      g.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - (cell > 3 ? 1 : 0), cell - (cell > 3 ? 1 : 0));
    }
    // Ours, outlined (a shape as well as a colour).
    g.strokeStyle = '#000';
    g.lineWidth = 1;
    for (let i = 0; i < n; i++) {
      if (f.kinds[i] < 3) continue;
      g.strokeRect((i % cols) * cell - 0.5, Math.floor(i / cols) * cell - 0.5, cell, cell);
    }
    const text = `${num(n)} frames of 4 KiB: ${num(counts[0])} free, ${num(counts[1])} held by the kernel, ${num(counts[2])} by other processes, ${pl(counts[3], 'page table')} and ${pl(counts[4], 'page')} of ours`;
    this.frameImg.src = c.toDataURL('image/png');
    this.frameImg.alt = `Frame map, one cell per frame: ${text}.`;
    this.frameSummary.textContent = `${text}. Ours are outlined in black. Our heap's pages land on scattered frames: the others and the kernel hold the rest.`;
  }
}

/**
 * A compact process view for a heap in the compare grid: its own simulated process (the same
 * knobs as the Process section), its counters, its page grid and the step's paging lines.
 * `shared`: the main heap's card, which reads the Process section's own process (a heap
 * has one process).
 */
export class ProcessCard {
  constructor(view, label, { shared = false } = {}) {
    this.view = view;
    this.label = label;
    this.shared = shared;
    this.proc = null;
    this.glue = null;
    this.heap = null;
    this.error = '';
    this.el = el('div', { class: 'process-card', role: 'group', 'aria-label': `simulated process under ${label}` });
    this.el.append(el('p', { class: 'process-card-title' }, 'Process (simulated)'));
    this.counters = el('dl', { class: 'stats process-card-counters' });
    this.grid = el('div', { class: 'page-grid mini', role: 'img' });
    this.notes = el('div', { class: 'vm-notes process-card-notes' });
    this.el.append(this.counters, this.grid, this.notes);
  }

  /** Attaches its own process to `heap` (not for the shared card). */
  attach(glue, heap) {
    this.glue = glue;
    this.heap = heap;
    if (this.shared) return;
    try { this.proc?.free(); } catch { /* */ }
    this.proc = null;
    this.error = '';
    try {
      this.proc = new glue.Process(heap, this.view.processOptions());
    } catch (e) {
      this.error = `The simulated process is off: ${e.message || e}`;
    }
  }

  /** The knobs changed: a new process with the new knobs. */
  reattach() {
    if (this.shared) { this.render(); return; }
    if (!this.glue || !this.heap) return;
    this.attach(this.glue, this.heap);
    try { this.heap.events(); } catch { /* */ }
    this.render();
  }

  /** Forgets its process (the heap is going). */
  release() {
    if (!this.shared) { try { this.proc?.free(); } catch { /* */ } }
    this.proc = null;
  }

  render() {
    const proc = this.shared ? this.view.proc : this.proc;
    if (!proc) {
      this.counters.replaceChildren(el('dt', {}, 'process'), el('dd', {}, this.error || 'off'));
      this.grid.replaceChildren();
      this.notes.replaceChildren();
      return;
    }
    let s, g, notes;
    try {
      s = proc.stats(); g = proc.pages(); notes = Array.from(proc.notes());
    } catch (e) {
      this.counters.replaceChildren(el('dt', {}, 'process'), el('dd', {}, `off: ${e.message || e}`));
      this.grid.replaceChildren();
      this.notes.replaceChildren();
      return;
    }
    this.stats = s;
    const tlb = s.tlbHits + s.tlbMisses;
    const rows = [
      ['minor faults', num(s.minorFaults)],
      ['major faults', num(s.majorFaults)],
      ['RSS', `${pl(s.rssPages, 'page')} (${kib(s.rssPages * 4096)})`],
      ['TLB hits', tlb ? `${((s.tlbHits / tlb) * 100).toFixed(1)} %` : '–'],
      ['page tables', pl(s.pageTablePages, 'page')],
    ];
    this.counters.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-counter': k }, v)]));
    const pages = g.pages.slice(0, 256);
    const count = { unmapped: 0, mapped: 0, resident: 0, dirty: 0, swapped: 0 };
    const cells = pages.map((p) => {
      const st = p.state === 'resident' && p.dirty ? 'dirty' : p.state;
      count[st]++;
      return el('span', { class: `page page-${st}` });
    });
    this.grid.replaceChildren(...cells);
    this.grid.setAttribute('aria-label', `The heap’s pages under ${this.label}: ${num(pages.length)} of 4 KiB from start_brk, ` +
      `${num(count.resident)} resident and clean, ${num(count.dirty)} resident and dirty, ${num(count.mapped)} mapped but never touched, ` +
      `${num(count.swapped)} swapped out, ${num(count.unmapped)} above the break${g.pages.length > pages.length ? ` (first ${pages.length} shown)` : ''}.`);
    const shown = notes.slice(0, 3).map((t) => el('p', {}, `Simulated: ${t}`));
    if (notes.length > 3) shown.push(el('p', {}, `… and ${num(notes.length - 3)} more`));
    this.notes.replaceChildren(...shown);
  }
}
