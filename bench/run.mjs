#!/usr/bin/env node
// The allocator benchmark of issue 3: builds one wasm module per allocator and the code-size
// modules, runs every workload under node (bench/measure.mjs), and writes
// bench/results/latest.json, bench/results/speed.svg and BENCHMARKS.md at the repo root.
//
//   node bench/run.mjs              everything (what `make bench` runs)
//   node bench/run.mjs --reps 7     more repetitions (default 5)
//   node bench/run.mjs --no-build   reuse bench/target/modules and bench/target/size
//   node bench/run.mjs --report     only rewrite BENCHMARKS.md and the chart from latest.json
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const TARGET = path.join(BENCH, 'target');
const RESULTS = path.join(BENCH, 'results');
const TRIPLE = 'wasm32-unknown-unknown';

// dlmalloc first: the reference, and the first to run in the first repetition.
const ALLOCS = ['dlmalloc', 'std', 'heaptale', 'talc', 'rlsf', 'lol_alloc', 'wee_alloc', 'buddy_system_allocator', 'linked_list_allocator'];
// Code size also measures heaptale with its feature `small` and rlsf's size-optimised
// SmallGlobalTlsf, and `bump` is the baseline.
const SIZE_VARIANTS = ['bump', ...ALLOCS, 'heaptale_small', 'rlsf_small'];
const SIZE_PROFILES = ['size-s', 'size-3'];
const CLASSES = { a: 'small random', b: 'mixed sizes', c: 'realloc-grown vectors', d: 'trace replays' };
const SETUP = {
  heaptale: '`heaptale::Allocator::new()` (path dependency, `default-features = false`)',
  dlmalloc: '`dlmalloc::GlobalDlmalloc` (feature `global`)',
  std: 'no `#[global_allocator]`: std\'s own allocator (its vendored dlmalloc on wasm32)',
  talc: '`talc::wasm::new_wasm_dynamic_allocator()` (`WasmDynamicTalc`, as talc\'s README_WASM says)',
  rlsf: '`rlsf::GlobalTlsf::new()`',
  heaptale_small: '`heaptale::Allocator::new()` with the crate\'s feature `small` (code size only)',
  rlsf_small: '`rlsf::SmallGlobalTlsf::new()` (code size only)',
  lol_alloc: '`AssumeSingleThreaded<FreeListAllocator>` (its README\'s single-threaded choice)',
  wee_alloc: '`wee_alloc::WeeAlloc::INIT`',
  buddy_system_allocator: '`LockedHeapWithRescue<32>` whose rescue grows memory (no memory source of its own; see below)',
  linked_list_allocator: '`LockedHeap::empty()`, `init`ed and `extend`ed over grown memory by a 30-line wrapper (no memory source of its own; see below)',
  bump: 'the baseline: a never-freeing bump allocator (16 lines)',
};

const args = process.argv.slice(2);
const opt = (name) => args.includes(name);
const REPS = args.includes('--reps') ? Number(args[args.indexOf('--reps') + 1]) : 5;
if (!(REPS >= 1)) throw new Error('--reps N');

function sh(cmd, argv, opts = {}) {
  return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts }).trim();
}
function log(s) {
  process.stderr.write(s + '\n');
}

// ---- build ----

function ensureTarget() {
  const installed = sh('rustup', ['target', 'list', '--installed']);
  if (!installed.split('\n').includes(TRIPLE)) {
    log(`bench: installing the ${TRIPLE} target`);
    sh('rustup', ['target', 'add', TRIPLE]);
  }
}

