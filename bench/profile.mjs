#!/usr/bin/env node
// Where an allocator's instructions go: wasm instructions executed per allocator call, by
// function, on one workload (after `make bench` has built bench/target/modules and the icount
// tool). Functions that LTO inlined are counted in their caller.
//   node bench/profile.mjs heaptale small-random
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const [alloc = 'heaptale', workload = 'small-random', top = '15'] = process.argv.slice(2);
const src = path.join(BENCH, 'target', 'modules', `${alloc}.wasm`);
const out = path.join(BENCH, 'target', `profile-${alloc}.wasm`);
execFileSync(path.join(BENCH, 'target', 'tool', 'icount'), [src, out], { env: { ...process.env, ICOUNT_PER_FUNCTION: '1' } });
const m = new WebAssembly.Module(fs.readFileSync(out));
const imports = { env: { now: () => 0 } };
const meta = (() => {
  const e = new WebAssembly.Instance(m, imports).exports;
  return JSON.parse(Buffer.from(e.memory.buffer, e.bench_meta_ptr(), e.bench_meta_len()).toString());
})();
const wi = meta.workloads.findIndex((w) => w.name === workload);
if (wi < 0) throw new Error(`no workload ${workload}: ${meta.workloads.map((w) => w.name).join(', ')}`);
const e = new WebAssembly.Instance(m, imports).exports;
const st = e.bench_run(wi, Infinity);
const ops = e.bench_ops();
const rows = Object.keys(e).filter((k) => k.startsWith('__ic:')).map((k) => [Number(e[k].value) / ops, k.slice(5)]).filter((r) => r[0] > 0).sort((a, b) => b[0] - a[0]);
console.log(`${alloc} on ${workload}: status ${st}, ${ops} allocator calls, ${rows.reduce((a, r) => a + r[0], 0).toFixed(1)} wasm instructions a call (harness included)`);
for (const [v, n] of rows.slice(0, Number(top))) console.log(v.toFixed(1).padStart(9), n.replace(/17h[0-9a-f]{16}E$/, ''));
