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
    'package/www/element/heap-tale.d.ts', 'package/www/embed.html', 'package/www/index.html', 'package/www/traces/awk-wordcount.rep',
    'package/LICENSE-MIT', 'package/LICENSE-APACHE']) {
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
    'new Heap: unknown policy: expected first, next, best, worst, seglist, tlsf, heaptale or buddy',
    "replay: unknown option 'colour': the options are policy, order, coalesce, header, align, heapSize, base, heap-size, step, events, checked",
    'replay: load: line 3: header line 3: expected the number of ops as a number, found "foo"',
    'replay: the program must be a string (a script or a .rep trace), got number',
    'replay: step 9 is past the end (the program has 1 step)',
  ]);
  assert.deepEqual(out.separate, [['used 112'], ['used 128']]);
  assert.deepEqual(out.heap, ['used 24']);
  assert.deepEqual(out.policies, ['first', 'next', 'best', 'worst', 'seglist', 'tlsf', 'heaptale', 'buddy']);
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
  const hq = new Heap({ policy: 'heaptale' });
  hq.free(hq.malloc(40));
  for (const e of hq.events() as HeapEvent[]) {
    if (e.kind === 'quick-free' || e.kind === 'quick-alloc') sizes.push(e.list, e.block, e.size);
    else if (e.kind === 'consolidate') sizes.push(e.blocks);
  }
  const quickBlocks = Array.from(hq.blocksPacked()).filter((w, i) => i % 4 === 3 && (w & 0x40000000) !== 0).length;
  sizes.push(quickBlocks, ...blocks.filter((b) => b.quick === true).map((b) => b.size));
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