/** cargo build in bench/ (for wasm32 unless `native`); returns the JSON messages. */
function cargo(argv, native = false) {
  const r = spawnSync('cargo', ['build', '--locked', ...(native ? [] : ['--target', TRIPLE]), '--message-format=json-render-diagnostics', ...argv], {
    cwd: BENCH, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`cargo build ${argv.join(' ')} failed`);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function build() {
  ensureTarget();
  fs.mkdirSync(path.join(TARGET, 'modules'), { recursive: true });
  for (const a of ALLOCS) {
    log(`bench: building the benchmark module with ${a}`);
    const msgs = cargo(['--release', '-p', 'heaptale-bench', '--features', a]);
    const art = msgs.find((m) => m.reason === 'compiler-artifact' && m.target?.name === 'heaptale_bench');
    fs.copyFileSync(art.filenames.find((f) => f.endsWith('.wasm')), path.join(TARGET, 'modules', `${a}.wasm`));
    const bs = msgs.find((m) => m.reason === 'build-script-executed' && m.package_id.includes('heaptale-bench'));
    if (bs) {
      // the generated traces, as .rep text for the heaptale CLI
      const dst = path.join(TARGET, 'traces');
      fs.mkdirSync(dst, { recursive: true });
      for (const f of fs.readdirSync(path.join(bs.out_dir, 'rep'))) fs.copyFileSync(path.join(bs.out_dir, 'rep', f), path.join(dst, f));
    }
  }
  // the instruction-count baseline, and every module instrumented by icount
  log('bench: building the benchmark module with the instruction-count baseline, and the icount tool');
  const bm = cargo(['--release', '-p', 'heaptale-bench', '--features', 'baseline']);
  const bart = bm.find((m) => m.reason === 'compiler-artifact' && m.target?.name === 'heaptale_bench');
  fs.copyFileSync(bart.filenames.find((f) => f.endsWith('.wasm')), path.join(TARGET, 'modules', 'baseline.wasm'));
  const tm = cargo(['--profile', 'tool', '-p', 'heaptale-bench-icount'], true);
  const icount = tm.find((m) => m.reason === 'compiler-artifact' && m.executable)?.executable;
  fs.mkdirSync(path.join(TARGET, 'modules-ic'), { recursive: true });
  for (const a of ['baseline', ...ALLOCS]) sh(icount, [path.join(TARGET, 'modules', `${a}.wasm`), path.join(TARGET, 'modules-ic', `${a}.wasm`)]);
  for (const prof of SIZE_PROFILES) {
    fs.mkdirSync(path.join(TARGET, 'size', prof), { recursive: true });
    for (const v of SIZE_VARIANTS) {
      log(`bench: building the code-size module with ${v} (${prof})`);
      const msgs = cargo(['--profile', prof, '-p', 'heaptale-bench-size', '--features', v]);
      const art = msgs.find((m) => m.reason === 'compiler-artifact' && m.target?.name === 'heaptale_bench_size');
      fs.copyFileSync(art.filenames.find((f) => f.endsWith('.wasm')), path.join(TARGET, 'size', prof, `${v}.wasm`));
    }
  }
}

// ---- code size ----

/** Sizes of a wasm file: total bytes, and bytes of its code section (payload). */
function wasmSizes(file) {
  const b = fs.readFileSync(file);
  let i = 8, code = 0;
  const leb = () => {
    let r = 0, s = 0, x;
    do { x = b[i++]; r |= (x & 0x7f) << s; s += 7; } while (x & 0x80);
    return r >>> 0;
  };
  while (i < b.length) {
    const id = b[i++];
    const len = leb();
    if (id === 10) code = len;
    i += len;
  }
  return { file: b.length, code };
}

function codeSizes() {
  const out = {};
  for (const prof of SIZE_PROFILES) {
    out[prof] = {};
    for (const v of SIZE_VARIANTS) out[prof][v] = wasmSizes(path.join(TARGET, 'size', prof, `${v}.wasm`));
    const b = out[prof].bump;
    for (const v of SIZE_VARIANTS) {
      out[prof][v].added_file = out[prof][v].file - b.file;
      out[prof][v].added_code = out[prof][v].code - b.code;
    }
  }
  return out;
}

// ---- environment ----

function lockVersions() {
  const text = fs.readFileSync(path.join(BENCH, 'Cargo.lock'), 'utf8');
  const v = {};
  for (const block of text.split('[[package]]').slice(1)) {
    const name = /name = "([^"]+)"/.exec(block)?.[1];
    const version = /version = "([^"]+)"/.exec(block)?.[1];
    const src = /source = "([^"]+)"/.exec(block)?.[1];
    if (name) v[name] = src ? version : `${version} (path)`;
  }
  return v;
}

function environment() {
  let commit = '';
  try {
    commit = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
    if (sh('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no', '--', 'src', 'Cargo.toml', 'bench/src', 'bench/build.rs', 'bench/size']) !== '') commit += ' (with uncommitted changes)';
  } catch { /* not a checkout */ }
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    command: 'make bench   (= node bench/run.mjs)' + (REPS !== 5 ? ` --reps ${REPS}` : ''),
    heaptale_commit: commit,
    machine: { cores: cpus.length, cpu: cpus[0]?.model ?? '?', memory_gib: Math.round(os.totalmem() / 2 ** 30), os: `${os.type()} ${os.release()} ${os.arch()}`, loadavg_before: os.loadavg().map((x) => +x.toFixed(2)) },
    node: process.version,
    v8: process.versions.v8,
    rustc: sh('rustc', ['-V']),
    cargo: sh('cargo', ['-V']),
    crates: lockVersions(),
  };
}

// ---- statistics ----

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const geomean = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
const spread = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });

