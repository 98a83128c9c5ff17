// The heap map: the real heap, drawn from the block walk over its real headers.
//
// Top: an overview of everything the heap has grown, heap start to
// memory.size, to scale, with a ruler of 64 KiB pages, the break, and the
// window the detail shows. Below: the detail, rows of `bytesPerRow` bytes from
// `viewStart`, to scale: header, payload and padding bytes distinguished, free
// blocks hatched, the grown-but-unused part past the break dotted. Blocks
// thinner than a pixel are gathered per pixel. A readable mode draws one cell
// per block (not to scale) for tiny blocks. Free-list arrows link free blocks
// in list order.

import { blockAt, blockIndexAt } from './engine.js';
import { hex } from './narrate.js';

export const COLORS = {          // Okabe–Ito
  used: '#0072B2',               // blue: payload
  pad: '#56B4E9',                // sky blue: padding (dotted)
  header: '#1a1a1a',             // black band: header, footer
  free: '#E69F00',               // orange: free (hatched)
  freeBg: '#FFF3D6',
  quick: '#0072B2',              // blue upright stripes on the free background: in a quick list
  quickBg: '#FFF3D6',
  unused: '#8c8c8c',             // grey dots: grown, past the break
  unusedBg: '#f1f1f1',
  changed: '#CC79A7',            // reddish purple outline: changed by the step
  brk: '#D55E00',                // vermillion: the break
  arrow: '#009E73',              // bluish green: free-list order
  text: '#1a1a1a',
  grid: '#bdbdbd',
  view: '#000000',
};

const PAGE = 65536;

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
    // heaptale's quick lists: freed but still marked used (blue upright
    // stripes on the pale free background: neither solid blue nor orange hatching)
    quick: tile(6, (g, s) => {
      g.fillStyle = COLORS.quickBg; g.fillRect(0, 0, s, s);
      g.fillStyle = COLORS.quick; g.fillRect(0, 0, 2.5, s);
    }),
    pad: tile(6, (g, s) => {
      g.fillStyle = COLORS.pad; g.fillRect(0, 0, s, s);
      g.fillStyle = '#ffffff';
      g.beginPath(); g.arc(s / 2, s / 2, 1.1, 0, Math.PI * 2); g.fill();
    }),
    unused: tile(6, (g, s) => {
      g.fillStyle = COLORS.unusedBg; g.fillRect(0, 0, s, s);
      g.fillStyle = COLORS.unused;
      g.beginPath(); g.arc(s / 2, s / 2, 1, 0, Math.PI * 2); g.fill();
    }),
  };
}

export class HeapMap {
  /**
   * `canvas`: the map; `opts.compact`: a small map (compare panels) without
   * labels, focus or arrows.
   */
  constructor(canvas, opts = {}) {
    this.canvas = canvas;
    this.compact = Boolean(opts.compact);
    this.data = null;
    this.bytesPerRow = null;   // null: fit the heap
    this.viewStart = 0;        // offset from heap start of the first row
    this.readable = false;
    this.arrows = true;
    this.focus = -1;           // focused block index
    this.selected = -1;        // selected block index
    this.changed = new Set();  // changed block indexes
    this.patterns = null;
    this.cells = [];           // readable mode: [x, y, w, h, index]
    this.geom = null;
    this.lastDrawMs = 0;
  }

  /**
   * `d`: {packed, free, heapStart, brk, memoryBytes, memoryEnd, changedAddrs,
   * header, policy}; addresses as reported (memoryEnd: memory.size as one).
   */
  setData(d) {
    this.data = d;
    const n = d.packed.length / 4;
    this.changed = new Set();
    for (const a of d.changedAddrs || []) {
      const i = blockIndexAt(d.packed, a);
      if (i >= 0) this.changed.add(i);
    }
    if (this.focus >= n) this.focus = n - 1;
    if (this.selected >= n) this.selected = -1;
    this.clampView();
  }

  span() {
    const d = this.data;
    return d ? Math.max(0, d.brk - d.heapStart) : 0;
  }

