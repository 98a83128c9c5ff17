// The page's state in the URL's fragment, with the knob names the CLI and the
// JS API share (policy, order, coalesce, header, align, heap-size, base), plus the
// program (script, or a built-in trace with its cut and the statements typed
// after it), the step, and the policies compared.
//
//   #policy=best&order=addr&coalesce=on&header=8&align=8&step=12&script=z…
//
// A script is stored deflated and base64url-encoded (prefix "z"), or plain
// base64url (prefix "b") where CompressionStream is missing.
//
// A fragment is untrusted input (anyone can send a link): decodeState never
// throws, and refuses with a message naming what was wrong — an unknown or
// repeated setting, a value out of range, text that is not base64url, deflate
// data that is damaged, cut short or inflates past the limit, text that is not
// UTF-8. The limits: a fragment of at most MAX_FRAGMENT characters, a script
// (and the statements after a trace) of at most MAX_TEXT_BYTES once inflated
// (inflation stops there: a deflate bomb costs no more), values quoted in
// messages clipped to 40 characters.

export const POLICIES = ['first', 'next', 'best', 'worst', 'seglist', 'tlsf', 'heaptale', 'buddy'];
export const ORDERS = ['addr', 'size-asc', 'size-desc', 'front', 'back'];
/** The largest base address the engine takes (its 1 GiB heap must fit below 4 GiB). */
export const MAX_BASE = 0xbfffffff;
/** The longest fragment decodeState reads, in characters (512 KiB). */
export const MAX_FRAGMENT = 512 * 1024;
/** The most bytes a link's script, or its statements after a trace, may inflate to (256 KiB). */
export const MAX_TEXT_BYTES = 256 * 1024;

const kib = (n) => `${Math.round(n / 1024).toLocaleString('en')} KiB`;
/** A value quoted in a message: at most 40 characters of it. */
const quote = (v) => {
  const s = String(v);
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
};

const b64url = (bytes) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};
/** Bytes of base64url text; `at`: where `s` starts in the value (for messages). */
const unb64url = (s, at = 0) => {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) {
    const bad = /[^A-Za-z0-9_-]/.exec(s);
    throw new Error(`it is not base64url (character ${quote(bad[0])} at ${at + bad.index + 1})`);
  }
  if (s.length % 4 === 1) throw new Error(`it is not base64url (its length, ${s.length.toLocaleString('en')}, cannot be that of whole bytes: cut short?)`);
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
};

