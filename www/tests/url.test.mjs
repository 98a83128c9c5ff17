// The URL state decoder (www/js/url.js) under property tests (fast-check):
// every valid state survives encodeState -> decodeState unchanged, and any
// fragment at all — random text, mutated links, bad base64url, bad or
// bomb-sized deflate data, huge numbers, unknown or repeated settings,
// percent-encoding garbage, megabyte-long fragments — either decodes to a
// valid state or is refused with a clear message, never with another kind of
// exception and never by hanging.
//
//   node --test www/tests/url.test.mjs
//   URL_FUZZ_RUNS=20000 node --test www/tests/url.test.mjs   more runs a property
//   URL_FUZZ_SECONDS=60 node --test www/tests/url.test.mjs   a time instead, shared among the
//                                                            properties (make fuzz does this)
//   URL_FUZZ_SEED=N ...                                       replay the seed a failure printed
//
// No browser: node has CompressionStream, DecompressionStream, atob and
// TextDecoder, all url.js uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  POLICIES, ORDERS, MAX_BASE, MAX_FRAGMENT, MAX_TEXT_BYTES, encodeState, decodeState, packText, unpackText,
} from '../js/url.js';
import { processHash, PROCESS_DEFAULTS } from '../js/process.js';

const SECONDS = Number(process.env.URL_FUZZ_SECONDS) || 0;
const RUNS = SECONDS ? 1e9 : Number(process.env.URL_FUZZ_RUNS) || 300;
const PROPERTIES = 7; // the fc.assert calls below share URL_FUZZ_SECONDS
const SEED = process.env.URL_FUZZ_SEED ? Number(process.env.URL_FUZZ_SEED) : undefined;
const TRACES = ['amptjp', 'cccp', 'short-trace'];
const HANG_MS = 5000;
const tried = { fragments: 0, unpacked: 0 };

const opts = (extra = {}) => ({
  numRuns: RUNS, seed: SEED, ...(SECONDS ? { interruptAfterTimeLimit: (SECONDS * 1000) / PROPERTIES } : {}), ...extra,
});

/** decodeState, failing the test if it takes longer than HANG_MS or throws. */
async function decode(hash, traces = TRACES) {
  tried.fragments++;
  let timer;
  const hang = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`decodeState hung on ${JSON.stringify(String(hash).slice(0, 80))}`)), HANG_MS); });
  try {
    return await Promise.race([decodeState(hash, traces), hang]);
  } finally {
    clearTimeout(timer);
  }
}

const isWhole = (n, min, max) => Number.isInteger(n) && n >= min && n <= max;
const utf8Length = (s) => new TextEncoder().encode(s).length;

/** What a decoded state may hold (the page fills in the rest). */
function assertValidState(st, hash) {
  const where = `state of ${JSON.stringify(hash.slice(0, 120))}`;
  assert.deepEqual(Object.keys(st).sort(), ['compare', 'config', 'source', 'step'], where);
  const c = st.config;
  for (const k of Object.keys(c)) assert.ok(['policy', 'order', 'coalesce', 'header', 'align', 'heapSize', 'base'].includes(k), `${where}: config.${k}`);
  if ('policy' in c) assert.ok(POLICIES.includes(c.policy), where);
  if ('order' in c) assert.ok(ORDERS.includes(c.order), where);
  if ('coalesce' in c) assert.equal(typeof c.coalesce, 'boolean', where);
  if ('header' in c) assert.ok(isWhole(c.header, 4, 256), where);
  if ('align' in c) assert.ok(isWhole(c.align, 1, 4096) && (c.align & (c.align - 1)) === 0, where);
  if ('heapSize' in c) assert.ok(isWhole(c.heapSize, 1, 2 ** 30), where);
  if ('base' in c) assert.ok(isWhole(c.base, 0, MAX_BASE), where);
  if (st.source !== null) {
    const s = st.source;
    if ('trace' in s) assert.ok(TRACES.includes(s.trace), where);
    else {
      assert.equal(typeof s.text, 'string', where);
      assert.ok(utf8Length(s.text) <= MAX_TEXT_BYTES, where);
    }
    assert.ok(s.cut === null || isWhole(s.cut, 0, 1e8), where);
    assert.ok(Array.isArray(s.extra), where);
    for (const l of s.extra) assert.ok(typeof l === 'string' && !l.includes('\n') && l.trim() !== '', where);
  }
  assert.ok(st.step === null || isWhole(st.step, 0, 1e8), where);
  assert.ok(Array.isArray(st.compare) && st.compare.length <= 3, where);
  for (const p of st.compare) assert.ok(POLICIES.includes(p), where);
  assert.equal(new Set(st.compare).size, st.compare.length, where);
}