  maxRows() {
    return this.compact ? 10 : (this.canvas.parentElement.clientWidth < 520 ? 14 : 20);
  }

  /** The bytes per row that fit the whole heap (a power of two, at least 64). */
  fitBytesPerRow() {
    // the smallest power of two (at least 64) that fits the heap in the rows
    let rb = 64;
    const span = this.span();
    while (span / rb > this.maxRows()) rb *= 2;
    return rb;
  }

  rowBytes() {
    const fit = this.fitBytesPerRow();
    return this.bytesPerRow && this.bytesPerRow < fit ? this.bytesPerRow : fit;
  }

  isFit() {
    return this.rowBytes() === this.fitBytesPerRow();
  }

  zoomIn() {
    const rb = this.rowBytes();
    if (rb <= 16) return false;
    const centre = this.viewStart + (rb * this.maxRows()) / 2;
    this.bytesPerRow = rb / 2;
    this.viewStart = centre - (this.bytesPerRow * this.maxRows()) / 2;
    this.clampView();
    return true;
  }

  zoomOut() {
    if (this.isFit()) return false;
    const rb = this.rowBytes();
    const centre = this.viewStart + (rb * this.maxRows()) / 2;
    this.bytesPerRow = rb * 2;
    if (this.bytesPerRow >= this.fitBytesPerRow()) this.bytesPerRow = null;
    this.viewStart = centre - (this.rowBytes() * this.maxRows()) / 2;
    this.clampView();
    return true;
  }

  fit() {
    this.bytesPerRow = null;
    this.viewStart = 0;
  }

  /** Moves the window by `rows` rows. */
  pan(rows) {
    this.viewStart += rows * this.rowBytes();
    this.clampView();
  }

  /** Keeps the window inside the heap and aligned to rows. */
  clampView() {
    const rb = this.rowBytes();
    const rows = this.visibleRows();
    const span = this.span();
    const maxStart = Math.max(0, Math.ceil(span / rb) * rb - rows * rb);
    this.viewStart = Math.max(0, Math.min(maxStart, Math.floor(this.viewStart / rb) * rb));
  }

  visibleRows() {
    const rb = this.rowBytes();
    return Math.max(1, Math.min(this.maxRows(), Math.ceil(this.span() / rb)));
  }

  /** Shows block `i` in the window. */
  reveal(i) {
    const d = this.data;
    if (!d || i < 0) return;
    const b = blockAt(d.packed, i);
    const off = b.addr - d.heapStart;
    const rb = this.rowBytes();
    const rows = this.visibleRows();
    if (this.readable) {
      this.viewStart = off;
      this.readableFrom = i;
      return;
    }
    if (this.isFit()) return;
    if (off < this.viewStart || off + Math.min(b.size, rb) > this.viewStart + rows * rb) {
      this.viewStart = off - Math.floor(rows / 2) * rb;
      this.clampView();
    }
  }

  barWidth() {
    const w = Math.max(200, Math.floor(this.canvas.parentElement.clientWidth));
    return w - this.gutter(w) - 4;
  }

  gutter(w) {
    return this.compact || w < 520 ? 0 : 72;
  }

  // ---------------------------------------------------------------- drawing

