// heaptale in node, headless: replay a script or a trace and read the heap it
// leaves (blocks, free lists, figures, every step's events, the steps that
// failed), or drive a Heap call by call.
//
//   import { replay, shape } from 'heaptale/node';
//   const r = await replay('a = malloc(24)\nb = malloc(40)\nfree(a)', { policy: 'first' });
//   shape(r.blocks);   // ['free 32', 'used 48']
//
// The engine is the same WebAssembly module the browser runs (pkg/, wasm-pack's
// `--target web` output), loaded from the file next to this one and initialised
// synchronously. One heap lives in an instance at a time (it owns memory.grow):
// `replay` uses an instance of its own, `Heap` the module's default one (a new
// Heap there replaces the one before), and `createHeap` a fresh one each call.
// docs/EMBEDDING.md documents it; docs/API.md has the whole JS API.

import { readFileSync } from 'node:fs';

const GLUE = new URL('../pkg/heaptale.js', import.meta.url);
const WASM = new URL('../pkg/heaptale_bg.wasm', import.meta.url);

let compiled = null;
function wasmModule() {
  if (!compiled) {
    let bytes;
    try {
      bytes = readFileSync(WASM);
    } catch (e) {
      throw new Error(`heaptale: the engine ${WASM.pathname} cannot be read (${e.code || e.message}); build it with make build`);
    }
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

let made = 0;

/**
 * A fresh engine instance: the glue module of its own (`Heap`, `Process`,
 * `policies`, `moduleMemory`, `wasmMemory`) over a new WebAssembly instance.
 */
export async function instance() {
  made += 1;
  const glue = await import(`${GLUE.href}?node-instance=${made}`);
  glue.initSync({ module: wasmModule() });
  return glue;
}

const main = await import(GLUE.href);
main.initSync({ module: wasmModule() });

/** The engine's `Heap` over the module's default instance (one live Heap at a time there). */
export const Heap = main.Heap;
/** The simulated process around a live `Heap` (see docs/API.md). */
export const Process = main.Process;
/** The policies: [{name, description, has_order}]. */
export const policies = () => main.policies();

/** A `Heap` in an instance of its own, so that several live side by side. */
export async function createHeap(options = {}) {
  const g = await instance();
  return new g.Heap(heapOptions(options));
}

const HEAP_KEYS = ['policy', 'order', 'coalesce', 'header', 'align', 'heapSize', 'base'];
const REPLAY_KEYS = [...HEAP_KEYS, 'heap-size', 'step', 'events', 'checked'];

/** `new Heap` options from replay options (the URL's `heap-size` is taken as `heapSize`). */
function heapOptions(o) {
  const out = {};
  for (const k of HEAP_KEYS) if (o[k] !== undefined) out[k] = o[k];
  if (o['heap-size'] !== undefined && out.heapSize === undefined) out.heapSize = o['heap-size'];
  return out;
}

let replayer = null;

/**
 * Replays a heaptale script or a CS:APP `.rep` trace (told apart by content) and
 * returns the heap it leaves, as plain data (see docs/EMBEDDING.md):
 * {policy, options, format, steps, step, heapStart, brk, memoryBytes, blocks,
 * freeList, freeLists, stats, events, errors, check, integrity}.
 *
 * Options: the heap's (`policy`, `order`, `coalesce`, `header`, `align`,
 * `heapSize`, `base`); `step` (a step number, or 'end', the default: where the
 * layout is read); `events` (default true: every step's events up to `step`);
 * `checked` (default false: replay as malloc-lab's driver does, every block
 * checked, and report `integrity`; the trace must then be sound throughout).
 *
 * A script's bad lines do not throw: each is a step that failed, listed in
 * `errors`, and the steps after it run. Bad options, a trace that cannot be
 * read, or a step past the end throw an Error that says why.
 */
export async function replay(text, options = {}) {
  if (typeof text !== 'string') throw new TypeError(`replay: the program must be a string (a script or a .rep trace), got ${text === null ? 'null' : typeof text}`);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError('replay: the options must be an object such as { policy: \'best\' }');
  for (const k of Object.keys(options)) {
    if (!REPLAY_KEYS.includes(k)) throw new Error(`replay: unknown option '${k}': the options are ${REPLAY_KEYS.join(', ')}`);
  }
  const { step = 'end', events = true, checked = false } = options;
  if (step !== 'end' && !(Number.isInteger(step) && step >= 0)) throw new Error(`replay: step must be a whole number or 'end', got ${JSON.stringify(step)}`);
  if (!replayer) replayer = instance();
  const g = await replayer;
  // From here on nothing awaits: the instance is ours until the heap is released.
  const heap = new g.Heap(heapOptions(options));
  try {
    let integrity = null;
    if (checked) {
      const r = heap.replay(text);
      if (r.error) throw new Error(`replay: ${r.error}`);
      integrity = {
        ops: r.ops, peakLiveBytes: r.peak_live_bytes, peakHeapBytes: r.peak_heap_bytes, heapBytes: r.heap_bytes,
        utilization: r.utilization, errors: [...r.integrity_errors], writeErrors: [...(r.write_errors ?? [])],
        allocFailures: r.alloc_failures, firstAllocFailure: r.first_alloc_failure,
      };
    } else {
      const r = heap.load(text);
      if (r.error) throw new Error(`replay: ${r.error}`);
    }
    const steps = heap.stepCount();
    if (step !== 'end' && step > steps) throw new Error(`replay: step ${step} is past the end (the program has ${steps} step${steps === 1 ? "" : "s"})`);
    const at = step === 'end' ? steps : step;
    const log = [];
    if (events) {
      for (let i = 1; i <= at; i++) {
        const info = heap.seek(i);
        log.push({ step: i, line: info.line, text: info.text, addr: info.addr, error: info.error, events: heap.events() });
      }
    }
    heap.seek(at);
    heap.events();
    const errors = heap.failures(steps).map((f) => ({ step: f.step, line: f.line, text: f.text, error: f.error }));
    let check = null;
    try { heap.check(); } catch (e) { check = e.message; }
    const tl = heap.timeline();
    return {
      policy: options.policy ?? 'first',
      options: heapOptions(options),
      format: tl.format,
      steps,
      step: at,
      heapStart: heap.heapStart(),
      brk: heap.brk(),
      memoryBytes: heap.memoryBytes(),
      blocks: heap.blocks().map((b) => ({ addr: b.addr, payload: b.payload, size: b.size, requested: b.requested, state: b.used ? 'used' : 'free', header: b.header })),
      freeList: heap.freeList().map(([a, s]) => [a, s]),
      freeLists: heap.freeLists().map((f) => ({ list: f.list, addr: f.addr, size: f.size })),
      stats: { ...heap.stats() },
      events: log,
      errors,
      check,
      integrity,
    };
  } finally {
    heap.free();
  }
}

/** Blocks as short words, `['used 32', 'free 48']`: what a tutorial's text says of a heap. */
export function shape(blocks) {
  return blocks.map((b) => `${b.state ?? (b.used ? 'used' : 'free')} ${b.size}`);
}

/** Blocks with addresses from the heap's start: `['used 32 @0', 'free 48 @32']` (addresses vary with the module's build). */
export function offsets(result) {
  return result.blocks.map((b) => `${b.state} ${b.size} @${b.addr - result.heapStart}`);
}
