// The npm package: scripts/package.sh assembles it, `npm pack` makes the tarball, which
// installs offline into an empty folder (it has no dependencies); there the documented
// example test (examples/tutorial-check) runs, a consumer's TypeScript typechecks against
// its declarations, and the element and the iframe page it ships work in Chromium under
// the strict CSP. Also: types/heaptale.d.ts covers the generated module exactly (tsc).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env, ROOT, RESULTS } from './harness.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { encodeState } from '../js/url.js';

const TSC = path.join(ROOT, 'www', 'node_modules', '.bin', 'tsc');
let tmp;
let tarball;
let project;

const run = (cmd, args, opts = {}) => {
  // a node --test inside this one must not think it is a subtest of it
  const childEnv = { ...process.env };
  delete childEnv.NODE_TEST_CONTEXT;
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: childEnv, ...opts });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'heaptale-package-'));
  const out = path.join(tmp, 'npm');
  execFileSync('bash', [path.join(ROOT, 'scripts', 'package.sh'), out], { encoding: 'utf8' });
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: out, encoding: 'utf8' }));
  tarball = path.join(tmp, packed[0].filename);
  project = path.join(tmp, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'a-tutorial', private: true, type: 'module' }, null, 2));
  // --offline: the tarball must install with no registry at all
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: project, encoding: 'utf8' });
});

after(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

test('types/heaptale.d.ts declares every export and method of the module, typed (tsc)', () => {
  const r = run(TSC, ['-p', path.join(ROOT, 'types', 'tsconfig.json')]);
  assert.equal(r.code, 0, r.out);
  const dts = fs.readFileSync(path.join(ROOT, 'types', 'heaptale.d.ts'), 'utf8');
  const code = dts.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  assert.doesNotMatch(code, /\bany\b/, 'no any in the typed declarations');
});

test('the tarball holds the package and nothing else, with a complete package.json', () => {
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
  for (const f of ['package/package.json', 'package/README.md', 'package/pkg/heaptale.js', 'package/pkg/heaptale_bg.wasm',
    'package/types/heaptale.d.ts', 'package/node/index.js', 'package/node/index.d.ts', 'package/www/element/heap-tale.js',
    'package/www/element/heap-tale.d.ts', 'package/www/embed.html', 'package/www/index.html', 'package/www/traces/awk-wordcount.rep']) {
    assert.ok(files.includes(f), `${f} in the tarball`);
  }
  assert.deepEqual(files.filter((f) => /tests\/|node_modules|\.test\.|bench\//.test(f)), [], 'no tests or tools');
  const pkg = JSON.parse(fs.readFileSync(path.join(project, 'node_modules', 'heaptale', 'package.json'), 'utf8'));
  const cargo = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8');
  assert.equal(pkg.name, 'heaptale');
  assert.equal(pkg.version, /^version = "([^"]+)"/m.exec(cargo)[1]);
  assert.equal(pkg.license, /^license = "([^"]+)"/m.exec(cargo)[1]);
  assert.equal(pkg.repository.url, /^repository = "([^"]+)"/m.exec(cargo)[1]);
  assert.equal(pkg.dependencies, undefined, 'no runtime dependencies');
  assert.deepEqual(Object.keys(pkg.exports), ['.', './node', './element', './embed.html', './heaptale_bg.wasm', './package.json']);
  for (const [k, v] of Object.entries(pkg.exports)) {
    for (const f of typeof v === 'string' ? [v] : Object.values(v)) {
      assert.ok(fs.existsSync(path.join(project, 'node_modules', 'heaptale', f)), `${k}: ${f} exists`);
    }
  }
});