  draw() {
    const t0 = performance.now();
    const canvas = this.canvas;
    const d = this.data;
    const width = Math.max(200, Math.floor(canvas.parentElement.clientWidth));
    const dpr = window.devicePixelRatio || 1;
    const gutter = this.gutter(width);
    const barW = width - gutter - 4;
    const compact = this.compact;
    const overviewTop = compact ? 4 : 16;
    const overviewH = compact ? 12 : 20;
    const detailTop = overviewTop + overviewH + (compact ? 8 : 40);
    const rowH = compact ? 16 : (this.readable ? 34 : 28);
    const rb = this.rowBytes();
    const rows = this.readable ? this.maxRows() : this.visibleRows();
    const height = detailTop + rows * rowH + 6;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (!this.patterns || this.patterns.dpr !== dpr) this.patterns = makePatterns(ctx, dpr);
    const P = this.patterns;
    ctx.clearRect(0, 0, width, height);
    ctx.font = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
    ctx.textBaseline = 'middle';
    this.geom = { width, gutter, barW, overviewTop, overviewH, detailTop, rowH, rb, rows };
    if (!d) return;
    const { packed, heapStart, brk, memoryBytes } = d;
    // memory.size as a reported address (they differ when reports start at a base)
    const memoryEnd = d.memoryEnd ?? memoryBytes;
    const n = packed.length / 4;

    // ---- overview: heap start .. memory.size, gathered per pixel
    const total = Math.max(1, memoryEnd - heapStart);
    const ox = (off) => gutter + (off / total) * barW;
    ctx.fillStyle = P.unused;
    ctx.fillRect(gutter, overviewTop, barW, overviewH);
    this.drawGathered(ctx, packed, 0, n, heapStart, 0, total, gutter, overviewTop, barW, overviewH, P);
    // page ruler: a tick every 64 KiB page (every k pages when they are many)
    const pages = total / PAGE;
    const every = pages <= 64 ? 1 : Math.ceil(pages / 64);
    ctx.fillStyle = COLORS.text;
    for (let p = 0; p <= pages; p += every) {
      const x = Math.round(ox(p * PAGE)) + 0.5;
      ctx.fillRect(x - 0.5, overviewTop + overviewH, 1, p % (every * 4) === 0 ? 5 : 3);
    }
    ctx.strokeStyle = COLORS.text; ctx.lineWidth = 1;
    ctx.strokeRect(gutter + 0.5, overviewTop + 0.5, barW - 1, overviewH - 1);
    // the window the detail shows
    if (!this.readable && !this.isFit()) {
      const x0 = ox(this.viewStart);
      const x1 = ox(Math.min(this.span(), this.viewStart + rows * rb));
      ctx.strokeStyle = COLORS.view; ctx.lineWidth = 2;
      ctx.strokeRect(x0, overviewTop - 2, Math.max(3, x1 - x0), overviewH + 4);
    }
    // a step that grew the heap: the new bytes flash (held still under reduced motion)
    if (this.flash) {
      const f = this.flash;
      const a = f.still ? 0.55 : Math.max(0, 0.75 * (1 - (performance.now() - f.t0) / 900));
      ctx.fillStyle = `rgba(213, 94, 0, ${a.toFixed(3)})`;
      const fx = ox(f.from - heapStart);
      ctx.fillRect(fx, overviewTop - 3, Math.max(3, ox(f.to - heapStart) - fx), overviewH + 6);
    }
    // the break
    const bx = Math.round(ox(brk - heapStart)) + 0.5;
    ctx.strokeStyle = COLORS.brk; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(bx, overviewTop - (compact ? 3 : 6)); ctx.lineTo(bx, overviewTop + overviewH + 4); ctx.stroke();
    if (!compact) {
      // above the bar: the heap's start; below it: the break at its place, then memory.size
      ctx.fillStyle = COLORS.text;
      ctx.textAlign = 'left';
      ctx.fillText(`heap start ${hex(heapStart)}`, gutter, overviewTop - 8);
      const brkLabel = `brk ${hex(brk)}`;
      const bw = ctx.measureText(brkLabel).width;
      ctx.fillStyle = COLORS.brk;
      ctx.fillText(brkLabel, Math.min(Math.max(gutter, bx - bw / 2), gutter + barW - bw), overviewTop + overviewH + 13);
      ctx.fillStyle = COLORS.text;
      ctx.textAlign = 'right';
      const pagesText = `${(memoryBytes / PAGE).toLocaleString('en')} pages`;
      ctx.fillText(memoryEnd === memoryBytes ? `memory.size ${hex(memoryBytes)} (${pagesText})`
        : `memory.size ends at ${hex(memoryEnd)} (${pagesText})`, gutter + barW, overviewTop + overviewH + 27);
      ctx.textAlign = 'left';
      if (gutter > 0) ctx.fillText('grown', 0, overviewTop + overviewH / 2);
    }

    // ---- detail
    if (this.readable) this.drawReadable(ctx, d, detailTop, rowH, rows, gutter, barW, P);
    else this.drawScaled(ctx, d, detailTop, rowH, rows, rb, gutter, barW, P);
    this.lastDrawMs = performance.now() - t0;
  }

