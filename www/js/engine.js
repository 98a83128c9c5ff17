// The engine: the wasm module compiled once and instantiated once per heap.
//
// One heap per WebAssembly instance (memory.grow belongs to one linear memory),
// so comparing policies needs several instances. wasm-bindgen's `--target web`
// glue keeps its instance in module-level state, so each instance imports the
// glue under its own URL (a distinct query string makes a distinct ES module)
// and initialises it with the one compiled WebAssembly.Module.

const PKG_URL = new URL('../../pkg/heaptale.js', import.meta.url).href;
const WASM_URL = new URL('../../pkg/heaptale_bg.wasm', import.meta.url).href;

let compiled = null;

/** The compiled module (fetched and compiled once). */
export function compile() {
  if (!compiled) {
    compiled = WebAssembly.compileStreaming
      ? WebAssembly.compileStreaming(fetch(WASM_URL)).catch(async () =>
        WebAssembly.compile(await (await fetch(WASM_URL)).arrayBuffer()))
      : fetch(WASM_URL).then((r) => r.arrayBuffer()).then((b) => WebAssembly.compile(b));
  }
  return compiled;
}

const instances = new Map();

/** Instance `n` of the engine (0 is the main one): its glue module, initialised. */
export function instance(n = 0) {
  if (!instances.has(n)) {
    instances.set(n, (async () => {
      const url = n === 0 ? PKG_URL : `${PKG_URL}?instance=${n}`;
      const glue = await import(url);
      await glue.default({ module_or_path: await compile() });
      return glue;
    })());
  }
  return instances.get(n);
}

/** The option names of `new Heap(...)` from the page's config (URL names differ). */
export function heapOptions(cfg) {
  const o = { policy: cfg.policy, header: cfg.header, align: cfg.align };
  if (cfg.order) o.order = cfg.order;
  if (cfg.coalesce !== undefined) o.coalesce = cfg.coalesce;
  if (cfg.heapSize) o.heapSize = cfg.heapSize;
  if (cfg.base != null) o.base = cfg.base;
  return o;
}

/**
 * One heap and what the page reads from it after each step. `glue` is an
 * engine instance; making a Heap replaces the one that instance had.
 */
export class HeapModel {
  constructor(glue, cfg) {
    this.glue = glue;
    this.cfg = { ...cfg };
    this.heap = new glue.Heap(heapOptions(cfg));
  }

  release() {
    try { this.heap.free(); } catch { /* already replaced */ }
  }

  /**
   * Loads a source (see main.js): a script or .rep text, an optional step
   * limit, then statements typed after it. `onProgress(done, total)` is called
   * between chunks of a big trace; resolves to {steps, failed, format, error}.
   */
  async load(source, onProgress) {
    const h = this.heap;
    const big = source.text.length > 200_000;
    let r;
    if (big && onProgress) {
      r = h.loadStart(source.text, source.cut ?? undefined);
      if (r.error) return r;
      const total = r.steps;
      const chunk = 25_000;
      for (;;) {
        const p = h.loadContinue(chunk);
        onProgress(p.done, total);
        if (p.done >= total) break;
        await new Promise((res) => setTimeout(res, 0));
      }
    } else {
      r = h.load(source.text, source.cut ?? undefined);
      if (r.error) return r;
    }
    for (const stmt of source.extra ?? []) h.run(stmt);
    const t = h.timeline();
    return { steps: t.steps, failed: t.failed, format: t.format, error: null };
  }

  /**
   * Reads everything drawn: blocks, free lists, stats, break, memory size.
   * Addresses are as reported (from the base, when one is set): `memoryEnd`
   * is memory.size as a reported address, `memoryBytes` the real size and
   * `realStart` where the heap's bytes really are.
   */
  read() {
    const h = this.heap;
    return {
      packed: h.blocksPacked(),
      free: h.freeListsPacked(),
      stats: h.stats(),
      heapStart: h.heapStart(),
      realStart: h.realStart(),
      brk: h.brk(),
      memoryBytes: h.memoryBytes(),
      memoryEnd: h.memoryEnd(),
      position: h.position(),
      steps: h.stepCount(),
    };
  }

  /**
   * The real bytes at reported address `addr` (as every address the heap
   * gives), read through a fresh view of linear memory (growth detaches old
   * ones). With a base, reports and memory differ: the view starts at
   * `addr - heapStart() + realStart()`. Clipped to the heap, from its start
   * to memory.size.
   */
  memoryView(addr, len) {
    const h = this.heap;
    const buf = this.glue.wasmMemory().buffer;
    const start = h.realStart();
    const real = addr - h.heapStart() + start;
    if (!(real >= start) || real >= buf.byteLength) return new Uint8Array(0);
    const end = Math.min(buf.byteLength, real + Math.max(0, len));
    return new Uint8Array(buf, real, end - real);
  }
}

/**
 * The blocks of a packed walk: 4 words each, [addr, size, requested,
 * header | used << 31 | quick << 30]. `quick`: the block waits in a quick list
 * (heaptale policy: freed, still marked used; always with `used`).
 */
export const blockAt = (packed, i) => ({
  addr: packed[i * 4],
  size: packed[i * 4 + 1],
  requested: packed[i * 4 + 2],
  header: packed[i * 4 + 3] & 0x3fffffff,
  used: (packed[i * 4 + 3] & 0x80000000) !== 0,
  quick: (packed[i * 4 + 3] & 0x40000000) !== 0,
  index: i,
});

/** A block's state in words, as the block lists say it: 'used', 'free' or 'used (in quick list)'. */
export const blockState = (b) => (b.quick ? 'used (in quick list)' : b.used ? 'used' : 'free');

/** The list number of the top block kept apart (heaptale policy) in a free-list walk. */
export const TOP_LIST = 0xffffffff;
/** Quick list q's number in a free-list walk is QUICK_LIST + q (heaptale policy). */
export const QUICK_LIST = 0x80000000;

/** The block size of quick list `q` under the header and alignment knobs. */
export function quickBlockSize(q, header, align) {
  const min = Math.ceil((header + 12) / align) * align;
  return min + q * align;
}

/** The top block's address in a packed free-list walk (heaptale policy), or null. */
export function topBlock(free) {
  for (let j = free.length - 3; j >= 0; j -= 3) {
    if (free[j] === TOP_LIST) return free[j + 1];
    if (free[j] < QUICK_LIST) break; // past the quick lists, before it: no top block
  }
  return null;
}

/** A list's rank in the free-lists panel: size classes, then the top block, then quick lists. */
export const listRank = (list) => (list === TOP_LIST ? 1 : list >= QUICK_LIST ? 2 : 0);

/** Index of the block that contains `addr` (blocks tile the heap), or -1. */
export function blockIndexAt(packed, addr) {
  let lo = 0;
  let hi = packed.length / 4 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const a = packed[mid * 4];
    if (addr < a) hi = mid - 1;
    else if (addr >= a + packed[mid * 4 + 1]) lo = mid + 1;
    else return mid;
  }
  return -1;
}