test('what the engine returns has the fields its declarations say (every object, array and event checked at run time)', async () => {
  const { default: ts } = await import('typescript');
  const file = path.join(ROOT, 'types', 'heaptale.d.ts');
  const program = ts.createProgram([file], { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.esnext.disposable.d.ts'], types: [] });
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(file);
  const exported = new Map(checker.getExportsOfModule(checker.getSymbolAtLocation(sf)).map((s) => [s.name, s]));

  /** The shapes a type allows: [{all: Set, required: Set}] per union member, or 'array' with its element's shapes. */
  const shapes = (t) => {
    if (t.isUnion()) return t.types.flatMap((m) => shapes(m));
    if (checker.isArrayType(t)) return [{ array: shapes(checker.getTypeArguments(t)[0]) }];
    if (checker.isTupleType(t)) return [{ tuple: true }];
    if (!(t.flags & ts.TypeFlags.Object) || /^(Uint|Int|Float)\d+Array\b/.test(checker.typeToString(t))) return [{ primitive: checker.typeToString(t) }];
    const props = checker.getPropertiesOfType(t);
    return [{ all: new Set(props.map((p) => p.name)), required: new Set(props.filter((p) => !(p.flags & ts.SymbolFlags.Optional)).map((p) => p.name)), name: checker.typeToString(t) }];
  };
  const returnShapes = (owner, method) => {
    let t;
    if (owner) {
      const cls = checker.getDeclaredTypeOfSymbol(exported.get(owner));
      t = checker.getTypeOfSymbolAtLocation(cls.getProperty(method), sf);
    } else {
      t = checker.getTypeOfSymbolAtLocation(exported.get(method), sf);
    }
    return shapes(t.getCallSignatures()[0].getReturnType());
  };
  const problems = [];
  const check = (what, value, allowed) => {
    if (Array.isArray(value)) {
      const a = allowed.find((s) => s.array || s.tuple);
      if (!a) { problems.push(`${what}: an array, declared ${JSON.stringify(allowed.map((s) => s.name || s.primitive))}`); return; }
      if (a.array) value.slice(0, 50).forEach((v, i) => check(`${what}[${i}]`, v, a.array));
      return;
    }
    if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return; // primitives and typed arrays: tsc's business
    const fits = allowed.filter((s) => s.all).map((s) => {
      const keys = Object.keys(value);
      const extra = keys.filter((k) => !s.all.has(k));
      const missing = [...s.required].filter((k) => !(k in value));
      return { s, extra, missing };
    });
    const ok = fits.find((f) => !f.extra.length && !f.missing.length);
    if (!ok) {
      const best = fits.sort((x, y) => (x.extra.length + x.missing.length) - (y.extra.length + y.missing.length))[0];
      problems.push(`${what}: ${best ? `fields not declared in ${best.s.name}: [${best.extra}], declared but missing: [${best.missing}]` : 'an object, declared otherwise'}`);
      return;
    }
  };

  const g = await import(path.join(ROOT, 'node', 'index.js')).then((m) => m.instance());
  const h = new g.Heap({ policy: 'first' });
  const heapCalls = [];
  const call = (owner, method, obj, ...args) => { const v = obj[method](...args); heapCalls.push([owner, method]); check(`${owner ?? 'module'}.${method}(${args.map((a) => JSON.stringify(a)).join(', ')})`, v, returnShapes(owner, method)); return v; };
  const script = 'a = malloc(24)\nb = malloc(400)\nc = malloc(16)\nfree(b)\nd = malloc(40)\nfree(a)\nfree(d)\ne = realloc(c, 2000)\nfree(e)\nfree(e)\nzz(\n';
  call('Heap', 'load', h, script);
  call('Heap', 'load', h, '20000\n2\nfoo');
  call('Heap', 'run', h, 'p = malloc(8)');
  call('Heap', 'run', h, 'free(');
  call('Heap', 'timeline', h);
  for (let i = 0; i <= h.stepCount(); i++) {
    call('Heap', 'seek', h, i);
    call('Heap', 'events', h);
    call('Heap', 'stepInfo', h, i);
  }
  call('Heap', 'stepList', h, 1, 5);
  call('Heap', 'failures', h, 10);
  call('Heap', 'seek', h, 5);
  call('Heap', 'blocks', h);
  call('Heap', 'freeLists', h);
  call('Heap', 'stats', h);
  call('Heap', 'loadStart', h, script);
  call('Heap', 'loadContinue', h, 3);
  call('Heap', 'loadContinue', h, 100);
  const p = new g.Process(h, { tlbEntries: 16, tlbWays: 4 });
  for (const m of ['layout', 'stats', 'options', 'pages', 'frames', 'notes', 'position']) call('Process', m, p);
  call('Process', 'walk', p, h.heapStart() + 8);
  call('Process', 'walk', p, 16);
  p.free();
  call('Heap', 'replay', h, '20000\n2\n4\n1\na 0 16\na 1 32\nf 0\nf 1\n');
  call('Heap', 'replay', h, '20000\n2\nfoo');
  call(null, 'policies', g);
  call(null, 'moduleMemory', g);
  call(null, 'ostepPaging', g, { seed: 1, answers: true });
  h.free();
  // the heaptale policy: its events (quick lists, a consolidation), blocks and free lists
  const hq = new g.Heap({ policy: 'heaptale' });
  call('Heap', 'load', hq, 'a = malloc(40)\nb = malloc(100)\nc = malloc(70000)\nfree(a)\nfree(b)\nd = malloc(40)\nfree(c)\n');
  const kinds = new Set();
  for (let i = 0; i <= hq.stepCount(); i++) {
    call('Heap', 'seek', hq, i);
    for (const e of call('Heap', 'events', hq)) kinds.add(e.kind);
    call('Heap', 'blocks', hq);
    call('Heap', 'freeLists', hq);
  }
  hq.free();
  assert.deepEqual(problems, []);
  for (const k of ['quick-free', 'quick-alloc', 'consolidate']) assert.ok(kinds.has(k), `a heaptale step gives a '${k}' event (got ${[...kinds]})`);
  assert.deepEqual(problems, []);
  // every Heap and Process method that returns an object or an array was called
  const objectReturning = (owner) => {
    const cls = checker.getDeclaredTypeOfSymbol(exported.get(owner));
    return checker.getPropertiesOfType(cls).filter((sym) => {
      const sig = checker.getTypeOfSymbolAtLocation(sym, sf).getCallSignatures()[0];
      return sig && shapes(sig.getReturnType()).some((x) => x.all || x.array);
    }).map((sym) => sym.name);
  };
  const called = new Set(heapCalls.map(([o, m]) => `${o}.${m}`));
  for (const owner of ['Heap', 'Process']) {
    for (const m of objectReturning(owner)) {
      if (m === 'freeList') continue; // [addr, size] tuples
      assert.ok(called.has(`${owner}.${m}`), `${owner}.${m} is checked at run time`);
    }
  }
});