// Every refusal names what was wrong: the setting, or what is wrong with the
// packed text (unpackText's messages, below).
const UNPACK_FAULT = '(it is empty|it is not text|it does not start with z or b|it is not base64url|its deflate data is damaged or cut short|it inflates to more than 256 KiB|it is more than 256 KiB|it is not UTF-8 text|this browser cannot inflate it)';
const REFUSAL = new RegExp('^(unknown setting "|the setting "[^"]*" is given more than once|unknown policy "|unknown order "|coalesce must be on or off|'
  + '(header|align|heap-size|step|cut) must be (a whole number|between)|align must be a power of two|base must be|unknown trace "|'
  + 'a link holds a trace or a script, not both|cut and extra need a trace or a script|at most 3 policies|compare names a policy more than once|'
  + `the link's state is [\\d,]+ KiB long|the fragment is not text|the script cannot be read: ${UNPACK_FAULT}|the statements after the trace cannot be read: ${UNPACK_FAULT})`);

/** The oracle for any fragment: a valid state, or a clear message and no state. */
async function assertDecodesOrRefuses(hash) {
  const r = await decode(hash);
  assert.deepEqual(Object.keys(r).sort(), ['error', 'state']);
  if (r.error === null) {
    if (r.state !== null) assertValidState(r.state, hash);
    else assert.match(hash, /^#?$/, 'no state and no error only for an empty fragment');
  } else {
    assert.equal(r.state, null);
    assert.equal(typeof r.error, 'string');
    assert.match(r.error, REFUSAL);
    assert.ok(r.error.length <= 400, `a short message: ${r.error.slice(0, 500)}`);
    assert.doesNotMatch(r.error, /undefined|\[object|is not a function|Cannot read|Unexpected token/, r.error);
  }
  return r;
}

/** unpackText's contract: a string, or an Error (not a DOMException or TypeError) with a message. */
async function assertUnpacksOrThrowsError(s) {
  try {
    const t = await unpackText(s);
    assert.equal(typeof t, 'string');
    assert.ok(utf8Length(t) <= MAX_TEXT_BYTES);
    return { text: t };
  } catch (e) {
    assert.equal(Object.getPrototypeOf(e), Error.prototype, `a plain Error, got ${e?.constructor?.name}: ${e?.message}`);
    assert.ok(e.message.length > 5, e.message);
    return { error: e.message };
  }
}

// ---------------------------------------------------------------- arbitraries

const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 400 }),
  fc.array(fc.constantFrom('p = malloc(24)', 'free(p)', 'q = realloc(p, 100)', '# comment', '', '  ', 'x = calloc(2, 8)'), { maxLength: 30 }).map((l) => l.join('\n')),
);
const extraLine = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 })
  .filter((l) => !l.includes('\n') && l.trim() !== '');

const configArb = fc.record({
  policy: fc.constantFrom(...POLICIES),
  order: fc.option(fc.constantFrom(...ORDERS), { nil: undefined }),
  coalesce: fc.boolean(),
  header: fc.integer({ min: 4, max: 256 }),
  align: fc.integer({ min: 0, max: 12 }).map((k) => 2 ** k),
  heapSize: fc.option(fc.integer({ min: 1, max: 2 ** 30 }), { nil: undefined }),
  base: fc.option(fc.integer({ min: 0, max: MAX_BASE }), { nil: undefined }),
}).map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)));

const sourceArb = fc.oneof(
  fc.record({ trace: fc.constantFrom(...TRACES), cut: fc.option(fc.integer({ min: 0, max: 1e8 }), { nil: null }), extra: fc.array(extraLine, { maxLength: 5 }) }),
  fc.record({ text: anyText, cut: fc.option(fc.integer({ min: 0, max: 1e8 }), { nil: null }), extra: fc.array(extraLine, { maxLength: 5 }) }),
);

const stateArb = fc.record({
  config: configArb,
  source: sourceArb,
  step: fc.integer({ min: 0, max: 1e8 }),
  compare: fc.shuffledSubarray(POLICIES, { maxLength: 3 }),
});