  /** Blocks [i0, i1) gathered per pixel over [off0, off0 + len) in a bar. */
  drawGathered(ctx, packed, i0, i1, heapStart, off0, len, x0, y, w, h, P) {
    const px = w / len;
    let curX = -1;
    let usedB = 0;
    let freeB = 0;
    let quickB = 0;
    const flush = () => {
      if (curX < 0 || usedB + freeB + quickB === 0) return;
      ctx.fillStyle = quickB > usedB && quickB > freeB ? P.quick : usedB >= freeB ? COLORS.used : P.free;
      ctx.fillRect(x0 + curX, y, 1, h);
    };
    for (let i = i0; i < i1; i++) {
      const a = packed[i * 4] - heapStart - off0;
      const s = packed[i * 4 + 1];
      const w = packed[i * 4 + 3];
      const used = (w & 0x80000000) !== 0;
      const quick = (w & 0x40000000) !== 0;
      const xa = a * px;
      const xb = (a + s) * px;
      if (xb - xa >= 2) {
        flush(); curX = -1; usedB = 0; freeB = 0; quickB = 0;
        ctx.fillStyle = quick ? P.quick : used ? COLORS.used : P.free;
        ctx.fillRect(x0 + xa, y, xb - xa, h);
        continue;
      }
      const pxi = Math.floor(xa);
      if (pxi !== curX) { flush(); curX = pxi; usedB = 0; freeB = 0; quickB = 0; }
      if (quick) quickB += s; else if (used) usedB += s; else freeB += s;
    }
    flush();
  }

