#!/usr/bin/env node
// A quick look at one allocator while working on it (not the benchmark: no timing):
// rebuilds its benchmark module and its code-size module ("s"), instruments the module with
// icount, and prints for every workload the wasm instructions a call beyond the baseline
// (next to dlmalloc's, from the last `make bench` build), the footprint and the growth on a
// second run (next to dlmalloc's), and the code size added at opt-level "s".
//   node bench/quick.mjs [ALLOCATOR] [--no-build]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const T = path.join(BENCH, 'target');
const args = process.argv.slice(2);
const alloc = args.find((a) => !a.startsWith('--')) ?? 'heaptale';
const imports = { env: { now: () => performance.now() } };

function cargo(argv) {
  const r = spawnSync('cargo', ['build', '--locked', '--target', 'wasm32-unknown-unknown', '--message-format=json-render-diagnostics', ...argv], {
    cwd: BENCH, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`cargo build ${argv.join(' ')} failed`);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
const wasmOut = (msgs, name) => msgs.find((m) => m.reason === 'compiler-artifact' && m.target?.name === name).filenames.find((f) => f.endsWith('.wasm'));

if (!args.includes('--no-build')) {
  fs.copyFileSync(wasmOut(cargo(['--release', '-p', 'heaptale-bench', '--features', alloc]), 'heaptale_bench'), path.join(T, 'modules', `${alloc}.wasm`));
  fs.copyFileSync(wasmOut(cargo(['--profile', 'size-s', '-p', 'heaptale-bench-size', '--features', alloc]), 'heaptale_bench_size'), path.join(T, 'size', 'size-s', `${alloc}.wasm`));
  execFileSync(path.join(T, 'tool', 'icount'), [path.join(T, 'modules', `${alloc}.wasm`), path.join(T, 'modules-ic', `${alloc}.wasm`)]);
}

const mod = (d, a) => new WebAssembly.Module(fs.readFileSync(path.join(T, d, `${a}.wasm`)));
const e0 = new WebAssembly.Instance(mod('modules', alloc), imports).exports;
const workloads = JSON.parse(Buffer.from(e0.memory.buffer, e0.bench_meta_ptr(), e0.bench_meta_len()).toString()).workloads;

function ic(m, wi) {
  const e = new WebAssembly.Instance(m, imports).exports;
  const st = e.bench_run(wi, Infinity);
  return st === 0 ? Number(e.__icount.value) / e.bench_ops() : NaN;
}
function mem(m, wi) {
  const e = new WebAssembly.Instance(m, imports).exports;
  const m0 = e.memory.buffer.byteLength;
  if (e.bench_run(wi, Infinity) !== 0) return [NaN, NaN];
  const m1 = e.memory.buffer.byteLength;
  if (e.bench_run(wi, Infinity) !== 0) return [NaN, NaN];
  return [(m1 - m0) / 1024, (e.memory.buffer.byteLength - m1) / 1024];
}
const base = mod('modules-ic', 'baseline'), me = mod('modules-ic', alloc), dl = mod('modules-ic', 'dlmalloc');
const mm = mod('modules', alloc), dm = mod('modules', 'dlmalloc');
let lg = 0;
console.log('workload'.padEnd(28), 'instr/call', 'dlmalloc', 'ratio', ' footprint KiB (dlmalloc)', 'growth');
workloads.forEach((w, wi) => {
  const b = ic(base, wi), x = ic(me, wi) - b, d = ic(dl, wi) - b;
  const [f, g] = mem(mm, wi), [df] = mem(dm, wi);
  lg += Math.log(x / d);
  console.log(w.name.padEnd(28), x.toFixed(1).padStart(10), d.toFixed(1).padStart(8), (x / d).toFixed(2).padStart(5), String(f).padStart(10), `(${df})`.padStart(9), f > df ? '  OVER' : '', String(g).padStart(6));
});
console.log('geomean instruction ratio', Math.exp(lg / workloads.length).toFixed(3));
const size = (a) => fs.statSync(path.join(T, 'size', 'size-s', `${a}.wasm`)).size;
console.log('code size added at "s":', size(alloc) - size('bump'));