/** What decodeState gives back for a state encodeState wrote. */
const expected = (st) => ({ ...st, config: { ...st.config, coalesce: st.config.coalesce !== false }, source: { ...st.source } });

/** Runs `fn` with CompressionStream and DecompressionStream removed (an older browser). */
async function withoutCompression(fn) {
  const saved = { C: globalThis.CompressionStream, D: globalThis.DecompressionStream };
  delete globalThis.CompressionStream;
  delete globalThis.DecompressionStream;
  try { return await fn(); } finally {
    globalThis.CompressionStream = saved.C;
    globalThis.DecompressionStream = saved.D;
  }
}

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
async function deflate(bytes) {
  const r = new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate-raw')));
  return new Uint8Array(await r.arrayBuffer());
}

// Mutations of a real link, as links get damaged: cut short, characters lost,
// garbage typed in, a setting repeated or replaced, percent-encoding broken.
const GARBAGE = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('%', '%%', '%zz', '%FF', '%C3%28', '%00', '%E2%82', '&', '=', '==', '&&', '#', '+', '%2B', '\u0000', '\uffff', '\ud83d\ude00',
    '<img src=x onerror=alert(1)>', '"\'`', '\\', '9'.repeat(400), '0x' + 'f'.repeat(300), '-1', '1e9', 'NaN', 'Infinity', '0x', ''),
);
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('cut'), at: fc.nat() }),
  fc.record({ kind: fc.constant('delete'), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('insert'), at: fc.nat(), text: GARBAGE }),
  fc.record({ kind: fc.constant('flip'), at: fc.nat(), ch: fc.constantFrom('A', '_', '-', 'z', 'b', '0', '%', '=') }),
  fc.record({ kind: fc.constant('set'), key: fc.constantFrom('policy', 'order', 'coalesce', 'header', 'align', 'heap-size', 'base', 'script', 'trace', 'cut', 'extra', 'step', 'compare', 'vm', 'nonsense', ''), value: GARBAGE }),
  fc.record({ kind: fc.constant('repeat'), key: fc.constantFrom('policy', 'script', 'step', 'compare', 'header') }),
);