  drawScaled(ctx, d, top, rowH, rows, rb, gutter, barW, P) {
    const { packed, heapStart } = d;
    const n = packed.length / 4;
    const span = this.span();
    const px = barW / rb;
    const v0 = this.viewStart;
    const v1 = Math.min(span, v0 + rows * rb);
    this.segEnd = v0 + rows * rb;
    const bandH = rowH - 6;
    // row labels
    if (gutter > 0) {
      ctx.textAlign = 'left';
      ctx.fillStyle = COLORS.text;
      for (let r = 0; r < rows; r++) {
        const a = heapStart + v0 + r * rb;
        if (v0 + r * rb >= span && span > 0) break;
        ctx.fillText(hex(a), 0, top + r * rowH + bandH / 2);
      }
    }
    if (span === 0) {
      ctx.fillStyle = COLORS.text;
      ctx.textAlign = 'left';
      ctx.fillText('The heap is empty: the break is at the heap\'s start.', gutter + 6, top + bandH / 2);
      return;
    }
    // past the break, to the end of the last row: grown but unused
    const lastRowEnd = v0 + rows * rb;
    if (span < lastRowEnd) this.segments(span, lastRowEnd - span, rb, v0, (r, o, len) => {
      ctx.fillStyle = P.unused;
      ctx.fillRect(gutter + o * px, top + r * rowH, len * px, bandH);
    });
    let i = Math.max(0, blockIndexAt(packed, heapStart + v0));
    // gathering of sub-pixel blocks: one pixel column of one row at a time
    let gRow = -1; let gX = -1; let gUsed = 0; let gFree = 0; let gQuick = 0;
    const flush = () => {
      if (gRow < 0 || gUsed + gFree + gQuick === 0) return;
      ctx.fillStyle = gQuick > gUsed && gQuick > gFree ? P.quick : gUsed >= gFree ? COLORS.used : P.free;
      ctx.fillRect(gutter + gX, top + gRow * rowH, 1, bandH);
      gRow = -1; gUsed = 0; gFree = 0; gQuick = 0;
    };
    const labels = [];
    for (; i < n; i++) {
      const addr = packed[i * 4];
      const off = addr - heapStart;
      if (off >= v1) break;
      const size = packed[i * 4 + 1];
      const word = packed[i * 4 + 3];
      const used = (word & 0x80000000) !== 0;
      const quick = (word & 0x40000000) !== 0;
      if (size * px < 1.5) {
        const rel = off - v0;
        const r = Math.floor(Math.max(0, rel) / rb);
        const x = Math.floor((Math.max(0, rel) % rb) * px);
        if (r !== gRow || x !== gX) { flush(); gRow = r; gX = x; }
        if (quick) gQuick += size; else if (used) gUsed += size; else gFree += size;
        continue;
      }
      flush();
      const requested = packed[i * 4 + 2];
      const header = Math.min(word & 0x3fffffff, size);
      this.segments(off, size, rb, v0, (r, o, len) => {
        ctx.fillStyle = quick ? P.quick : used ? COLORS.used : P.free;
        ctx.fillRect(gutter + o * px, top + r * rowH, len * px, bandH);
      });
      if (used && !quick && requested + header < size) {
        this.segments(off + header + requested, size - header - requested, rb, v0, (r, o, len) => {
          ctx.fillStyle = P.pad;
          ctx.fillRect(gutter + o * px, top + r * rowH, len * px, bandH);
        });
      }
      if (header * px >= 0.5) {
        const hb = this.compact ? 3 : 7;
        this.segments(off, header, rb, v0, (r, o, len) => {
          ctx.fillStyle = COLORS.header;
          ctx.fillRect(gutter + o * px, top + r * rowH + bandH - hb, Math.max(1, len * px), hb);
        });
        if (!used && size >= header + 12 && d.policy !== 'buddy') { // the free block's footer (size word)
          this.segments(off + size - 4, 4, rb, v0, (r, o, len) => {
            ctx.fillStyle = COLORS.header;
            ctx.fillRect(gutter + o * px, top + r * rowH + bandH - hb, Math.max(1, len * px), hb);
          });
        }
      }
      // block boundary
      if (off >= v0) {
        const r0 = Math.floor((off - v0) / rb);
        ctx.fillStyle = '#ffffff';
        ctx.fillRect(gutter + ((off - v0) % rb) * px, top + r0 * rowH, Math.min(1.5, size * px / 4), bandH);
        labels.push([i, off, size, used && !quick]);
      }
    }
    flush();
    // size labels where they fit
    if (!this.compact) {
      ctx.textAlign = 'left';
      for (const [, off, size, used] of labels) {
        const rel = off - v0;
        const r0 = Math.floor(rel / rb);
        const firstLen = Math.min(size, rb - (rel % rb));
        const label = String(size);
        const tw = ctx.measureText(label).width;
        if (tw + 8 >= firstLen * px) continue;
        const x = gutter + (rel % rb) * px;
        const y = top + r0 * rowH;
        if (!used) {
          ctx.fillStyle = COLORS.freeBg;
          ctx.fillRect(x + 3, y + 2, tw + 4, 13);
          ctx.fillStyle = '#000';
        } else {
          ctx.fillStyle = '#ffffff';
        }
        ctx.fillText(label, x + 5, y + 9);
      }
    }
    // outlines: changed (purple), selected (dashed black), focused (black)
    const outline = (idx, color, w, dash) => {
      if (idx < 0 || idx >= n) return;
      const off = packed[idx * 4] - heapStart;
      const size = packed[idx * 4 + 1];
      if (off + size <= v0 || off >= v1) return;
      ctx.strokeStyle = color; ctx.lineWidth = w; ctx.setLineDash(dash);
      const s0 = Math.max(off, v0);
      this.segments(s0, Math.min(off + size, v1) - s0, rb, v0, (r, o, len) => {
        ctx.strokeRect(gutter + o * px + w / 2, top + r * rowH + w / 2, Math.max(2, len * px - w), bandH - w);
      });
      ctx.setLineDash([]);
    };
    for (const idx of this.changed) outline(idx, COLORS.changed, 3, []);
    outline(this.selected, '#000', 2, [4, 3]);
    outline(this.focus, '#000', 2, []);
    if (this.arrows && !this.compact) this.drawArrows(ctx, d, top, rowH, rb, gutter, px, v0, v1);
  }