function summarize(m) {
  const { workloads, allocators, cells } = m;
  const byRep = (a, w) => Object.fromEntries(cells[a][w].samples.map((s) => [s.rep, s]));
  const S = {};
  for (const a of allocators) {
    S[a] = { workloads: {} };
    for (const wl of workloads) {
      const w = wl.name;
      const c = cells[a][w];
      const r = { status: c.failed ? 'failed' : c.dnf ? 'dnf' : 'ok' };
      if (c.failed) r.failed = c.failed;
      if (c.dnf) {
        r.dnf = c.dnf;
        r.speed_upper = (c.dnf.ops / c.dnf.ms) * 1000;
        const dl = cells.dlmalloc[w].samples.find((s) => s.rep === c.dnf.rep) ?? cells.dlmalloc[w].samples[0];
        if (dl) r.speed_ratio_upper = r.speed_upper / ((dl.ops / dl.t1_ms) * 1000);
      }
      if (r.status === 'ok' && c.samples.length) {
        const mine = byRep(a, w), ref = byRep('dlmalloc', w);
        const reps = Object.keys(mine).filter((k) => ref[k]);
        const sp = (s) => (s.ops / s.t1_ms) * 1000;
        const sp2 = (s) => (s.t2_ms ? (s.ops2 / s.t2_ms) * 1000 : NaN);
        r.speed = spread(c.samples.map(sp));
        r.speed_ratio = spread(reps.map((k) => sp(mine[k]) / sp(ref[k])));
        r.speed_ratio_by_rep = Object.fromEntries(reps.map((k) => [k, sp(mine[k]) / sp(ref[k])]));
        const warm = reps.filter((k) => mine[k].t2_ms && ref[k].t2_ms);
        if (warm.length) r.warm_speed_ratio = spread(warm.map((k) => sp2(mine[k]) / sp2(ref[k])));
        r.ops = c.samples[0].ops;
        r.footprint = spread(c.samples.map((s) => s.m1 - s.m0));
        r.peak_live = c.samples[0].peak;
        r.utilization = r.peak_live / r.footprint.median;
        const g = c.samples.filter((s) => s.m2 !== null).map((s) => s.m2 - s.m1);
        r.growth = g.length ? spread(g) : null;
        if (c.run2) r.run2 = c.run2;
        const dlf = cells.dlmalloc[w].samples.length ? median(cells.dlmalloc[w].samples.map((s) => s.m1 - s.m0)) : NaN;
        r.footprint_ratio = r.footprint.median / dlf;
      }
      S[a].workloads[w] = r;
    }
    // instructions per allocator call beyond the baseline allocator
    const ic = m.icount?.cells?.[a] ?? {};
    for (const wl of workloads) {
      const r = S[a].workloads[wl.name], c = ic[wl.name], b = m.icount?.baseline?.[wl.name];
      if (c && c.instructions !== undefined && b && b.instructions !== undefined && c.ops === b.ops) {
        r.instructions_total_per_call = c.instructions / c.ops;
        r.instructions_per_call = (c.instructions - b.instructions) / c.ops;
      }
    }
    // speed geomeans: per repetition, over classes (each class the geomean of its workloads)
    // and over all workloads; then median and spread over repetitions.
    const rows = workloads.map((wl) => S[a].workloads[wl.name]);
    const complete = rows.every((r) => r.status === 'ok');
    if (complete) {
      const reps = Object.keys(rows[0].speed_ratio_by_rep).filter((k) => rows.every((r) => r.speed_ratio_by_rep[k] !== undefined));
      const cls = (k) => Object.keys(CLASSES).map((c) => geomean(workloads.filter((wl) => wl.class === c).map((wl) => S[a].workloads[wl.name].speed_ratio_by_rep[k])));
      S[a].speed_geomean_classes = spread(reps.map((k) => geomean(cls(k))));
      S[a].speed_geomean_all = spread(reps.map((k) => geomean(rows.map((r) => r.speed_ratio_by_rep[k]))));
      S[a].speed_by_class = Object.fromEntries(Object.keys(CLASSES).map((c, i) => [c, spread(reps.map((k) => cls(k)[i]))]));
      S[a].footprint_geomean = geomean(rows.map((r) => r.footprint_ratio));
      S[a].footprint_worst = Math.max(...rows.map((r) => r.footprint_ratio));
      S[a].growth_workloads = rows.filter((r) => r.growth && r.growth.max > 0).length;
    } else {
      // class figures where the class is complete
      S[a].speed_by_class = {};
      for (const c of Object.keys(CLASSES)) {
        const rs = workloads.filter((wl) => wl.class === c).map((wl) => S[a].workloads[wl.name]);
        if (rs.every((r) => r.status === 'ok')) {
          const reps = Object.keys(rs[0].speed_ratio_by_rep).filter((k) => rs.every((r) => r.speed_ratio_by_rep[k] !== undefined));
          S[a].speed_by_class[c] = spread(reps.map((k) => geomean(rs.map((r) => r.speed_ratio_by_rep[k]))));
        }
      }
      const ok = rows.filter((r) => r.status === 'ok');
      S[a].growth_workloads = ok.filter((r) => r.growth && r.growth.max > 0).length;
      S[a].incomplete = rows.length - ok.length;
    }
  }
  for (const a of allocators) {
    const rs = workloads.map((wl) => {
      const r = S[a].workloads[wl.name], d = S.dlmalloc.workloads[wl.name];
      if (r.instructions_per_call !== undefined && d.instructions_per_call > 0) r.instructions_ratio = r.instructions_per_call / d.instructions_per_call;
      return r.instructions_ratio;
    });
    if (rs.every((x) => x > 0)) S[a].instructions_geomean = geomean(rs);
  }
  return S;
}

// ---- report ----

const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const pct = (x) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '–');
const kib = (b) => (Number.isFinite(b) ? `${Math.round(b / 1024).toLocaleString('en-US')} KiB` : '–');
const int = (x) => Math.round(x).toLocaleString('en-US');
const withSpread = (s) => (s ? `${f2(s.median)} (${f2(s.min)}–${f2(s.max)})` : '–');
const mops = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);

/**
 * How fast the harness lets any allocator be: by instruction counts, an allocator that did no
 * more than the baseline's ~15 instructions a call would run a workload in (harness + baseline)
 * instructions a call where dlmalloc needs (harness + baseline + dlmalloc's extra). Times are not
 * instructions (memory traffic, growth), so this is a guide, not a bound; it shows how far a
 * speed target is from what the workloads leave to the allocator.
 */