function mutate(hash, muts) {
  let h = hash;
  for (const m of muts) {
    const at = h.length ? m.at % (h.length + 1) : 0;
    if (m.kind === 'cut') h = h.slice(0, at);
    else if (m.kind === 'delete') h = h.slice(0, at) + h.slice(at + m.len);
    else if (m.kind === 'insert') h = h.slice(0, at) + m.text + h.slice(at);
    else if (m.kind === 'flip') h = h.slice(0, at) + m.ch + h.slice(at + 1);
    else if (m.kind === 'set') h += `&${m.key}=${m.value}`;
    else if (m.kind === 'repeat') {
      const v = new URLSearchParams(h.replace(/^#/, '')).get(m.key);
      h += `&${m.key}=${encodeURIComponent(v ?? 'x')}`;
    }
  }
  return h;
}

// ---------------------------------------------------------------- round trips

test('every valid state survives encodeState -> decodeState unchanged', async () => {
  await fc.assert(fc.asyncProperty(stateArb, async (st) => {
    const hash = await encodeState(st);
    assert.ok(hash.startsWith('#') && hash.length - 1 <= MAX_FRAGMENT);
    const r = await decode(hash);
    assert.equal(r.error, null, `${hash}: ${r.error}`);
    assertValidState(r.state, hash);
    assert.deepEqual(r.state, expected(st));
    // the process's knobs (js/process.js) after it are read by their own module, and accepted here
    const r2 = await decode(`${hash}&vm=x86-64&phys=1048576&repl=lru&tlb=16x4&mmap=on`);
    assert.deepEqual(r2.state, expected(st));
  }), opts());
});

test('every setting the process section writes into a link is one decodeState accepts', async () => {
  // Every process knob away from its default, so processHash writes each key it knows.
  const changed = Object.fromEntries(Object.entries(PROCESS_DEFAULTS).map(([k, v]) => [k,
    typeof v === 'boolean' ? !v : typeof v === 'number' ? v + 1 : `${v}-other`]));
  const tail = processHash(changed);
  const keys = [...new URLSearchParams(tail.slice(1)).keys()];
  assert.ok(keys.length >= Object.keys(PROCESS_DEFAULTS).length - 1, `processHash wrote ${keys}`);
  const st = { config: { policy: 'first', coalesce: true, header: 8, align: 8 }, source: { text: 'p = malloc(8)', cut: null, extra: [] }, step: 1, compare: [] };
  const r = await decode((await encodeState(st)) + tail);
  assert.equal(r.error, null, `a link with the process's settings ${keys.join(', ')} is refused: ${r.error}`);
  assert.deepEqual(r.state, st);
});

test('without CompressionStream a script travels as plain base64url, and a deflated one is refused clearly', async () => {
  const deflated = await encodeState({ config: { policy: 'first', header: 8, align: 8 }, source: { text: 'p = malloc(1)' }, step: 1 });
  await withoutCompression(async () => {
    await fc.assert(fc.asyncProperty(stateArb, async (st) => {
      const hash = await encodeState(st);
      if (st.source.text !== undefined) assert.match(hash, /[#&]script=b/);
      const r = await decode(hash);
      assert.deepEqual(r, { state: expected(st), error: null });
    }), opts({ numRuns: SECONDS ? RUNS : Math.max(20, Math.floor(RUNS / 5)) }));
    assert.deepEqual(await decode(deflated), { state: null, error: 'the script cannot be read: this browser cannot inflate it (no DecompressionStream)' });
  });
});

test('packText -> unpackText is the identity for any text up to the limit', async () => {
  await fc.assert(fc.asyncProperty(anyText, async (t) => {
    assert.equal(await unpackText(await packText(t)), t);
  }), opts());
  // the largest program the page puts in a link (60,000 characters), each 3 bytes in UTF-8
  const big = '\u20ac'.repeat(60000);
  assert.equal(await unpackText(await packText(big)), big);
  const exact = 'a'.repeat(MAX_TEXT_BYTES);
  assert.equal(await unpackText(await packText(exact)), exact);
  await assert.rejects(packText('a'.repeat(MAX_TEXT_BYTES + 1)), { message: 'the program is too large for a link (256 KiB; at most 256 KiB)' });
  await assert.rejects(encodeState({ config: { policy: 'first', header: 8, align: 8 }, source: { text: 'é'.repeat(MAX_TEXT_BYTES) }, step: 0 }),
    { message: 'the program is too large for a link (512 KiB; at most 256 KiB)' });
});

// ---------------------------------------------------------------- anything at all

test('any text as a fragment decodes to a valid state or is refused with a message', async () => {
  const fragment = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 300 }),
    // key=value pairs from the real keys and odd values
    fc.array(fc.tuple(
      fc.constantFrom('policy', 'order', 'coalesce', 'header', 'align', 'heap-size', 'base', 'script', 'trace', 'cut', 'extra', 'step', 'compare', 'vm', 'phys', 'tlb', 'mmap', 'repl', 'Policy', 'x', ''),
      fc.oneof(GARBAGE, fc.constantFrom(...POLICIES, ...ORDERS, ...TRACES, 'on', 'off', '8', '16', '4096', '0', '1', '0x1000', '3221225471', '3221225472', 'best,first', 'first,next,best,worst', 'zAwA', 'b', 'z'), fc.nat().map(String)),
    ), { maxLength: 8 }).map((kv) => '#' + kv.map(([k, v]) => `${k}=${v}`).join('&')),
  );
  await fc.assert(fc.asyncProperty(fragment, async (h) => { await assertDecodesOrRefuses(h); }), opts());
});

test('mutated links decode to a valid state or are refused with a message', async () => {
  await fc.assert(fc.asyncProperty(stateArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), async (st, muts) => {
    const hash = mutate(await encodeState(st), muts);
    await assertDecodesOrRefuses(hash);
  }), opts());
});

test('any script value: base64url or not, any bytes deflated or not — text, or an Error naming the fault', async () => {
  const packed = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.tuple(fc.constantFrom('z', 'b', 'q', ''), fc.uint8Array({ maxLength: 300 })).map(([k, b]) => k + b64url(b)),
    // real deflate data, damaged: cut short, a byte changed, junk after it (made in the property)
    fc.record({ text: anyText, at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), how: fc.constantFrom('cut', 'flip', 'junk') }),
    // bytes that are not UTF-8, plainly encoded
    fc.uint8Array({ minLength: 1, maxLength: 50 }).map((b) => 'b' + b64url(new Uint8Array([0xff, ...b]))),
  );
  const damaged = async ({ text, at, byte, how }) => {
    const d = await deflate(new TextEncoder().encode(text));
    const i = at % Math.max(1, d.length);
    if (how === 'cut') return 'z' + b64url(d.subarray(0, i));
    if (how === 'flip') { d[i] ^= byte || 1; return 'z' + b64url(d); }
    return 'z' + b64url(new Uint8Array([...d, byte, byte ^ 0x55]));
  };
  await fc.assert(fc.asyncProperty(packed, async (p) => {
    const s = typeof p === 'string' ? p : await damaged(p);
    const r = await assertUnpacksOrThrowsError(s);
    if (r.error) assert.match(r.error, new RegExp(`^${UNPACK_FAULT}`));
    tried.unpacked++;
    await assertDecodesOrRefuses(`#script=${encodeURIComponent(s)}`);
  }), opts());
});

