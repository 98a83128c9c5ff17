// The hex view of one block: its real bytes, read from the instance's
// WebAssembly.Memory, with the header fields, links, footer, payload and
// padding labelled (the formats of src/policy/block.rs and buddy.rs).

import { hex } from './narrate.js';

const MAX_BYTES = 512;
const MAX_BYTES_NARROW = 256;

/** Byte roles of a block, by offset in the block: [from, to, role, label]. */
export function fields(b, words, policy) {
  const out = [];
  const h = b.header;
  const w0 = words(0);
  if (policy === 'buddy') {
    const k = w0 & 0xff; const s = (w0 >>> 8) & 0x1f; const u = (w0 >>> 15) & 1; const magic = w0 >>> 16;
    out.push([0, 4, 'hdr', `header word ${hex(w0)}: order ${k} (a ${1 << k}-byte block), ${u ? 'used' : 'free'}, alignment shift ${s}, magic ${hex(magic)}`]);
  } else {
    const size = w0 & 0x3fffffff; const u = (w0 >>> 31) & 1; const p = (w0 >>> 30) & 1;
    out.push([0, 4, 'hdr', `header word ${hex(w0)}: size ${size}, ${u ? 'used (U=1)' : 'free (U=0)'}, ${p ? 'the block before is used (P=1)' : 'the block before is free (P=0)'}`]);
  }
  if (h >= 8) out.push([4, 8, 'tag', `check tag ${hex(words(4))}: ties the header to its offset, size and state`]);
  if (h > 8) out.push([8, h, 'hdr2', `rest of the ${h}-byte header`]);
  else if (h > 4 && h < 8) out.push([4, h, 'hdr2', `rest of the ${h}-byte header`]);
  if (b.used) {
    const req = Math.min(b.requested, b.size - h);
    if (req > 0) out.push([h, h + req, 'payload', `payload: ${req} bytes asked for`]);
    if (h + req < b.size) out.push([h + req, b.size, 'pad', `padding: ${b.size - h - req} bytes (alignment, minimum block size)`]);
  } else {
    const nil = (v) => (v === 0xffffffff ? 'none' : `offset ${hex(v)}`);
    if (b.size >= h + 8) {
      out.push([h, h + 4, 'link', `next free block in the list: ${nil(words(h))}`]);
      out.push([h + 4, h + 8, 'link', `previous free block in the list: ${nil(words(h + 4))}`]);
    }
    const footer = policy !== 'buddy' && b.size >= h + 12;
    const end = footer ? b.size - 4 : b.size;
    if (h + 8 < end) out.push([h + 8, end, 'stale', 'free bytes (old contents)']);
    if (footer) out.push([b.size - 4, b.size, 'footer', `footer: size ${words(b.size - 4)}`]);
  }
  return out;
}

/** Bytes as text: printable ASCII as itself, anything else as a middle dot. */
export function printable(bytes) {
  let s = '';
  for (const c of bytes) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '\u00b7';
  return s;
}

/**
 * Renders block `b` into `el`: a table of rows of `perRow` bytes and the list
 * of fields. `view`: the block's bytes (a Uint8Array over real memory).
 */
export function renderHex(el, b, view, policy, perRow = 16) {
  const shown = Math.min(view.length, perRow < 16 ? MAX_BYTES_NARROW : MAX_BYTES);
  const dv = new DataView(view.buffer, view.byteOffset, view.byteLength);
  const words = (o) => (o + 4 <= view.length ? dv.getUint32(o, true) : 0);
  const fs = fields(b, words, policy);
  const roleAt = new Array(shown).fill('');
  for (const [from, to, role] of fs) for (let i = from; i < Math.min(to, shown); i++) roleAt[i] = role;

  const table = document.createElement('table');
  table.className = 'hex';
  const cap = document.createElement('caption');
  cap.textContent = `${b.used ? 'Used' : 'Free'} block at ${hex(b.addr)}: ${b.size} bytes, read from the module's linear memory` +
    (view.length > shown ? ` (the first ${shown} shown)` : '');
  table.append(cap);
  const head = document.createElement('tr');
  const th0 = document.createElement('th'); th0.scope = 'col'; th0.textContent = 'address';
  const th1 = document.createElement('th'); th1.scope = 'col'; th1.textContent = 'bytes';
  const th2 = document.createElement('th'); th2.scope = 'col'; th2.textContent = 'as text';
  head.append(th0, th1, th2);
  const thead = document.createElement('thead'); thead.append(head);
  const tbody = document.createElement('tbody');
  for (let o = 0; o < shown; o += perRow) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = hex(b.addr + o);
    const td = document.createElement('td');
    for (let i = o; i < Math.min(o + perRow, shown); i++) {
      const span = document.createElement('span');
      span.className = `byte ${roleAt[i] || 'other'}`;
      span.textContent = view[i].toString(16).padStart(2, '0');
      td.append(span);
    }
    // The same bytes as text, so a string the program wrote reads as words.
    const chars = document.createElement('td');
    chars.className = 'chars';
    chars.textContent = printable(view.subarray(o, Math.min(o + perRow, shown)));
    tr.append(th, td, chars);
    tbody.append(tr);
  }
  table.append(thead, tbody);

  const list = document.createElement('ul');
  list.className = 'fields';
  for (const [from, to, role, label] of fs) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `byte ${role}`;
    sw.setAttribute('aria-hidden', 'true');
    sw.textContent = '00';
    const at = document.createElement('code');
    at.textContent = to - from > 1 ? `${hex(b.addr + from)}–${hex(b.addr + to - 1)}` : hex(b.addr + from);
    li.append(sw, ' ', at, ` ${label}`);
    list.append(li);
  }
  el.replaceChildren(table, list);
}