test('the documented example test runs against the installed package', () => {
  fs.copyFileSync(path.join(ROOT, 'examples', 'tutorial-check', 'tutorial.test.mjs'), path.join(project, 'tutorial.test.mjs'));
  const r = run(process.execPath, ['--test', 'tutorial.test.mjs'], { cwd: project });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^# pass 4$/m);
  assert.match(r.out, /^# fail 0$/m);
});

test('the node API from the installed package: layouts, errors, instances', () => {
  const script = `
import { replay, shape, offsets, Heap, createHeap, policies } from 'heaptale/node';
const out = {};
const r = await replay('a = malloc(24)\\nb = malloc(40)\\nfree(a)\\nfree(a)\\n', { policy: 'best', base: 4096 });
out.shape = shape(r.blocks); out.offsets = offsets(r); out.heapStart = r.heapStart; out.freeList = r.freeList;
out.errors = r.errors.map((e) => [e.line, /double free/.test(e.error)]); out.kinds = r.events.map((s) => s.events.map((e) => e.kind).join('+'));
const c = await replay('20000\\n2\\n4\\n1\\na 0 16\\na 1 32\\nf 0\\nf 1\\n', { checked: true, events: false });
out.integrity = [c.format, c.integrity.ops, c.integrity.errors.length, c.events.length];
for (const [t, o] of [['x', { policy: 'nope' }], ['x', { colour: 1 }], ['20000\\n2\\nfoo', {}], [42, {}], ['a = malloc(1)', { step: 9 }]]) {
  try { await replay(t, o); out.threw = (out.threw || []).concat('no'); } catch (e) { out.threw = (out.threw || []).concat(e.message); }
}
const h1 = await createHeap({ policy: 'first' }); const h2 = await createHeap({ policy: 'buddy' });
h1.malloc(100); h2.malloc(100);
out.separate = [shape(h1.blocks()), shape(h2.blocks())];
const h = new Heap({}); h.malloc(8); out.heap = shape(h.blocks()); out.policies = policies().map((p) => p.name);
console.log(JSON.stringify(out));
`;
  fs.writeFileSync(path.join(project, 'api.mjs'), script);
  const r = run(process.execPath, ['api.mjs'], { cwd: project });
  assert.equal(r.code, 0, r.out);
  const out = JSON.parse(r.out);
  assert.deepEqual(out.shape, ['free 32', 'used 48']);
  assert.deepEqual(out.offsets, ['free 32 @0', 'used 48 @32']);
  assert.equal(out.heapStart, 4096);
  assert.deepEqual(out.freeList, [[4096, 32]]);
  assert.deepEqual(out.errors, [[4, true]]);
  assert.deepEqual(out.kinds, ['grow+alloc', 'grow+alloc', 'free', 'error']);
  assert.deepEqual(out.integrity, ['rep', 4, 0, 0]);
  assert.deepEqual(out.threw, [
    'new Heap: unknown policy: expected first, next, best, worst, seglist, tlsf or buddy',
    "replay: unknown option 'colour': the options are policy, order, coalesce, header, align, heapSize, base, heap-size, step, events, checked",
    'replay: load: line 3: header line 3: expected the number of ops as a number, found "foo"',
    'replay: the program must be a string (a script or a .rep trace), got number',
    'replay: step 9 is past the end (the program has 1 step)',
  ]);
  assert.deepEqual(out.separate, [['used 112'], ['used 128']]);
  assert.deepEqual(out.heap, ['used 24']);
  assert.deepEqual(out.policies, ['first', 'next', 'best', 'worst', 'seglist', 'tlsf', 'buddy']);
});

test("a consumer's TypeScript typechecks against the installed package's declarations", () => {
  fs.writeFileSync(path.join(project, 'consumer.ts'), `
import init, { Heap, Process, policies, type Block, type HeapEvent, type StepInfo } from 'heaptale';
import { replay, shape, createHeap, type ReplayResult } from 'heaptale/node';
import 'heaptale/element';
import type { HeapTaleElement, HeapTaleOptions, HeapTaleStepDetail } from 'heaptale/element';

export async function browser(): Promise<number> {
  await init();
  const h = new Heap({ policy: 'best', order: 'size-asc', coalesce: 'off', heapSize: 4096, base: '0x1000' });
  const p: number = h.malloc(24);
  const blocks: Block[] = h.blocks();
  const sizes: number[] = blocks.filter((b) => b.used).map((b) => b.size);
  for (const e of h.events() as HeapEvent[]) if (e.kind === 'split') sizes.push(e.rest_size);
  const loaded = h.load('a = malloc(8)');
  if (loaded.error === null) sizes.push(loaded.lines);
  const info: StepInfo = h.seek(1);
  const proc = new Process(h, { mode: 'x86-64', policy: 'clock' });
  const resident = proc.pages().pages.filter((g) => g.state === 'resident').length;
  h.free(p);
  // @ts-expect-error: not a policy
  new Heap({ policy: 'bogus' });
  // @ts-expect-error: malloc takes a number
  h.malloc('24');
  const el: HeapTaleElement = document.createElement('heap-tale');
  el.addEventListener('heaptale-step', (e) => { const d: HeapTaleStepDetail = e.detail; sizes.push(d.step, d.steps); });
  el.addEventListener('heaptale-error', (e) => { const m: string = e.detail.message; void m; });
  const opts: HeapTaleOptions = { policy: 'tlsf', panels: 'heap,stats', step: 'end', height: '320' };
  for (const [k, v] of Object.entries(opts)) el.setAttribute(k, v);
  await el.ready;
  return sizes.length + info.step + resident + policies().length + el.layout()[0].blocks.length;
}

export async function headless(): Promise<string[]> {
  const r: ReplayResult = await replay('a = malloc(24)', { policy: 'first', step: 'end', events: false });
  const h = await createHeap({ policy: 'buddy' });
  h.malloc(1);
  return [...shape(r.blocks), ...shape(h.blocks()), r.check ?? 'ok'];
}
`);
  fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022', 'dom', 'esnext.disposable'], types: [] },
    files: ['consumer.ts'],
  }, null, 2));
  const r = run(TSC, ['-p', path.join(project, 'tsconfig.json')]);
  assert.equal(r.code, 0, r.out);
});