  /** Free-list order: an arc from each free block to the next in its list. */
  drawArrows(ctx, d, top, rowH, rb, gutter, px, v0, v1) {
    const { free, heapStart } = d;
    const m = free.length / 3;
    let drawn = 0;
    ctx.strokeStyle = COLORS.arrow;
    ctx.fillStyle = COLORS.arrow;
    ctx.lineWidth = 1.6;
    const point = (addr, size) => {
      const off = addr - heapStart + Math.min(size, rb) / 2;
      const rel = off - v0;
      return [gutter + (rel % rb) * px, top + Math.floor(rel / rb) * rowH];
    };
    for (let j = 0; j + 1 < m && drawn < 300; j++) {
      if (free[j * 3] !== free[(j + 1) * 3]) continue; // another list
      const a = free[j * 3 + 1]; const as = free[j * 3 + 2];
      const b = free[(j + 1) * 3 + 1]; const bs = free[(j + 1) * 3 + 2];
      const ao = a - heapStart; const bo = b - heapStart;
      if ((ao < v0 || ao >= v1) && (bo < v0 || bo >= v1)) continue;
      if (as * px < 3 && bs * px < 3) continue;
      const [x1, y1] = point(a, as);
      const [x2, y2] = point(b, bs);
      const lift = Math.min(26, 8 + Math.abs(x2 - x1) / 6) + Math.abs(y2 - y1) / 4;
      ctx.beginPath();
      ctx.moveTo(x1, y1 + 2);
      ctx.bezierCurveTo(x1, y1 - lift, x2, y2 - lift, x2, y2 + 1);
      ctx.stroke();
      // the head, pointing down into the next block
      ctx.beginPath();
      ctx.moveTo(x2, y2 + 3); ctx.lineTo(x2 - 4, y2 - 4); ctx.lineTo(x2 + 4, y2 - 4); ctx.closePath();
      ctx.fill();
      drawn++;
    }
  }

  /** Readable mode: one cell per block, in address order, not to scale. */
  drawReadable(ctx, d, top, rowH, rows, gutter, barW, P) {
    const { packed, heapStart } = d;
    const n = packed.length / 4;
    this.cells = [];
    if (n === 0) {
      ctx.fillStyle = COLORS.text;
      ctx.textAlign = 'left';
      ctx.fillText('The heap is empty: the break is at the heap\'s start.', gutter + 6, top + 10);
      return;
    }
    let i = Math.max(0, blockIndexAt(packed, heapStart + this.viewStart));
    let x = 0; let r = 0;
    const bandH = rowH - 8;
    ctx.textAlign = 'left';
    for (; i < n && r < rows; i++) {
      const b = blockAt(packed, i);
      const label = `${b.size}`;
      const w = Math.max(34, Math.min(140, 14 + 10 * Math.log2(Math.max(2, b.size))));
      if (x + w > barW && x > 0) { x = 0; r++; if (r >= rows) break; }
      if (x === 0 && gutter > 0) {
        ctx.fillStyle = COLORS.text;
        ctx.fillText(hex(b.addr), 0, top + r * rowH + bandH / 2);
      }
      const cx = gutter + x; const cy = top + r * rowH;
      const solid = b.used && !b.quick;
      ctx.fillStyle = b.quick ? P.quick : b.used ? COLORS.used : P.free;
      ctx.fillRect(cx, cy, w - 3, bandH);
      if (solid && b.requested + b.header < b.size) {
        const padW = Math.max(3, ((b.size - b.header - b.requested) / b.size) * (w - 3));
        ctx.fillStyle = P.pad;
        ctx.fillRect(cx + w - 3 - padW, cy, padW, bandH);
      }
      ctx.fillStyle = COLORS.header;
      ctx.fillRect(cx, cy + bandH - 6, 6, 6);
      ctx.fillStyle = solid ? '#fff' : '#000';
      if (!solid) { ctx.fillStyle = COLORS.freeBg; ctx.fillRect(cx + 7, cy + 3, ctx.measureText(label).width + 4, 13); ctx.fillStyle = '#000'; }
      ctx.fillText(label, cx + 9, cy + 10);
      const outline = (color, lw, dash) => {
        ctx.strokeStyle = color; ctx.lineWidth = lw; ctx.setLineDash(dash);
        ctx.strokeRect(cx + lw / 2, cy + lw / 2, w - 3 - lw, bandH - lw);
        ctx.setLineDash([]);
      };
      if (this.changed.has(i)) outline(COLORS.changed, 3, []);
      if (i === this.selected) outline('#000', 2, [4, 3]);
      if (i === this.focus) outline('#000', 2, []);
      this.cells.push([cx, cy, w - 3, bandH, i]);
      x += w;
    }
  }