function speedCeiling(m, S, W, p, table) {
  const base = (w) => m.icount?.baseline?.[w];
  const extra = (a, w) => S[a].workloads[w]?.instructions_per_call;
  const rows = [];
  const logs = { ceiling: {}, heaptale: {}, talc: {} };
  for (const wl of W) {
    const b = base(wl.name), d = extra('dlmalloc', wl.name);
    if (!b || d === undefined) return;
    const h = b.instructions / b.ops;
    const ratio = (x) => (x === undefined ? NaN : (h + d) / (h + x));
    const r = { ceiling: (h + d) / h, heaptale: ratio(extra('heaptale', wl.name)), talc: ratio(extra('talc', wl.name)) };
    for (const k of Object.keys(logs)) (logs[k][wl.class] ??= []).push(Math.log(r[k]));
    rows.push([wl.name, wl.class, f1(h), f1(d), f2(r.ceiling), f2(r.heaptale), f2(S.heaptale.workloads[wl.name].speed_ratio?.median), f2(r.talc)]);
  }
  const gm = (xs) => Math.exp(xs.reduce((x, y) => x + y, 0) / xs.length);
  const cls = (k) => Object.fromEntries(Object.entries(logs[k]).map(([c, xs]) => [c, gm(xs)]));
  const over = (k) => gm(Object.values(cls(k)).map(Math.log));
  const ceil = cls('ceiling');
  p('### How much speed the workloads leave to the allocator');
  p();
  p('Every allocator call also runs the harness (PRNG, tags written and checked, bookkeeping), the');
  p('same for every allocator. By instruction counts, an allocator that did no more than the');
  p('baseline\'s ~15 instructions a call would be at most "ceiling" × dlmalloc; what heaptale\'s and');
  p('talc\'s instruction counts predict the same way stands next to it. Times are not instructions');
  p('(memory traffic and growth count too: compare the measured column), so this is a guide, not a');
  p(`bound. Over the classes the ceiling is ${f2(over('ceiling'))} × (class a ${f2(ceil.a)}, b ${f2(ceil.b)}, c ${f2(ceil.c)}, d ${f2(ceil.d)}); the`);
  p(`speed target of 1.60 asks for ${((Math.log(1.6) / Math.log(over('ceiling'))) * 100).toFixed(0)} % of that headroom (in log terms), with classes a and c`);
  p(`capped at ${f2(ceil.a)} and ${f2(ceil.c)} by their harness work alone. Predicted over classes: heaptale ${f2(over('heaptale'))}, talc ${f2(over('talc'))}.`);
  p();
  table(['workload', 'class', 'harness + baseline a call', 'dlmalloc\'s extra a call', 'ceiling', 'heaptale predicted', 'heaptale measured', 'talc predicted'], rows);
}

function cellText(r, field) {
  if (r.status === 'failed') return `**FAILED** (run ${r.failed.run}: ${r.failed.what}, op ${int(r.failed.at_op)})`;
  if (r.status === 'dnf') return field === 'speed' ? `DNF (< ${r.speed_ratio_upper.toFixed(3)})` : 'DNF';
  return null;
}