// ---------------------------------------------------------------- limits, by name

test('a deflate bomb stops inflating at the limit and is refused', async () => {
  for (const mib of [1, 64]) {
    const bomb = 'z' + b64url(await deflate(new Uint8Array(mib << 20).fill(0x61)));
    assert.ok(bomb.length < MAX_FRAGMENT, `the ${mib} MiB bomb fits in a link (${bomb.length} characters)`);
    const t0 = performance.now();
    const r = await decode(`#script=${bomb}`);
    assert.deepEqual(r, { state: null, error: 'the script cannot be read: it inflates to more than 256 KiB (the limit for a link)' });
    assert.deepEqual(await decode(`#trace=cccp&extra=${bomb}`),
      { state: null, error: 'the statements after the trace cannot be read: it inflates to more than 256 KiB (the limit for a link)' });
    assert.ok(performance.now() - t0 < HANG_MS, 'refused without inflating the whole bomb');
  }
  // one byte more than the limit, plainly encoded, is refused too
  assert.deepEqual(await decode(`#script=b${b64url(new Uint8Array(MAX_TEXT_BYTES + 1).fill(0x61))}`),
    { state: null, error: 'the script cannot be read: it is more than 256 KiB (the limit for a link)' });
});

test('fragments past MAX_FRAGMENT are refused by length before anything is read', async () => {
  for (const len of [MAX_FRAGMENT + 1, 1 << 20, 8 << 20]) {
    const h = '#' + 'policy=best&'.repeat(Math.ceil(len / 12)).slice(0, len);
    assert.deepEqual(await decode(h), { state: null, error: `the link's state is ${Math.round(len / 1024).toLocaleString('en')} KiB long; links carry at most 512 KiB` });
  }
  // at the limit the fragment is read (and here refused for what it says)
  const atLimit = `#script=b${'A'.repeat(MAX_FRAGMENT - 16)}&step=12`;
  assert.equal(atLimit.length - 1, MAX_FRAGMENT);
  assert.deepEqual(await decode(atLimit), { state: null, error: 'the script cannot be read: it is more than 256 KiB (the limit for a link)' });
  // random megabyte-long text
  await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', minLength: MAX_FRAGMENT + 1, maxLength: MAX_FRAGMENT + 100 }), async (s) => {
    const r = await assertDecodesOrRefuses(s);
    assert.match(r.error, /links carry at most 512 KiB/);
  }), opts({ numRuns: 5 }));
});

test('not a string, no trace list: still a result, never an exception', async () => {
  for (const v of [undefined, null, 42, {}, [], Symbol('x')]) {
    assert.deepEqual(await decodeState(v, TRACES), { state: null, error: 'the fragment is not text' });
  }
  assert.deepEqual(await decodeState('#trace=cccp'), { state: null, error: 'unknown trace "cccp" (this page has no built-in traces)' });
  assert.deepEqual(await decodeState('#step=3'), { state: { config: {}, source: null, step: 3, compare: [] }, error: null });
  for (const v of [undefined, null, 42, {}]) await assert.rejects(unpackText(v), { message: 'it is not text' });
  await assert.rejects(unpackText(''), { message: 'it is empty' });
});