  /** Calls fn(row, offsetInRow, len) for the pieces of [off, off+len) in the window's rows. */
  segments(off, len, rb, v0, fn) {
    let o = Math.max(off, v0);
    const end = Math.min(off + len, this.segEnd ?? Infinity);
    while (o < end) {
      const rel = o - v0;
      const r = Math.floor(rel / rb);
      const inRow = rel % rb;
      const k = Math.min(end - o, rb - inRow);
      fn(r, inRow, k);
      o += k;
    }
  }

  /** The block index under a point of the canvas (CSS pixels), or -1. */
  hit(x, y) {
    const d = this.data; const g = this.geom;
    if (!d || !g) return -1;
    if (this.readable) {
      for (const [cx, cy, w, h, i] of this.cells) if (x >= cx && x < cx + w && y >= cy && y < cy + h) return i;
      return -1;
    }
    if (y >= g.overviewTop && y < g.overviewTop + g.overviewH && x >= g.gutter) {
      const total = Math.max(1, (d.memoryEnd ?? d.memoryBytes) - d.heapStart);
      const off = ((x - g.gutter) / g.barW) * total;
      return blockIndexAt(d.packed, d.heapStart + Math.floor(off));
    }
    if (y < g.detailTop || x < g.gutter) return -1;
    const r = Math.floor((y - g.detailTop) / g.rowH);
    if (r >= g.rows || (y - g.detailTop) % g.rowH > g.rowH - 6) return -1;
    const off = this.viewStart + r * g.rb + ((x - g.gutter) / g.barW) * g.rb;
    return blockIndexAt(d.packed, d.heapStart + Math.floor(off));
  }

  /** Whether a point lies on the overview bar (a click there moves the window). */
  overviewOffset(x, y) {
    const d = this.data; const g = this.geom;
    if (!d || !g || y < g.overviewTop - 4 || y > g.overviewTop + g.overviewH + 4 || x < g.gutter) return null;
    const total = Math.max(1, (d.memoryEnd ?? d.memoryBytes) - d.heapStart);
    return ((x - g.gutter) / g.barW) * total;
  }
}

/**
 * The buddy tree as rows, one per block order (largest on top): each block is
 * drawn in the row of its size, under the blocks it was split from (drawn as
 * split nodes). `d`: as HeapMap data; `changed`: changed block indexes.
 */