test('the element and the iframe page from the installed package work under the strict CSP', async () => {
  const root = path.join(project, 'node_modules', 'heaptale');
  fs.mkdirSync(path.join(root, 'www', 'demo'));
  fs.writeFileSync(path.join(root, 'www', 'demo', 'index.html'), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>installed</title><link rel="icon" href="data:,">
<script type="module" src="../element/heap-tale.js"></script></head>
<body><heap-tale policy="worst" title="From the package"><script type="text/x-heaptale">
  a = malloc(10)
  b = malloc(20)
  free(a)
</script></heap-tale></body></html>`);
  const { server, url } = await startServer({ port: 0, root });
  const context = await env.browser.newContext({ viewport: { width: 900, height: 700 } });
  try {
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    await page.goto(`${url}demo/`);
    await page.waitForFunction(() => document.querySelector('heap-tale')?.state === 'ready', null, { timeout: 20000 });
    const texts = await page.getByRole('list', { name: 'heap blocks' }).getByRole('listitem').allTextContents();
    assert.deepEqual(texts.map((t) => t.replace(/0x[0-9a-f]+/, 'A')), ['free, A, 24 bytes', 'used, A, 32 bytes']);
    await page.screenshot({ path: path.join(RESULTS, 'package-element.png'), fullPage: true });
    const hash = await encodeState({ config: { policy: 'next', header: 8, align: 8 }, source: { trace: 'awk-wordcount' }, step: 40 });
    await page.goto(`${url}embed.html${hash}`);
    await page.waitForFunction(() => document.querySelector('heap-tale')?.state === 'ready', null, { timeout: 20000 });
    assert.equal(await page.locator('heap-tale').evaluate((e) => `${e.step}/${e.steps}`), '40/1880');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    await new Promise((r) => server.close(r));
  }
});