// Inputs kept from the runs above (and the reason each is here): each
// decodes, or is refused with exactly this message.
const REGRESSIONS = [
  // before the decoder refused them by name, these escaped as other exceptions or said nothing useful
  ['#script=zA', 'the script cannot be read: it is not base64url (its length, 1, cannot be that of whole bytes: cut short?)'], // atob's DOMException
  ['#script=z', 'the script cannot be read: its deflate data is damaged or cut short (unexpected end of file)'],
  ['#script=zzzz', 'the script cannot be read: its deflate data is damaged or cut short (invalid block type)'],
  ['#script=b_w', 'the script cannot be read: it is not UTF-8 text'], // TextDecoder's TypeError
  ['#script=', 'the script cannot be read: it is empty'],
  ['#script=%E2%82', 'the script cannot be read: it does not start with z or b (it starts with "\ufffd")'],
  ['#script=z%2B%2F', 'the script cannot be read: it is not base64url (character "+" at 2)'],
  ['#script=zz%%%&policy=first', 'the script cannot be read: it is not base64url (character "%" at 3)'],
  // numbers past what Number holds exactly, or at all
  [`#step=${'9'.repeat(400)}`, `step must be between 0 and 100000000, got "${'9'.repeat(40)}…"`],
  ['#step=1e9', 'step must be a whole number, got "1e9"'],
  ['#header=0000000000000000000000008', { state: { config: { header: 8 }, source: null, step: null, compare: [] }, error: null }],
  [`#base=0x${'f'.repeat(300)}`, `base must be at most 0xbfffffff (the heap must fit below 4 GiB), got "0x${'f'.repeat(38)}…"`], // parseInt gives Infinity
  ['#base=0xc0000000', 'base must be at most 0xbfffffff (the heap must fit below 4 GiB), got "0xc0000000"'],
  ['#heap-size=1073741825', 'heap-size must be between 1 and 1073741824, got 1073741825'],
  ['#align=0', 'align must be between 1 and 4096, got 0'],
  ['#align=48', 'align must be a power of two, got 48'],
  ['#step=-4', 'step must be a whole number, got "-4"'],
  ['#step=%EF%BC%91', 'step must be a whole number, got "\uff11"'], // a full-width digit
  // repeated, unknown, contradictory settings
  ['#policy=best&policy=first', 'the setting "policy" is given more than once'],
  ['#step=1&step=1', 'the setting "step" is given more than once'],
  ['#Policy=best', 'unknown setting "Policy"'],
  ['#=', 'unknown setting ""'],
  ['#__proto__=1', 'unknown setting "__proto__"'],
  ['#constructor=x', 'unknown setting "constructor"'],
  ['#trace=cccp&script=bYQ', 'a link holds a trace or a script, not both'],
  ['#cut=3', 'cut and extra need a trace or a script'],
  ['#compare=best,best', 'compare names a policy more than once'],
  ['#compare=first,next,best,worst', 'at most 3 policies to compare with, got 4'],
  ['#compare=best,', 'unknown policy "" to compare'],
  // markup is quoted as text, clipped
  ['#policy=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E', 'unknown policy "<img src=x onerror=alert(1)>" (expected one of first, next, best, worst, seglist, tlsf, heaptale, buddy)'],
  [`#policy=${'<b>'.repeat(100)}`, `unknown policy "${'<b>'.repeat(13)}<…" (expected one of first, next, best, worst, seglist, tlsf, heaptale, buddy)`],
  // harmless oddities that decode
  ['#', { state: null, error: null }],
  ['#&&&', { state: { config: {}, source: null, step: null, compare: [] }, error: null }],
  ['#policy=best&compare=', { state: { config: { policy: 'best' }, source: null, step: null, compare: [] }, error: null }],
  ['#script=b&step=0', { state: { config: {}, source: { text: '', cut: null, extra: [] }, step: 0, compare: [] }, error: null }],
  ['#script=bPGltZyBzcmM9eCBvbmVycm9yPWFsZXJ0KDEpPg', { state: { config: {}, source: { text: '<img src=x onerror=alert(1)>', cut: null, extra: [] }, step: null, compare: [] }, error: null }],
];

test('regression inputs decode, or are refused with exactly their message', async () => {
  for (const [hash, want] of REGRESSIONS) {
    const r = await assertDecodesOrRefuses(hash);
    if (typeof want === 'string') assert.deepEqual(r, { state: null, error: want }, hash);
    else assert.deepEqual(r, want, hash);
  }
});

test('summary', () => {
  // The figure RELIABILITY.md quotes: fragments decoded in this run.
  console.log(`# url: ${tried.fragments.toLocaleString('en')} fragments decoded, ${tried.unpacked.toLocaleString('en')} script values unpacked, ${SECONDS ? `${SECONDS} s` : `${RUNS} runs a property`}${SEED !== undefined ? `, seed ${SEED}` : ''}`);
  assert.ok(tried.fragments > (SECONDS ? 100 : RUNS));
});