async function pipe(bytes, stream) {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

/** Inflates raw deflate data, stopping (and refusing) past `max` bytes. */
async function inflate(data, max) {
  const reader = new Blob([data]).stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    let r;
    try {
      r = await reader.read();
    } catch (e) {
      throw new Error(`its deflate data is damaged or cut short (${e?.message || e})`);
    }
    if (r.done) break;
    n += r.value.length;
    if (n > max) {
      reader.cancel().catch(() => {});
      throw new Error(`it inflates to more than ${kib(max)} (the limit for a link)`);
    }
    chunks.push(r.value);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

export async function packText(text) {
  const raw = new TextEncoder().encode(text);
  if (raw.length > MAX_TEXT_BYTES) throw new Error(`the program is too large for a link (${kib(raw.length)}; at most ${kib(MAX_TEXT_BYTES)})`);
  if (typeof CompressionStream === 'function') {
    return 'z' + b64url(await pipe(raw, new CompressionStream('deflate-raw')));
  }
  return 'b' + b64url(raw);
}

/**
 * The text of a packed string. Throws an Error saying what is wrong with it
 * (and nothing else: no DOMException, no TypeError); at most MAX_TEXT_BYTES.
 */
export async function unpackText(s) {
  if (typeof s !== 'string') throw new Error('it is not text');
  if (!s) throw new Error('it is empty');
  const kind = s[0];
  if (kind !== 'z' && kind !== 'b') throw new Error(`it does not start with z or b (it starts with ${quote(kind)})`);
  const data = unb64url(s.slice(1), 1);
  let bytes;
  if (kind === 'z') {
    if (typeof DecompressionStream !== 'function') throw new Error('this browser cannot inflate it (no DecompressionStream)');
    bytes = await inflate(data, MAX_TEXT_BYTES);
  } else {
    if (data.length > MAX_TEXT_BYTES) throw new Error(`it is more than ${kib(MAX_TEXT_BYTES)} (the limit for a link)`);
    bytes = data;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error('it is not UTF-8 text');
  }
}

/** The fragment for a state. */
export async function encodeState(st) {
  const p = new URLSearchParams();
  const c = st.config;
  p.set('policy', c.policy);
  if (c.order) p.set('order', c.order);
  p.set('coalesce', c.coalesce === false ? 'off' : 'on');
  p.set('header', String(c.header));
  p.set('align', String(c.align));
  if (c.heapSize) p.set('heap-size', String(c.heapSize));
  if (c.base != null) p.set('base', `0x${c.base.toString(16)}`);
  if (st.source.trace) p.set('trace', st.source.trace);
  else p.set('script', await packText(st.source.text));
  // a .rep program: the steps kept of it, and the statements typed after them
  if (st.source.cut != null) p.set('cut', String(st.source.cut));
  if (st.source.extra?.length) p.set('extra', await packText(st.source.extra.join('\n')));
  p.set('step', String(st.step));
  if (st.compare?.length) p.set('compare', st.compare.join(','));
  const h = '#' + p.toString();
  // Never a link that decodeState would refuse.
  if (h.length - 1 > MAX_FRAGMENT) throw new Error(`the state is too large for a link (${h.length - 1} characters; at most ${MAX_FRAGMENT})`);
  return h;
}

const whole = (v, name, min, max) => {
  if (!/^\d+$/.test(v)) throw new Error(`${name} must be a whole number, got ${quote(v)}`);
  const n = Number(v);
  if (n < min || n > max) throw new Error(`${name} must be between ${min} and ${max}, got ${v.length > 40 ? quote(v) : n}`);
  return n;
};

const KNOWN = new Set(['policy', 'order', 'coalesce', 'header', 'align', 'heap-size', 'base', 'script', 'trace', 'cut', 'extra', 'step', 'compare',
  'vm', 'phys', 'repl', 'tlb', 'mmap', 'others']); // the simulated process's knobs (js/process.js reads them)

/**
 * Reads a fragment. Returns {state, error}: `state` holds only what was given
 * (the caller fills in defaults); `error` says what was wrong, and then
 * `state` is null. Never throws, whatever `hash` holds.
 */
export async function decodeState(hash, traces = []) {
  if (typeof hash !== 'string') return { state: null, error: 'the fragment is not text' };
  const h = hash.replace(/^#/, '');
  if (!h) return { state: null, error: null };
  if (h.length > MAX_FRAGMENT) {
    return { state: null, error: `the link's state is ${kib(h.length)} long; links carry at most ${kib(MAX_FRAGMENT)}` };
  }
  try {
    const p = new URLSearchParams(h);
    const seen = new Set();
    for (const k of p.keys()) {
      if (!KNOWN.has(k)) throw new Error(`unknown setting ${quote(k)}`);
      if (seen.has(k)) throw new Error(`the setting ${quote(k)} is given more than once`);
      seen.add(k);
    }
    const config = {};
    if (p.has('policy')) {
      const v = p.get('policy');
      if (!POLICIES.includes(v)) throw new Error(`unknown policy ${quote(v)} (expected one of ${POLICIES.join(', ')})`);
      config.policy = v;
    }
    if (p.has('order')) {
      const v = p.get('order');
      if (!ORDERS.includes(v)) throw new Error(`unknown order ${quote(v)} (expected one of ${ORDERS.join(', ')})`);
      config.order = v;
    }
    if (p.has('coalesce')) {
      const v = p.get('coalesce');
      if (v !== 'on' && v !== 'off') throw new Error(`coalesce must be on or off, got ${quote(v)}`);
      config.coalesce = v === 'on';
    }
    if (p.has('header')) config.header = whole(p.get('header'), 'header', 4, 256);
    if (p.has('align')) {
      config.align = whole(p.get('align'), 'align', 1, 4096);
      if (config.align & (config.align - 1)) throw new Error(`align must be a power of two, got ${config.align}`);
    }
    if (p.has('heap-size')) config.heapSize = whole(p.get('heap-size'), 'heap-size', 1, 1 << 30);
    if (p.has('base')) {
      // decimal or 0x hex, as the CLI's --base
      const v = p.get('base');
      const hexed = /^0x[0-9a-f]+$/i.test(v);
      if (!hexed && !/^\d+$/.test(v)) throw new Error(`base must be an address in decimal or 0x hex, got ${quote(v)}`);
      config.base = hexed ? Number.parseInt(v.slice(2), 16) : Number(v);
      if (!(config.base <= MAX_BASE)) throw new Error(`base must be at most 0x${MAX_BASE.toString(16)} (the heap must fit below 4 GiB), got ${quote(v)}`);
    }
    let source = null;
    if (p.has('trace') && p.has('script')) throw new Error('a link holds a trace or a script, not both');
    if (p.has('trace')) {
      const name = p.get('trace');
      if (!traces.includes(name)) {
        throw new Error(`unknown trace ${quote(name)} (${traces.length ? `built in: ${traces.join(', ')}` : 'this page has no built-in traces'})`);
      }
      source = { trace: name };
    } else if (p.has('script')) {
      try { source = { text: await unpackText(p.get('script')) }; }
      catch (e) { throw new Error(`the script cannot be read: ${e.message}`); }
    }
    if (!source && (p.has('cut') || p.has('extra'))) throw new Error('cut and extra need a trace or a script');
    if (source) {
      source.cut = p.has('cut') ? whole(p.get('cut'), 'cut', 0, 1e8) : null;
      source.extra = [];
      if (p.has('extra')) {
        try { source.extra = (await unpackText(p.get('extra'))).split('\n').filter((l) => l.trim()); }
        catch (e) { throw new Error(`the statements after the trace cannot be read: ${e.message}`); }
      }
    }
    const step = p.has('step') ? whole(p.get('step'), 'step', 0, 1e8) : null;
    let compare = [];
    if (p.has('compare') && p.get('compare')) {
      compare = p.get('compare').split(',');
      if (compare.length > 3) throw new Error(`at most 3 policies to compare with, got ${compare.length}`);
      for (const c of compare) if (!POLICIES.includes(c)) throw new Error(`unknown policy ${quote(c)} to compare`);
      if (new Set(compare).size < compare.length) throw new Error('compare names a policy more than once');
    }
    return { state: { config, source, step, compare }, error: null };
  } catch (e) {
    return { state: null, error: e instanceof Error && e.message ? e.message : `the link cannot be read (${String(e)})` };
  }
}
