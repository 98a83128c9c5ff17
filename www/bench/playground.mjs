#!/usr/bin/env node
// Playground benchmark in headless Chromium (not a test: it measures, it does
// not judge). Needs pkg/ built (make build).
//
//   node www/bench/playground.mjs [--runs 5]
//
// Figures (medians over the runs, each run in a fresh page):
//  - replay ops/s with events recorded: heap.load() of node-json.rep (316,251
//    ops) under tlsf and first fit, after one warm-up load (the engine's code
//    is tiered: optimised once hot), through the playground's timeline driver (every
//    event recorded and read, snapshots and statistics samples taken); and
//    heap.replay() (the checked replay: every block checked and filled), after
//    one warm-up replay (whose figure is given too);
//  - time to draw a heap of 100,000 blocks: HeapMap.draw() of the whole heap
//    (66,667 used and 33,333 free: the detail at "whole heap" and the
//    overview), and the read before it (the walk over the real headers:
//    blocksPacked, freeListsPacked, stats);
//  - jump to a step of a 100,000-op trace: heap.seek(n) for random n over the
//    first 100,000 ops of node-json.rep (median, 95th percentile, max);
//  - page load to first drawn heap: navigation start to the first drawn heap
//    (the default script run and drawn), on localhost.
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1]) || 5;
const QUIET = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };

if (!fs.existsSync(path.join(ROOT, 'pkg', 'heaptale.js'))) {
  console.error('pkg/heaptale.js is missing: build the wasm module first (make build)');
  process.exit(1);
}
const { server, url } = await startServer({ port: 0 });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: QUIET });
const version = browser.version();

async function freshPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => document.documentElement.dataset.state === 'ready', null, { timeout: 30000 });
  return { page, context };
}

const results = { load: [], replayTlsf: [], replayFirst: [], checked: [], checkedFirst: [], draw: [], read: [], seekMedian: [], seekP95: [], seekMax: [] };

for (let run = 0; run < RUNS; run++) {
  // ---- page load to first drawn heap
  {
    const { page, context } = await freshPage();
    const t = await page.evaluate(() => {
      const m = performance.getEntriesByName('heaptale:first-heap')[0];
      return m ? m.startTime : NaN;
    });
    results.load.push(t);
    await context.close();
  }
  const { page, context } = await freshPage();
  // ---- replay throughput
  const r = await page.evaluate(async () => {
    const { instance } = await import('/www/js/engine.js');
    const glue = await instance(0);
    const text = await (await fetch('/www/traces/node-json.rep')).text();
    const out = {};
    // warm up: the engine's code is compiled by tiers (baseline first, optimised when hot)
    new glue.Heap({ policy: 'tlsf' }).load(text);
    new glue.Heap({ policy: 'first' }).load(text);
    for (const policy of ['tlsf', 'first']) {
      const h = new glue.Heap({ policy });
      const t0 = performance.now();
      const res = h.load(text);
      const t1 = performance.now();
      h.seek(res.steps); // the page reads the last step's events: included in neither figure
      out[policy] = { ops: res.steps, ms: t1 - t0 };
    }
    // the checked replay: its own code (the Session's checks) warms up on a first replay,
    // which is measured too (the figure of a replay() run once in a fresh page)
    for (const key of ['checkedFirst', 'checked']) {
      const h = new glue.Heap({ policy: 'tlsf' });
      const t0 = performance.now();
      const rep = h.replay(text);
      out[key] = { ops: rep.ops, ms: performance.now() - t0 };
      if (rep.error || rep.integrity_errors.length) throw new Error(`replay: ${rep.error || rep.integrity_errors[0]}`);
    }
    return out;
  });
  results.replayTlsf.push(r.tlsf.ops / (r.tlsf.ms / 1000));
  results.replayFirst.push(r.first.ops / (r.first.ms / 1000));
  results.checked.push(r.checked.ops / (r.checked.ms / 1000));
  results.checkedFirst.push(r.checkedFirst.ops / (r.checkedFirst.ms / 1000));

  // ---- drawing 100,000 blocks
  const d = await page.evaluate(async () => {
    const { instance, HeapModel } = await import('/www/js/engine.js');
    const { HeapMap } = await import('/www/js/heapmap.js');
    const glue = await instance(0);
    const m = new HeapModel(glue, { policy: 'tlsf', header: 8, align: 8 });
    // 100,000 blocks: every third freed (between used neighbours, so no merging)
    const ps = [];
    for (let i = 0; i < 100000; i++) ps.push(m.heap.malloc(8 + (i % 13) * 8));
    for (let i = 0; i < 100000; i += 3) m.heap.free(ps[i]);
    const box = document.createElement('div');
    box.style.width = '900px';
    const canvas = document.createElement('canvas');
    box.append(canvas);
    document.body.append(box);
    const map = new HeapMap(canvas);
    const reads = [];
    const draws = [];
    let blocks = 0;
    for (let k = 0; k < 15; k++) {
      const a = performance.now();
      const data = m.read();
      const b = performance.now();
      map.setData({ ...data, changedAddrs: [] });
      map.draw();
      const c = performance.now();
      reads.push(b - a);
      draws.push(c - b);
      blocks = data.packed.length / 4;
    }
    box.remove();
    return { reads, draws, blocks };
  });
  if (d.blocks < 100000) throw new Error(`only ${d.blocks} blocks`);
  results.draw.push(median(d.draws));
  results.read.push(median(d.reads));

  // ---- jumps in a 100,000-op trace
  const s = await page.evaluate(async () => {
    const { instance } = await import('/www/js/engine.js');
    const glue = await instance(0);
    const text = await (await fetch('/www/traces/node-json.rep')).text();
    const h = new glue.Heap({ policy: 'first' });
    const res = h.load(text, 100000);
    let x = 12345;
    const times = [];
    for (let k = 0; k < 300; k++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const n = x % (res.steps + 1);
      const a = performance.now();
      h.seek(n);
      h.events();
      times.push(performance.now() - a);
    }
    return { steps: res.steps, times, t: h.timeline() };
  });
  results.seekMedian.push(median(s.times));
  results.seekP95.push(pct(s.times, 0.95));
  results.seekMax.push(Math.max(...s.times));
  results.seekInfo = `${s.steps.toLocaleString('en')} steps, ${s.t.snapshots} snapshots, one every ${s.t.interval.toLocaleString('en')} steps`;
  results.drawInfo = `${d.blocks.toLocaleString('en')} blocks`;
  await context.close();
}

await browser.close();
server.close();

const f = (x, digits = 1) => x.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const lines = [
  `Chromium ${version} (headless), ${RUNS} runs, medians`,
  `replay with events, load() of node-json.rep (316,251 ops), tlsf: ${f(median(results.replayTlsf) / 1e6, 2)} M ops/s`,
  `replay with events, load() of node-json.rep, first fit:        ${f(median(results.replayFirst) / 1e6, 2)} M ops/s`,
  `checked replay, replay() of node-json.rep, tlsf:               ${f(median(results.checked) / 1e6, 2)} M ops/s (the first replay() of the page: ${f(median(results.checkedFirst) / 1e6, 2)} M ops/s)`,
  `draw a heap of ${results.drawInfo}:                       ${f(median(results.draw))} ms a frame (read before it: ${f(median(results.read))} ms)`,
  `jump to a step of a 100,000-op trace (${results.seekInfo}): median ${f(median(results.seekMedian), 2)} ms, p95 ${f(median(results.seekP95), 2)} ms, max ${f(median(results.seekMax), 2)} ms`,
  `page load to first drawn heap:                                  ${f(median(results.load), 0)} ms`,
];
console.log(lines.join('\n'));