function speedSvg(m, S) {
  const allocs = m.allocators;
  const groups = [...m.workloads.map((w) => w.name), 'geomean (classes)'];
  const colors = ['#444444', '#999999', '#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#bcbd22'];
  const W = 1180, H = 560, L = 60, R = 20, T = 50, B = 190;
  const lo = 0.01, hi = 4;
  const y = (v) => T + (H - T - B) * (1 - (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)));
  const gw = (W - L - R) / groups.length, bw = (gw - 10) / allocs.length;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">Speed relative to dlmalloc (median of ${m.reps} runs, log scale; higher is faster)</text>`);
  for (const v of [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 4]) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${v === 1 ? '#000' : '#ddd'}" stroke-width="${v === 1 ? 1.2 : 1}"/>`);
    out.push(`<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v}×</text>`);
  }
  groups.forEach((g, gi) => {
    const x0 = L + gi * gw + 5;
    allocs.forEach((a, ai) => {
      let v, mark = '';
      if (gi < m.workloads.length) {
        const r = S[a].workloads[g];
        if (r.status === 'ok') v = r.speed_ratio.median;
        else if (r.status === 'dnf') { v = r.speed_ratio_upper; mark = 'DNF'; } else mark = '✗';
      } else if (S[a].speed_geomean_classes) v = S[a].speed_geomean_classes.median;
      else mark = 'n/a';
      const x = x0 + ai * bw;
      if (v !== undefined) {
        const vv = Math.min(Math.max(v, lo), hi);
        out.push(`<rect x="${x.toFixed(1)}" y="${y(vv).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${(y(lo) - y(vv)).toFixed(1)}" fill="${colors[ai]}"${mark ? ' fill-opacity="0.35"' : ''}><title>${a} on ${g}: ${v.toFixed(3)}×${mark ? ' (DNF: at most)' : ''}</title></rect>`);
      }
      if (mark) out.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${(y(lo) - 3).toFixed(1)}" font-size="8" text-anchor="middle" transform="rotate(-90 ${(x + bw / 2).toFixed(1)} ${(y(lo) - 3).toFixed(1)})" dy="3">${mark}</text>`);
    });
    const cx = x0 + (gw - 10) / 2;
    out.push(`<text x="${cx.toFixed(1)}" y="${(y(lo) + 12).toFixed(1)}" text-anchor="end" transform="rotate(-35 ${cx.toFixed(1)} ${(y(lo) + 12).toFixed(1)})">${g}</text>`);
  });
  allocs.forEach((a, ai) => {
    const x = L + (ai % 5) * 200, yy = H - 38 + Math.floor(ai / 5) * 16;
    out.push(`<rect x="${x}" y="${yy - 9}" width="12" height="10" fill="${colors[ai]}"/><text x="${x + 16}" y="${yy}">${a}</text>`);
  });
  out.push(`<text x="${W - R}" y="${H - 8}" text-anchor="end" fill="#555">pale bar with DNF: did not finish within the deadline (bar = upper bound); ✗: failed a check</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function report(res) {
  const { env, measure: m, summary: S, code_size: C } = res;
  const A = m.allocators;
  const W = m.workloads;
  const L = [];
  const p = (s = '') => L.push(s);
  const table = (head, rows, left = 1) => {
    p(`| ${head.join(' | ')} |`);
    p(`|${head.map((_, i) => (i >= left ? '---:' : '---')).join('|')}|`);
    for (const r of rows) p(`| ${r.join(' | ')} |`);
    p();
  };
  const h = S.heaptale, t = S.talc;

  p('# Allocator benchmarks');
  p();
  p('<!-- generated by bench/run.mjs: do not edit by hand; run `make bench` -->');
  p();
  p(`heaptale's \`Allocator\` against the allocators a Rust wasm32 crate can use today, each the`);
  p(`\`#[global_allocator]\` of the same benchmark module, run under node. Every figure is a ratio to`);
  p(`dlmalloc measured in the same run (the median over ${m.reps} repetitions, with the min–max spread of`);
  p(`the per-repetition ratios in parentheses), then absolute numbers.`);
  p();
  p(`- command: \`${env.command}\` from the repository root (${m.elapsed_s.toFixed(0)} s of measuring)`);
  p(`- date: ${env.date}; heaptale at commit ${env.heaptale_commit || '?'}`);
  p(`- machine: ${env.machine.cores} cores (${env.machine.cpu}), ${env.machine.memory_gib} GiB, ${env.machine.os}; shared with other engineers' builds (load average ${env.machine.loadavg_before?.[0] ?? '?'} before the measuring, ${env.machine.loadavg_after?.[0] ?? '?'} after, on 2 cores), so the times are noisy: see the spreads, and the instruction counts, which are not`);
  p(`- node ${env.node} (V8 ${env.v8}), flags \`${m.node_flags.join(' ')}\` (every function compiled by TurboFan up front: no baseline tier, no tier-up during a run)`);
  p(`- ${env.rustc}; target wasm32-unknown-unknown; release profile: opt-level 3, lto = true, codegen-units = 1, panic = "abort"; no wasm-opt`);
  p(`- crates: ${['dlmalloc', 'talc', 'rlsf', 'lol_alloc', 'wee_alloc', 'buddy_system_allocator', 'linked_list_allocator', 'heaptale'].map((c) => `${c} ${env.crates[c]}`).join(', ')} (bench/Cargo.lock)`);
  p();
  p('![Speed relative to dlmalloc per workload](bench/results/speed.svg)');
  p();

  // ---- summary ----
  p('## Summary');
  p();
  p('Speed is ops/s relative to dlmalloc (higher is faster): the geometric mean over the four workload');
  p('classes (each class the geometric mean of its workloads), and over all workloads. Footprint is the');
  p('linear memory the allocator grew, relative to dlmalloc (lower is better): geometric mean and worst');
  p('workload. Utilization is on mixed sizes. Growth counts the workloads whose second run in the same');
  p('instance grew memory. Instructions a call: wasm instructions executed per allocator call beyond');
  p('a minimal recycling allocator, relative to dlmalloc, geometric mean over workloads (lower is');
  p('better; see "Instructions"). Code size is bytes added to a minimal module (see "Code size").');
  p();
  const sumRows = A.map((a) => {
    const s = S[a];
    const mixed = s.workloads['mixed-sizes'];
    return [
      `**${a}**`,
      s.speed_geomean_classes ? withSpread(s.speed_geomean_classes) : `n/a (${s.incomplete} workload${s.incomplete > 1 ? 's' : ''} failed or DNF)`,
      s.speed_geomean_all ? withSpread(s.speed_geomean_all) : 'n/a',
      s.footprint_geomean ? f2(s.footprint_geomean) : 'n/a',
      s.footprint_worst ? f2(s.footprint_worst) : 'n/a',
      mixed.status === 'ok' ? pct(mixed.utilization) : cellText(mixed, 'util'),
      `${s.growth_workloads} of ${W.length - (s.incomplete ?? 0)}`,
      s.instructions_geomean ? f2(s.instructions_geomean) : 'n/a',
      int(C['size-s'][a].added_file),
      int(C['size-3'][a].added_file),
    ];
  });
  table(['allocator', 'speed, classes', 'speed, all', 'footprint (geomean)', 'footprint (worst)', 'utilization, mixed', 'growth on rerun', 'instructions a call', 'code "s" (B)', 'code 3 (B)'], sumRows);

  // ---- targets ----
  p('## heaptale against the targets of issue 3');
  p();
  const tg = [];
  const hs = h.speed_geomean_classes;
  if (hs) tg.push(['speed: geomean ≥ 1.60 × dlmalloc', `${f2(hs.median)} (${f2(hs.min)}–${f2(hs.max)}), all workloads ${f2(h.speed_geomean_all.median)}`, hs.median >= 1.6 ? 'met' : `**missed** by ${f2(1.6 - hs.median)} (${((1.6 / hs.median - 1) * 100).toFixed(0)} % faster needed)`]);
  else tg.push(['speed: geomean ≥ 1.60 × dlmalloc', 'n/a', '**missed**: a workload failed or did not finish']);
  for (const c of Object.keys(CLASSES)) {
    const hv = h.speed_by_class[c], tv = t.speed_by_class[c];
    tg.push([`speed: above talc on class ${c} (${CLASSES[c]})`, `heaptale ${withSpread(hv)}, talc ${withSpread(tv)}`, hv && tv && hv.median > tv.median ? 'met' : `**missed**${hv && tv ? ` (heaptale at ${f2(hv.median / tv.median)} × talc)` : ''}`]);
  }
  for (const wl of W) {
    const r = h.workloads[wl.name];
    if (r.status !== 'ok') { tg.push([`footprint ≤ 1.00 on ${wl.name}`, cellText(r, 'fp'), '**missed**']); continue; }
    tg.push([`footprint ≤ 1.00 on ${wl.name}`, `${f2(r.footprint_ratio)} (${kib(r.footprint.median)} vs ${kib(S.dlmalloc.workloads[wl.name].footprint?.median)})`, r.footprint_ratio <= 1.0 ? 'met' : `**missed** by ${kib(r.footprint.median - S.dlmalloc.workloads[wl.name].footprint.median)}`]);
  }
  const hm = h.workloads['mixed-sizes'];
  tg.push(['utilization ≥ 87 % on mixed sizes', hm.status === 'ok' ? pct(hm.utilization) : cellText(hm, 'u'), hm.status === 'ok' && hm.utilization >= 0.87 ? 'met' : `**missed**${hm.status === 'ok' ? ` by ${((0.87 - hm.utilization) * 100).toFixed(1)} points` : ''}`]);
  const grew = W.filter((wl) => h.workloads[wl.name].growth?.max > 0);
  tg.push(['no growth when a workload runs again', grew.length ? grew.map((wl) => `${wl.name} +${kib(h.workloads[wl.name].growth.max)}`).join(', ') : 'none on any workload', grew.length ? `**missed** on ${grew.length}` : 'met']);
  const cs = C['size-s'].heaptale.added_file;
  tg.push(['code size ≤ 2,000 B added at opt-level "s"', `${int(cs)} B (feature \`small\`: ${int(C['size-s'].heaptale_small.added_file)} B; talc ${int(C['size-s'].talc.added_file)}, dlmalloc ${int(C['size-s'].dlmalloc.added_file)})`, cs <= 2000 ? 'met' : `**missed** by ${int(cs - 2000)} B`]);
  table(['target', 'measured', 'verdict'], tg, 3);
  speedCeiling(m, S, W, p, table);

  // ---- speed ----
  p('## Speed');
  p();
  p('Ops/s of the first run in a fresh instance (growing memory included), relative to dlmalloc in the');
  p('same repetition: median (min–max). DNF: the run passed its deadline (10 × dlmalloc\'s time, at');
  p('least 0.5 s); the figure after it is the ratio of what it managed by then, an upper bound.');
  p();
  table(['workload', ...A], W.map((wl) => [wl.name, ...A.map((a) => {
    const r = S[a].workloads[wl.name];
    return cellText(r, 'speed') ?? withSpread(r.speed_ratio);
  })]));
  p('Class geometric means (each class the geometric mean of its workloads):');
  p();
  table(['class', ...A], Object.keys(CLASSES).map((c) => [`${c}: ${CLASSES[c]}`, ...A.map((a) => withSpread(S[a].speed_by_class[c]))]));
  p('Warm speed: the second run in the same instance (the heap already grown), relative to dlmalloc\'s second run:');
  p();
  table(['workload', ...A], W.map((wl) => [wl.name, ...A.map((a) => {
    const r = S[a].workloads[wl.name];
    return cellText(r, 'speed') ?? (r.warm_speed_ratio ? withSpread(r.warm_speed_ratio) : 'timeout');
  })]));
  p('Absolute speed, allocator calls per second (median of the first runs):');
  p();
  table(['workload', 'allocator calls a run', ...A], W.map((wl) => [wl.name, int(S.dlmalloc.workloads[wl.name].ops ?? NaN), ...A.map((a) => {
    const r = S[a].workloads[wl.name];
    if (r.status === 'dnf') return `< ${mops(r.speed_upper)}`;
    return r.status === 'ok' ? mops(r.speed.median) : 'failed';
  })]));

  // ---- instructions ----
  p('## Instructions');
  p();
  p('Timing on a shared 2-core machine is noisy; instruction counts are not. Each module is also built');
  p('instrumented (`bench/icount`, a walrus pass that adds to an exported counter, at the start of each');
  p('straight-line stretch of code, the number of wasm instructions in it), and each workload that');
  p('passed runs once more that way. The figure is the wasm instructions executed per allocator call');
  p('beyond what the same run executes with the baseline allocator of `bench/src/recycle.rs` (the');
  p('harness: PRNG, tags, checks, bookkeeping; plus the baseline\'s own ~15 instructions a call: an');
  p('exact-class LIFO list per size and alignment, bumping when empty, no split, no merge), so it is');
  p('the allocator\'s own work beyond the least an allocator can do. A bulk-memory instruction (the');
  p('copy inside a moving realloc) counts as one. Deterministic: the same on every run.');
  p('`node bench/profile.mjs ALLOCATOR WORKLOAD` splits such a count by function.');
  p();
  table(['workload', 'harness a call', ...A], W.map((wl) => {
    const b = m.icount?.baseline?.[wl.name];
    return [wl.name, b?.instructions !== undefined ? f1(b.instructions / b.ops) : '–', ...A.map((a) => {
      const r = S[a].workloads[wl.name];
      if (r.status !== 'ok') return cellText(r, 'i');
      return r.instructions_per_call !== undefined ? f1(r.instructions_per_call) : '–';
    })];
  }));
  p('Relative to dlmalloc (lower is better):');
  p();
  table(['workload', ...A], [...W.map((wl) => [wl.name, ...A.map((a) => {
    const r = S[a].workloads[wl.name];
    if (r.status !== 'ok') return cellText(r, 'i');
    return r.instructions_ratio !== undefined ? f2(r.instructions_ratio) : '–';
  })]), ['**geomean**', ...A.map((a) => (S[a].instructions_geomean ? `**${f2(S[a].instructions_geomean)}**` : 'n/a'))]]);

  // ---- memory ----
  p('## Memory');
  p();
  p('Footprint: the linear memory the allocator grew during the first run (`memory.size` at the end');
  p('minus `memory.size` at instantiation, before anything was allocated), relative to dlmalloc, then');
  p('in KiB. Deterministic: every repetition gave the same figure unless a spread is shown.');
  p();
  table(['workload', ...A], W.map((wl) => [wl.name, ...A.map((a) => {
    const r = S[a].workloads[wl.name];
    return cellText(r, 'fp') ?? `${f2(r.footprint_ratio)}${r.footprint.min !== r.footprint.max ? ` (${f2(r.footprint.min / r.footprint.median * r.footprint_ratio)}–${f2(r.footprint.max / r.footprint.median * r.footprint_ratio)})` : ''}`;
  })]));
  table(['footprint', 'peak live payload', ...A], W.map((wl) => [wl.name, kib(S.dlmalloc.workloads[wl.name].peak_live ?? NaN), ...A.map((a) => {
    const r = S[a].workloads[wl.name];
    return r.status === 'ok' ? kib(r.footprint.median) : cellText(r, 'fp');
  })]));
  p('Utilization: peak live payload (bytes requested; for vectors, capacity × element size) divided by');
  p('the footprint. The 64 KiB granularity of `memory.size` is part of every figure.');
  p();
  table(['workload', ...A], W.map((wl) => [wl.name, ...A.map((a) => {
    const r = S[a].workloads[wl.name];
    return cellText(r, 'u') ?? pct(r.utilization);
  })]));
  p('Growth: `memory.size` after the second run of the workload in the same instance minus after');
  p('the first (the heap is empty again between the runs), in KiB; 0 is the target.');
  p();
  table(['workload', ...A], W.map((wl) => [wl.name, ...A.map((a) => {
    const r = S[a].workloads[wl.name];
    if (r.status !== 'ok') return cellText(r, 'g');
    if (!r.growth) return 'run 2 timed out';
    return r.growth.max === 0 ? '0' : `**${int(r.growth.median / 1024)}**`;
  })]));

  // ---- code size ----
  p('## Code size');
  p();
  p('The minimal module is `bench/size/src/lib.rs`: one export, `run(n)`, that makes a `Box`, pushes');
  p('`n` values on a `Vec` (realloc up), shrinks it (realloc down), makes `vec![0u8; n]` (alloc_zeroed)');
  p('and one 64-byte-aligned allocation, and frees them all, so every `GlobalAlloc` method is linked.');
  p('It is built once per allocator and once with `bump`: a trivial never-freeing bump allocator over');
  p('`memory.grow` (it aligns the next address, grows by whole pages when it passes the end; realloc and');
  p('alloc_zeroed are `GlobalAlloc`\'s defaults). **Added bytes = size of the .wasm file with the allocator');
  p('minus size with `bump`**, both built in the same way: profile `size-s` (opt-level "s") or `size-3`');
  p('(opt-level 3), lto, codegen-units = 1, panic = "abort", symbols stripped, no wasm-opt. The code');
  p('section alone is given too.');
  p();
  table(['allocator', 'added, "s" (file)', 'added, "s" (code section)', 'added, 3 (file)', 'added, 3 (code section)', 'module, "s"', 'module, 3'],
    SIZE_VARIANTS.map((v) => [v === 'bump' ? 'bump (baseline)' : v,
      int(C['size-s'][v].added_file), int(C['size-s'][v].added_code), int(C['size-3'][v].added_file), int(C['size-3'][v].added_code),
      int(C['size-s'][v].file), int(C['size-3'][v].file)]));

  // ---- failures ----
  const bad = [];
  for (const a of A) for (const wl of W) {
    const r = S[a].workloads[wl.name];
    if (r.status === 'failed') bad.push(`- **${a}** on ${wl.name}: run ${r.failed.run} failed its check: ${r.failed.what} at allocator call ${int(r.failed.at_op)}${r.failed.size ? ` (a request of ${int(r.failed.size)} bytes aligned to ${int(r.failed.align)})` : ''}, repetition ${r.failed.rep + 1}; not timed.`);
    if (r.status === 'dnf') bad.push(`- ${a} on ${wl.name}: did not finish in ${int(r.dnf.budget_ms)} ms (${int(r.dnf.ops)} of ${int(S.dlmalloc.workloads[wl.name].ops)} allocator calls done).`);
    if (r.run2) bad.push(`- ${a} on ${wl.name}: the second run timed out in repetition ${r.run2.rep + 1} (${int(r.run2.at_op)} calls done)${r.growth ? `; its growth is that of the ${r.growth.n} repetition${r.growth.n > 1 ? 's' : ''} where it finished` : ', so its growth is unknown'}.`);
  }
  p('## Failures and runs that did not finish');
  p();
  if (bad.length) bad.forEach((b) => p(b));
  else p('None.');
  p();

  // ---- method ----
  p('## What runs');
  p();
  p('One crate, `bench/` (its own cargo workspace), built once per allocator with one cargo feature;');
  p('each build has exactly one `#[global_allocator]` (`bench/src/alloc.rs`):');
  p();
  for (const a of [...A, 'heaptale_small', 'rlsf_small', 'bump']) p(`- ${a}: ${SETUP[a]}`);
  p();
  p('buddy_system_allocator and linked_list_allocator have no way to get memory on wasm32 by');
  p('themselves: their docs hand them a region (`init`, `add_to_heap`), and buddy_system_allocator');
  p('documents `LockedHeapWithRescue`, whose rescue function is called when an allocation fails. Both');
  p('get linear memory on demand here rather than a static arena sized in advance, so that their');
  p('footprints compare: buddy\'s rescue grows memory just enough for an aligned block of the');
  p('request\'s power-of-two size (`bench/src/buddy.rs`); linked_list_allocator is wrapped in a');
  p('`GlobalAlloc` that `init`s it over grown pages at the first allocation and `extend`s it after a');
  p('failed one, and otherwise calls `allocate_first_fit`/`deallocate` as its own `LockedHeap` does');
  p('(`bench/src/lla.rs`).');
  p();
  p('The module exports `bench_run(workload, deadline)`; node (`bench/measure.mjs`) instantiates a');
  p('fresh instance per run. The workloads are deterministic (splitmix64 with fixed seeds); the harness');
  p('allocates nothing itself (its bookkeeping is in static arrays) and frees everything by the end of a');
  p('run. Every block gets a tag (an 8-byte pattern at its start and its end) when allocated, checked');
  p('when it is freed or reallocated; a null or misaligned pointer, a broken tag or data lost by');
  p('realloc fail the run, and the allocator is reported, not timed. "Ops" are allocator calls (alloc,');
  p('free, realloc; for vectors, every change of capacity).');
  p();
  const wrows = W.map((wl) => {
    const what = {
      'small-random': '16,384 slots; 1,500,000 steps each pick a slot: free it if live, else allocate 8..128 bytes (uniform), align 8',
      'mixed-sizes': '2,048 slots; 300,000 steps: free, or allocate a log-uniform size 8..64 KiB with alignment 2^k, k uniform in 3..12 (8..4,096)',
      'vec-realloc': '2,048 `Vec<u8>` and 2,048 `Vec<u64>`; 300,000 steps: push 1..2^k elements one by one (k uniform in 0..9; 60 %), truncate and `shrink_to_fit` (20 %), drop (20 %)',
    }[wl.name] ?? `${wl.source}; ${int(wl.trace_ops)} ops, ${int(wl.ids)} ids, replayed ${wl.repeat} × a run (align 8; size 0 made 1)`;
    return [wl.name, wl.class, what];
  });
  table(['workload', 'class', 'what'], wrows, 3);
  p('The real traces are `tests/traces/*.rep` (see its README); the generated ones are written by');
  p('`bench/build.rs` from fixed seeds (`make bench` leaves them as .rep files in `bench/target/traces/`');
  p('for `heaptale replay`). Both are turned into a compact binary op list at build time and included');
  p('in the module with `include_bytes!`.');
  p();
  p('Raw figures: `bench/results/latest.json` (every sample of every run).');
  p();
  return L.join('\n');
}

