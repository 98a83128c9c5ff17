// A small SVG chart of the heap's figures over the steps (no library): bytes
// (heap size, live bytes), ratios (utilization, internal and external
// fragmentation) and probes per step, with a cursor at the current step.
// Lines differ by colour (Okabe–Ito) and by dash pattern.

const NS = 'http://www.w3.org/2000/svg';

export const FIELDS = ['step', 'live', 'heap', 'used', 'freeBytes', 'freeBlocks', 'largest', 'probes', 'usedBlocks', 'memory'];

/** Rows of the engine's series() as objects with the derived ratios. */
export function rows(series) {
  const out = [];
  let prev = null;
  for (let i = 0; i + FIELDS.length <= series.length; i += FIELDS.length) {
    const r = {};
    FIELDS.forEach((f, k) => { r[f] = series[i + k]; });
    r.utilization = r.heap ? r.live / r.heap : 0;
    r.internal = r.used ? (r.used - r.live) / r.used : 0;
    r.external = r.freeBytes ? 1 - r.largest / r.freeBytes : 0;
    r.probesPerStep = prev && r.step > prev.step ? (r.probes - prev.probes) / (r.step - prev.step) : 0;
    out.push(r);
    prev = r;
  }
  return out;
}

const PANELS = [
  { title: 'Bytes', h: 110, lines: [
    { key: 'heap', label: 'heap (brk − start)', color: '#D55E00', dash: '' },
    { key: 'live', label: 'live bytes', color: '#0072B2', dash: '6 3' },
    { key: 'largest', label: 'largest free block', color: '#E69F00', dash: '2 2' },
  ], fmt: (v) => (v >= 1 << 20 ? `${(v / (1 << 20)).toFixed(1)} MiB` : v >= 1024 ? `${(v / 1024).toFixed(0)} KiB` : `${v} B`) },
  { title: 'Ratios', h: 90, max: 1, lines: [
    { key: 'utilization', label: 'utilization', color: '#009E73', dash: '' },
    { key: 'internal', label: 'internal fragmentation', color: '#CC79A7', dash: '6 3' },
    { key: 'external', label: 'external fragmentation', color: '#E69F00', dash: '2 2' },
  ], fmt: (v) => `${Math.round(v * 100)} %` },
  { title: 'Free blocks', h: 70, lines: [
    { key: 'freeBlocks', label: 'free blocks', color: '#CC79A7', dash: '' },
  ], fmt: (v) => v.toLocaleString('en', { maximumFractionDigits: 0 }) },
  { title: 'Probes per step', h: 70, lines: [
    { key: 'probesPerStep', label: 'free blocks examined per allocation step', color: '#56B4E9', dash: '' },
  ], fmt: (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)) },
];

function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * Draws `data` (rows()) into the container `box`; `pos` is the current step,
 * `steps` the number of steps. `onPick(step)` is called on a click.
 */
export function drawChart(box, data, pos, steps, onPick) {
  const W = Math.max(280, Math.min(900, box.clientWidth || 640));
  const svg = el('svg', { viewBox: `0 0 ${W} ${PANELS.reduce((a, p) => a + p.h + 24, 0)}`, class: 'chart', 'aria-hidden': 'true', focusable: 'false' });
  const left = 62; const right = 8;
  const plotW = W - left - right;
  const xMax = Math.max(1, steps);
  const x = (s) => left + (s / xMax) * plotW;
  let y0 = 0;
  for (const p of PANELS) {
    const top = y0 + 16; const h = p.h - 8;
    svg.append(el('text', { x: 0, y: y0 + 11, class: 'chart-title' }, p.title));
    let max = p.max ?? 0;
    if (!p.max) for (const r of data) for (const l of p.lines) max = Math.max(max, r[l.key]);
    if (max <= 0) max = 1;
    const y = (v) => top + h - (v / max) * h;
    svg.append(el('line', { x1: left, y1: top + h, x2: left + plotW, y2: top + h, class: 'axis' }));
    svg.append(el('line', { x1: left, y1: top, x2: left, y2: top + h, class: 'axis' }));
    svg.append(el('text', { x: left - 4, y: top + 4, class: 'tick', 'text-anchor': 'end' }, p.fmt(max)));
    svg.append(el('text', { x: left - 4, y: top + h, class: 'tick', 'text-anchor': 'end' }, p.fmt(0)));
    for (const l of p.lines) {
      if (!data.length) continue;
      let d = '';
      // at most ~2 points per pixel
      const every = Math.max(1, Math.floor(data.length / (plotW * 2)));
      for (let i = 0; i < data.length; i += every) d += `${d ? 'L' : 'M'}${x(data[i].step).toFixed(1)},${y(data[i][l.key]).toFixed(1)}`;
      const last = data[data.length - 1];
      d += `L${x(last.step).toFixed(1)},${y(last[l.key]).toFixed(1)}`;
      svg.append(el('path', { d, fill: 'none', stroke: l.color, 'stroke-width': 2, 'stroke-dasharray': l.dash }));
    }
    y0 += p.h + 24;
  }
  // the cursor
  const cx = x(Math.min(pos, xMax));
  svg.append(el('line', { x1: cx, y1: 12, x2: cx, y2: y0 - 8, class: 'cursor' }));
  svg.addEventListener('click', (ev) => {
    const rect = svg.getBoundingClientRect();
    const sx = ((ev.clientX - rect.left) / rect.width) * W;
    if (sx < left) return;
    onPick(Math.round(((sx - left) / plotW) * xMax));
  });
  const legend = document.createElement('ul');
  legend.className = 'chart-legend';
  for (const p of PANELS) for (const l of p.lines) {
    const li = document.createElement('li');
    const sw = el('svg', { width: 28, height: 10, 'aria-hidden': 'true' });
    sw.append(el('line', { x1: 0, y1: 5, x2: 28, y2: 5, stroke: l.color, 'stroke-width': 2.5, 'stroke-dasharray': l.dash }));
    li.append(sw, ` ${l.label}`);
    legend.append(li);
  }
  box.replaceChildren(svg, legend);
}

/** A sentence that says what the chart shows, for screen readers. */
export function describeChart(data, steps) {
  if (!data.length) return 'No figures yet.';
  const last = data[data.length - 1];
  let peakLive = data[0]; let peakHeap = data[0];
  for (const r of data) {
    if (r.live > peakLive.live) peakLive = r;
    if (r.heap > peakHeap.heap) peakHeap = r;
  }
  const pct = (v) => `${Math.round(v * 100)} %`;
  return `Over ${steps.toLocaleString('en')} steps the heap grew to ${peakHeap.heap.toLocaleString('en')} bytes; ` +
    `live bytes peaked at ${peakLive.live.toLocaleString('en')} at step ${peakLive.step.toLocaleString('en')}. ` +
    `At the last step: utilization ${pct(last.utilization)}, internal fragmentation ${pct(last.internal)}, external fragmentation ${pct(last.external)}, ` +
    `${last.freeBlocks.toLocaleString('en')} free blocks, the largest ${last.largest.toLocaleString('en')} bytes.`;
}