export function drawBuddy(canvas, d, changed = new Set()) {
  const box = canvas.parentElement;
  const width = Math.max(200, Math.floor(box.clientWidth));
  const dpr = window.devicePixelRatio || 1;
  const { packed } = d;
  const n = packed.length / 4;
  const ctx0 = canvas.getContext('2d');
  if (n === 0) {
    canvas.width = Math.round(width * dpr); canvas.height = Math.round(24 * dpr);
    canvas.style.width = `${width}px`; canvas.style.height = '24px';
    ctx0.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx0.font = '12px system-ui, sans-serif'; ctx0.fillStyle = COLORS.text;
    ctx0.fillText('No blocks yet.', 4, 16);
    canvas.setAttribute('aria-label', 'Buddy tree: no blocks yet.');
    return;
  }
  const first = packed[0];
  const last = packed[(n - 1) * 4] + packed[(n - 1) * 4 + 1];
  const span = last - first;
  // the trees: one per set bit of the span, largest first (one tree for a growable heap)
  const trees = [];
  let at = 0;
  for (let k = 31; k >= 0; k--) {
    const size = 2 ** k;
    if (span & size || (k === 31 && span >= 2 ** 31)) { trees.push([at, size]); at += size; }
  }
  const maxK = Math.round(Math.log2(trees[0][1]));
  let minK = maxK;
  for (let i = 0; i < n; i++) minK = Math.min(minK, Math.round(Math.log2(packed[i * 4 + 1])));
  const levels = Math.min(maxK - minK + 1, 24);
  const rowH = 18;
  const labelW = 64;
  const barW = width - labelW - 4;
  const height = levels * rowH + 4;
  canvas.width = Math.round(width * dpr); canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`; canvas.style.height = `${height}px`;
  const ctx = ctx0;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = '11px ui-monospace, monospace';
  ctx.textBaseline = 'middle';
  const px = barW / span;
  for (let r = 0; r < levels; r++) {
    ctx.fillStyle = COLORS.text;
    const k = maxK - r;
    ctx.fillText(k >= 20 ? `${2 ** (k - 20)} MiB` : k >= 10 ? `${2 ** (k - 10)} KiB` : `${2 ** k} B`, 0, r * rowH + rowH / 2);
  }
  const pats = makePatterns(ctx, dpr);
  for (let i = 0; i < n; i++) {
    const off = packed[i * 4] - first;
    const size = packed[i * 4 + 1];
    const used = (packed[i * 4 + 3] & 0x80000000) !== 0;
    const k = Math.round(Math.log2(size));
    const row = maxK - k;
    const tree = trees.find(([t, s]) => off >= t && off < t + s) || trees[0];
    const treeRow = maxK - Math.round(Math.log2(tree[1]));
    const x = labelW + off * px;
    const w = Math.max(1, size * px);
    // the split ancestors, from the tree's root down, each with its left edge
    // where this block is the leftmost part of it
    for (let r = treeRow; r < Math.min(row, levels); r++) {
      ctx.fillStyle = '#e4e4e4';
      ctx.fillRect(x, r * rowH + 2, w, rowH - 4);
      const node = 2 ** (maxK - r);
      if ((off - tree[0]) % node === 0) {
        ctx.fillStyle = '#8a8a8a';
        ctx.fillRect(x, r * rowH + 2, 1, rowH - 4);
      }
    }
    if (row < levels) {
      ctx.fillStyle = used ? COLORS.used : pats.free;
      ctx.fillRect(x, row * rowH + 2, w, rowH - 4);
      if (w > 3) { ctx.fillStyle = '#fff'; ctx.fillRect(x, row * rowH + 2, 1, rowH - 4); }
      if (changed.has(i)) {
        ctx.strokeStyle = COLORS.changed; ctx.lineWidth = 2;
        ctx.strokeRect(x + 1, row * rowH + 3, Math.max(2, w - 2), rowH - 6);
      }
    }
  }
  let used = 0;
  for (let i = 0; i < n; i++) if (packed[i * 4 + 3] & 0x80000000) used++;
  canvas.setAttribute('aria-label', `Buddy tree of ${trees.length} tree${trees.length > 1 ? 's' : ''} over ${span.toLocaleString('en')} bytes: ${n} blocks (${used} used, ${n - used} free) from ${2 ** minK} to ${2 ** maxK} bytes.`);
}