// ---- main ----

function main() {
  fs.mkdirSync(RESULTS, { recursive: true });
  const latest = path.join(RESULTS, 'latest.json');
  let res;
  if (opt('--report')) {
    res = JSON.parse(fs.readFileSync(latest, 'utf8'));
  } else {
    if (!opt('--no-build')) build();
    const env = environment();
    const code_size = codeSizes();
    log(`bench: measuring (${REPS} repetitions)`);
    const flags = ['--no-liftoff', '--no-wasm-lazy-compilation', '--expose-gc'];
    const r = spawnSync(process.execPath, [...flags, path.join(BENCH, 'measure.mjs'), path.join(TARGET, 'modules'), String(REPS), ALLOCS.join(','), path.join(TARGET, 'modules-ic')], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28,
    });
    if (r.status !== 0) throw new Error('measure.mjs failed');
    const measure = JSON.parse(r.stdout);
    env.machine.loadavg_after = os.loadavg().map((x) => +x.toFixed(2));
    res = { env, code_size, measure };
  }
  res.summary = summarize(res.measure);
  fs.writeFileSync(latest, JSON.stringify(res, null, 1) + '\n');
  fs.writeFileSync(path.join(RESULTS, 'speed.svg'), speedSvg(res.measure, res.summary));
  fs.writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), report(res));
  log(`bench: wrote ${path.relative(ROOT, latest)}, bench/results/speed.svg and BENCHMARKS.md`);
}

main();
