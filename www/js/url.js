// The page's state in the URL's fragment, with the knob names the CLI and the
// JS API share (policy, order, coalesce, header, align, heap-size, base), plus the
// program (script, or a built-in trace with its cut and the statements typed
// after it), the step, and the policies compared.
//
//   #policy=best&order=addr&coalesce=on&header=8&align=8&step=12&script=z…
//
// A script is stored deflated and base64url-encoded (prefix "z"), or plain
// base64url (prefix "b") where CompressionStream is missing.

export const POLICIES = ['first', 'next', 'best', 'worst', 'seglist', 'tlsf', 'buddy'];
export const ORDERS = ['addr', 'size-asc', 'size-desc', 'front', 'back'];
/** The largest base address the engine takes (its 1 GiB heap must fit below 4 GiB). */
export const MAX_BASE = 0xbfffffff;

const b64url = (bytes) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};
const unb64url = (s) => {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('it is not base64url');
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
};

async function pipe(bytes, stream) {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

export async function packText(text) {
  const raw = new TextEncoder().encode(text);
  if (typeof CompressionStream === 'function') {
    return 'z' + b64url(await pipe(raw, new CompressionStream('deflate-raw')));
  }
  return 'b' + b64url(raw);
}

export async function unpackText(s) {
  const kind = s[0];
  const data = unb64url(s.slice(1));
  let bytes;
  if (kind === 'z') {
    if (typeof DecompressionStream !== 'function') throw new Error('this browser cannot inflate it');
    bytes = await pipe(data, new DecompressionStream('deflate-raw'));
  } else if (kind === 'b') {
    bytes = data;
  } else {
    throw new Error('it does not start with z or b');
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
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
  return '#' + p.toString();
}

const whole = (v, name, min, max) => {
  if (!/^\d+$/.test(v)) throw new Error(`${name} must be a whole number, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new Error(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
};

/**
 * Reads a fragment. Returns {state, error}: `state` holds only what was given
 * (the caller fills in defaults); `error` says what was wrong, and then
 * `state` is null.
 */
export async function decodeState(hash, traces) {
  const h = hash.replace(/^#/, '');
  if (!h) return { state: null, error: null };
  try {
    const p = new URLSearchParams(h);
    const known = new Set(['policy', 'order', 'coalesce', 'header', 'align', 'heap-size', 'base', 'script', 'trace', 'cut', 'extra', 'step', 'compare',
      'vm', 'phys', 'repl', 'tlb', 'mmap']); // the simulated process's knobs (js/process.js)
    for (const k of p.keys()) if (!known.has(k)) throw new Error(`unknown setting "${k}"`);
    const config = {};
    if (p.has('policy')) {
      const v = p.get('policy');
      if (!POLICIES.includes(v)) throw new Error(`unknown policy "${v}" (expected one of ${POLICIES.join(', ')})`);
      config.policy = v;
    }
    if (p.has('order')) {
      const v = p.get('order');
      if (!ORDERS.includes(v)) throw new Error(`unknown order "${v}" (expected one of ${ORDERS.join(', ')})`);
      config.order = v;
    }
    if (p.has('coalesce')) {
      const v = p.get('coalesce');
      if (v !== 'on' && v !== 'off') throw new Error(`coalesce must be on or off, got "${v}"`);
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
      if (!hexed && !/^\d+$/.test(v)) throw new Error(`base must be an address in decimal or 0x hex, got "${v}"`);
      config.base = hexed ? Number.parseInt(v.slice(2), 16) : Number(v);
      if (config.base > MAX_BASE) throw new Error(`base must be at most 0x${MAX_BASE.toString(16)} (the heap must fit below 4 GiB), got ${v}`);
    }
    let source = null;
    if (p.has('trace')) {
      const name = p.get('trace');
      if (!traces.includes(name)) throw new Error(`unknown trace "${name}" (built in: ${traces.join(', ')})`);
      source = { trace: name };
    } else if (p.has('script')) {
      try { source = { text: await unpackText(p.get('script')) }; }
      catch (e) { throw new Error(`the script cannot be read: ${e.message}`); }
    }
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
      for (const c of compare) if (!POLICIES.includes(c)) throw new Error(`unknown policy "${c}" to compare`);
      if (compare.length > 3) throw new Error('at most 3 policies to compare with');
    }
    return { state: { config, source, step, compare }, error: null };
  } catch (e) {
    return { state: null, error: e.message || String(e) };
  }
}
