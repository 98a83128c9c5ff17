// Times the benchmark modules (one per allocator) on every workload; run by run.mjs as
//   node --no-liftoff --no-wasm-lazy-compilation --expose-gc bench/measure.mjs MODULE_DIR REPS ALLOCATORS [IC_DIR]
// and prints one JSON document on stdout (progress on stderr).
// IC_DIR holds the same modules instrumented by icount (and baseline.wasm): after
// the timing, each cell that passed runs once more there to count the wasm instructions it
// executes (deterministic, unlike the times).
//
// Protocol. For each repetition, for each workload, each allocator runs in turn (the order
// rotated by one each repetition; dlmalloc first in the first one) in a fresh instance:
//   m0 = memory size at instantiation (static data, stack; nothing allocated yet)
//   run 1: bench_run(w), timed with performance.now()      -> speed, peak live, m1
//   run 2: bench_run(w) again in the same instance, timed  -> warm speed, m2
// footprint = m1 - m0 (what the allocator grew), growth = m2 - m1.
// A run that fails a check (null, misalignment, a broken tag, lost realloc data) marks the
// cell failed; one that passes its deadline (max(MIN_DEADLINE, FACTOR x dlmalloc's first
// time on the workload)) marks it DNF, with the ops it managed; neither is run again.
import fs from 'node:fs';
import path from 'node:path';

const [dir, repsArg, allocArg, icDir] = process.argv.slice(2);
const REPS = Number(repsArg);
const ALLOCS = allocArg.split(',');
const FACTOR = 10;
const MIN_DEADLINE = 500;
const STATUS = ['ok', 'returned null', 'misaligned pointer', 'broken tag at free (overlap or overwrite)',
  'realloc lost data', 'vector contents wrong', 'timeout', 'bad trace', 'bad workload'];

if (typeof gc !== 'function') throw new Error('run with --expose-gc');
const imports = { env: { now: () => performance.now() } };
const modules = {};
for (const a of ALLOCS) modules[a] = new WebAssembly.Module(fs.readFileSync(path.join(dir, `${a}.wasm`)));

function metaOf(mod) {
  const e = new WebAssembly.Instance(mod, imports).exports;
  const p = e.bench_meta_ptr();
  return JSON.parse(Buffer.from(e.memory.buffer, p, e.bench_meta_len()).toString());
}
const meta = {};
for (const a of ALLOCS) meta[a] = metaOf(modules[a]);
const workloads = meta[ALLOCS[0]].workloads;
for (const a of ALLOCS) {
  if (JSON.stringify(meta[a].workloads) !== JSON.stringify(workloads)) throw new Error(`${a}: different workloads`);
  if (meta[a].allocator !== a) throw new Error(`${a}.wasm says it is ${meta[a].allocator}`);
}

const cells = {};
for (const a of ALLOCS) {
  cells[a] = {};
  for (const w of workloads) cells[a][w.name] = { samples: [], failed: null, dnf: null, run2: null };
}
const base = {}; // dlmalloc's first run-1 time per workload (ms)

const t00 = performance.now();
for (let rep = 0; rep < REPS; rep++) {
  for (let wi = 0; wi < workloads.length; wi++) {
    const w = workloads[wi].name;
    const order = ALLOCS.map((_, i) => ALLOCS[(i + rep) % ALLOCS.length]);
    for (const a of order) {
      const c = cells[a][w];
      if (c.failed || c.dnf) continue;
      gc();
      const e = new WebAssembly.Instance(modules[a], imports).exports;
      const budget = base[w] ? Math.max(MIN_DEADLINE, FACTOR * base[w]) : 120000;
      const m0 = e.memory.buffer.byteLength;
      let t = performance.now();
      const st = e.bench_run(wi, t + budget);
      const t1 = performance.now() - t;
      const ops = e.bench_ops(), peak = e.bench_peak(), m1 = e.memory.buffer.byteLength;
      if (st === 6) {
        c.dnf = { rep, ops, ms: t1, budget_ms: budget };
        process.stderr.write(`  ${a} ${w}: DNF after ${t1.toFixed(0)} ms (${ops} ops)\n`);
        continue;
      }
      if (st !== 0) {
        c.failed = { rep, run: 1, status: st, what: STATUS[st] ?? `status ${st}`, at_op: e.bench_err_op(), size: e.bench_err_size(), align: e.bench_err_align() };
        process.stderr.write(`  ${a} ${w}: FAILED run 1: ${c.failed.what} at op ${c.failed.at_op}\n`);
        continue;
      }
      if (a === 'dlmalloc' && base[w] === undefined) base[w] = t1;
      if (c.run2) { // run 2 already timed out once: not again
        c.samples.push({ rep, ops, peak, t1_ms: t1, m0, m1, m2: null, t2_ms: null, ops2: null });
        continue;
      }
      t = performance.now();
      const st2 = e.bench_run(wi, t + budget);
      const t2 = performance.now() - t;
      const m2 = e.memory.buffer.byteLength;
      const s = { rep, ops, peak, t1_ms: t1, m0, m1, m2, t2_ms: null, ops2: e.bench_ops() };
      if (st2 === 0) s.t2_ms = t2;
      else if (st2 === 6) {
        s.m2 = null; // growth unknown: run 2 did not finish
        c.run2 = { rep, status: st2, what: 'timeout', at_op: e.bench_ops() };
      }
      else {
        c.failed = { rep, run: 2, status: st2, what: STATUS[st2] ?? `status ${st2}`, at_op: e.bench_err_op(), size: e.bench_err_size(), align: e.bench_err_align() };
        c.samples = [];
        process.stderr.write(`  ${a} ${w}: FAILED run 2: ${c.failed.what} at op ${c.failed.at_op}\n`);
        continue;
      }
      c.samples.push(s);
    }
    process.stderr.write(`rep ${rep + 1}/${REPS} ${w} done (${((performance.now() - t00) / 1000).toFixed(0)} s)\n`);
  }
}

// ---- instruction counts ----
const icount = { baseline: {}, cells: {} };
if (icDir) {
  const one = (mod, wi, budget) => {
    gc();
    const e = new WebAssembly.Instance(mod, imports).exports;
    const c0 = e.__icount.value;
    const st = e.bench_run(wi, performance.now() + budget);
    return st === 0 ? { instructions: Number(e.__icount.value - c0), ops: e.bench_ops() } : { failed: st };
  };
  const base = new WebAssembly.Module(fs.readFileSync(path.join(icDir, 'baseline.wasm')));
  for (let wi = 0; wi < workloads.length; wi++) icount.baseline[workloads[wi].name] = one(base, wi, 60000);
  for (const a of ALLOCS) {
    const mod = new WebAssembly.Module(fs.readFileSync(path.join(icDir, `${a}.wasm`)));
    icount.cells[a] = {};
    for (let wi = 0; wi < workloads.length; wi++) {
      const c = cells[a][workloads[wi].name];
      if (c.failed || c.dnf || !c.samples.length) continue;
      const t = Math.min(...c.samples.map((s) => s.t1_ms));
      icount.cells[a][workloads[wi].name] = one(mod, wi, Math.max(5000, 10 * t));
    }
    process.stderr.write(`instruction counts: ${a} done (${((performance.now() - t00) / 1000).toFixed(0)} s)\n`);
  }
}

process.stdout.write(JSON.stringify({
  icount,
  workloads, allocators: ALLOCS, reps: REPS, deadline: { factor: FACTOR, min_ms: MIN_DEADLINE },
  node_flags: process.execArgv, elapsed_s: (performance.now() - t00) / 1000, cells,
}));
