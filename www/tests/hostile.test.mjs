// Hostile input in the page: markup typed into the editor and the statement
// box, in a file's name and contents, and in the link; oversized and broken
// links; and the Content-Security-Policy of `make serve`, checked as the
// browser enforces it. User text must come out as text: no element injected,
// no handler run, no dialog, no console error, a readable message.
//   node --test www/tests/hostile.test.mjs          (pkg/ must be built: make build)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { env, ROOT, RESULTS, blockTexts, countUsed, status, idle, runStatement } from './harness.mjs';
import { CSP } from '../../scripts/serve.mjs';
import { narrate, explainError } from '../js/narrate.js';
import { watchProblems } from './watch.mjs';

// Markup that would run or show something if it reached innerHTML: an image
// whose error handler sets a flag, an element of a made-up tag, a script.
const IMG = '<img src=x onerror="window.__pwned=1">';
const TAG = '<hx-pwn>pwned</hx-pwn>';
const SCRIPT = '<script>window.__pwned=2</script>';
const SVG = '<svg onload="window.__pwned=3"></svg>';
const MARKUP = [IMG, TAG, SCRIPT, SVG];

/** Every page this file opens: dialogs and CSP violations are recorded from the first script on. */
async function watch(context) {
  const dialogs = [];
  context.on('page', (p) => p.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); }));
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
    });
  });
  return dialogs;
}

/** Opens the page with the watchers installed before any of its scripts run. */
async function openWatched(hash = '') {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const dialogs = await watch(context);
  const page = await context.newPage();
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  const problems = watchProblems(page);
  await page.goto(env.url + hash);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.documentElement.dataset.state), null, { timeout: 20000 });
  assert.equal(await page.evaluate(() => document.documentElement.dataset.state), 'ready', problems.join('; '));
  return { page, context, problems, dialogs };
}

/** Nothing the markup asked for happened: no element, no handler, no dialog, no CSP report. */
async function assertNothingInjected(page, dialogs, where) {
  const found = await page.evaluate(() => ({
    pwned: window.__pwned ?? null,
    imgX: document.querySelectorAll('img[src="x"]').length,
    custom: document.querySelectorAll('hx-pwn').length,
    inlineScripts: [...document.scripts].filter((s) => !s.src).length,
    svgOnload: document.querySelectorAll('svg[onload]').length,
    handlers: [...document.querySelectorAll('*')].flatMap((el) => [...el.attributes].map((a) => a.name)).filter((n) => n.startsWith('on')),
    csp: window.__csp ?? [],
  }));
  assert.deepEqual(found, { pwned: null, imgX: 0, custom: 0, inlineScripts: 0, svgOnload: 0, handlers: [], csp: [] }, where);
  assert.deepEqual(dialogs, [], `${where}: no dialog`);
}

const text = (page, sel) => page.locator(sel).evaluate((el) => el.textContent);

test('markup typed into the editor and the statement box is shown as text, each error readable', async () => {
  const { page, context, problems, dialogs } = await openWatched();
  const script = [
    `${IMG} = malloc(8)`,
    'p = malloc(24)   // a comment with markup: ' + TAG + SCRIPT,
    `free(${SVG})`,
    'free(p)',
    'free(p)',
  ].join('\n');
  await page.locator('#script').fill(script);
  await page.getByRole('button', { name: /run script/i }).click();
  await page.waitForFunction(() => /Ran the script/.test(document.querySelector('[role="status"]').textContent)
    || document.getElementById('script-errors').children.length > 0, null, { timeout: 10000 });
  await idle(page);
  assert.equal(await page.locator('#script').inputValue(), script, 'the editor keeps the text as typed');
  // one error per bad line, in words, the markup quoted as characters
  const errors = (await page.locator('#script-errors li').allTextContents()).map((t) => t.trim());
  assert.equal(errors.length, 3, errors.join('\n'));
  assert.match(errors[0], /^Line 1 \(step 1\): .*unexpected character '<'/, errors[0]);
  assert.match(errors[1], /^Line 3 \(step 3\): .*unexpected character '<'/, errors[1]);
  assert.match(errors[2], /^Line 5 \(step 5\): free\(p\).*double free: the block at 0x[0-9a-f]+ is already free/, errors[2]);
  // the mirror under the editor shows the same lines as text
  const mirror = await text(page, '#script-mirror');
  for (const m of MARKUP) assert.ok(mirror.includes(m), `the mirror shows ${m} as text`);
  assert.equal(countUsed(await blockTexts(page)), 0, 'p was freed; the bad lines allocated nothing');
  // the statement box: markup as a statement, refused with the text quoted
  const s = await runStatement(page, `${IMG} = malloc(1)`);
  assert.match(s, /^⚠?\s*Error/, s);
  assert.match(s, /unexpected character '<'/, s);
  const s2 = await runStatement(page, `free(${TAG})`);
  assert.match(s2, /Error/, s2);
  assert.match(await runStatement(page, 'ok = malloc(16)'), /returned 0x[0-9a-f]+/, 'the page goes on');
  await assertNothingInjected(page, dialogs, 'editor and statement box');
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(RESULTS, 'hostile-editor.png'), fullPage: false });
  await context.close();
});

test('a file whose name and contents are markup: refused or opened, the name shown as text', async () => {
  const { page, context, problems, dialogs } = await openWatched();
  const before = await blockTexts(page);
  const file = page.locator('#file');
  // a .rep file with markup in an op line: refused, the line quoted
  const badName = `${IMG}.rep`;
  await file.setInputFiles({ name: badName, mimeType: 'text/plain', buffer: Buffer.from(`0\n1\n2\n1\na 0 8\n${TAG} 0\n`) });
  await page.waitForFunction(() => /Could not open/.test(document.getElementById('notice').textContent), null, { timeout: 10000 });
  await idle(page);
  const alert = (await page.getByRole('alert').textContent()).trim();
  assert.equal(alert.startsWith(`Could not open ${badName}: `), true, alert);
  assert.match(alert, /line 6/, alert);
  assert.ok(alert.includes('<hx-pwn>'), `the bad op is quoted as text: ${alert}`);
  assert.deepEqual(await blockTexts(page), before, 'the program before stays');
  // a script file named with markup, with markup in its comments: it opens, and its name is text
  const goodName = `${SVG}${TAG}.txt`;
  await file.setInputFiles({ name: goodName, mimeType: 'text/plain', buffer: Buffer.from(`# ${SCRIPT}\na = malloc(40) // ${IMG}\nb = malloc(8)\n`) });
  await page.waitForFunction((n) => document.querySelector('[role="status"]').textContent.includes(`Opened ${n}.`), goodName, { timeout: 10000 });
  await idle(page);
  assert.equal(countUsed(await blockTexts(page)), 2);
  assert.ok((await status(page)).includes(`Opened ${goodName}.`));
  // a .rep trace named with markup opens, and its summary names it as text
  const repName = `${IMG}trace.rep`;
  await file.setInputFiles({ name: repName, mimeType: 'text/plain', buffer: Buffer.from('0\n2\n3\n1\na 0 24\na 1 8\nf 0\n') });
  await page.waitForFunction((n) => document.getElementById('trace-summary').textContent.includes(n), repName, { timeout: 10000 });
  await idle(page);
  assert.equal(countUsed(await blockTexts(page)), 1);
  await assertNothingInjected(page, dialogs, 'file names and contents');
  assert.deepEqual(problems, []);
  await context.close();
});

test('files in other encodings, compressed, empty or too large: each refused with what it is; a BOM and CRLF are fine', async () => {
  const { page, context, problems, dialogs } = await openWatched();
  const file = page.locator('#file');
  const rep = '0\r\n2\r\n3\r\n1\r\na 0 24\r\na 1 8\r\nf 0\r\n';
  const refused = [
    ['le.rep', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(rep, 'utf16le')]), 'it is UTF-16 text: the playground reads UTF-8 (or ASCII); save it as UTF-8 first (iconv -f UTF-16 -t UTF-8 FILE)'],
    ['be.txt', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(rep, 'utf16le').swap16()]), 'it is UTF-16 text: the playground reads UTF-8'],
    ['nobom.rep', Buffer.from(rep, 'utf16le'), 'it holds NUL bytes: it is a binary file, not a .rep trace or a script'],
    ['t.rep.gz', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]), 'it is gzip-compressed: decompress it first (gunzip -k FILE)'],
    ['t.rep.xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 4]), 'it is xz-compressed: decompress it first (xz -dk FILE)'],
    ['latin1.txt', Buffer.from('p = malloc(8) # caf\xe9\n', 'latin1'), 'it is not a text file (it is not valid UTF-8)'],
    ['empty.rep', Buffer.alloc(0), 'it is empty'],
    ['big.rep', Buffer.alloc(9 << 20, 0x61), 'it is 9.0 MiB; the playground takes files up to 8 MiB'],
    ['huge.rep', Buffer.from('0\n1\n1\n1\na 0 99999999999999999999\n'), 'line 5: a 0 99999999999999999999: size 99999999999999999999 is too large'],
  ];
  const before = await blockTexts(page);
  for (const [name, buffer, want] of refused) {
    await file.setInputFiles({ name, mimeType: 'application/octet-stream', buffer });
    await page.waitForFunction((n) => document.getElementById('notice').textContent.includes(`Could not open ${n}:`), name, { timeout: 20000 });
    await idle(page);
    const alert = (await page.getByRole('alert').textContent()).trim();
    assert.ok(alert.startsWith(`Could not open ${name}: `) && alert.includes(want), `${name}: ${alert}`);
    assert.deepEqual(await blockTexts(page), before, `${name}: the program before stays`);
  }
  // a UTF-8 byte order mark and CRLF line ends are fine
  await file.setInputFiles({ name: 'bom-crlf.rep', mimeType: 'text/plain', buffer: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(rep)]) });
  await page.waitForFunction(() => document.querySelector('[role="status"]').textContent.includes('Opened bom-crlf.rep.'), null, { timeout: 20000 });
  await idle(page);
  assert.equal(countUsed(await blockTexts(page)), 1);
  await assertNothingInjected(page, dialogs, 'encodings');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a script of 20,000 variables and a .rep of 400,000 ops open in the page', async () => {
  const { page, context, problems, dialogs } = await openWatched();
  const file = page.locator('#file');
  const N = 20000;
  const name = (i) => `variable_${i}_${'x'.repeat(40)}`;
  const script = Array.from({ length: N }, (_, i) => `${name(i)} = malloc(${8 + (i % 50)})`).join('\n') + '\n';
  await file.setInputFiles({ name: 'many.txt', mimeType: 'text/plain', buffer: Buffer.from(script) });
  await page.waitForFunction(() => document.querySelector('[role="status"]').textContent.includes('Opened many.txt.'), null, { timeout: 60000 });
  await idle(page);
  assert.equal((await page.locator('#step-count').textContent()).trim(), `Step ${N.toLocaleString('en')} of ${N.toLocaleString('en')}`);
  assert.match(await runStatement(page, `free(${name(N - 1)})`), /done/);
  // 200,000 ids, each allocated and freed: 400,000 ops, 4.6 MB
  const ids = 200000;
  const lines = ['0', String(ids), String(2 * ids), '1'];
  for (let i = 0; i < ids; i++) lines.push(`a ${i} ${8 + (i % 100)}`);
  for (let i = 0; i < ids; i++) lines.push(`f ${i}`);
  await file.setInputFiles({ name: 'long.rep', mimeType: 'text/plain', buffer: Buffer.from(lines.join('\n') + '\n') });
  await page.waitForFunction(() => document.querySelector('[role="status"]').textContent.includes('Opened long.rep.'), null, { timeout: 120000 });
  await idle(page, 120000);
  assert.equal((await page.locator('#step-count').textContent()).trim(), 'Step 400,000 of 400,000');
  assert.equal(countUsed(await blockTexts(page)), 0);
  await assertNothingInjected(page, dialogs, 'large files');
  assert.deepEqual(problems, []);
  await context.close();
});

test('markup in the link: quoted in the message, or loaded as a script shown as text', async () => {
  const cases = [
    // quoted as JSON strings are (a quote inside is \"), clipped to 40 characters
    [`#policy=${encodeURIComponent(IMG)}`, `unknown policy ${JSON.stringify(IMG)}`],
    [`#trace=${encodeURIComponent(TAG)}`, `unknown trace "${TAG}"`],
    [`#${encodeURIComponent(SCRIPT + SVG)}=1`, `unknown setting ${JSON.stringify(`${(SCRIPT + SVG).slice(0, 40)}…`)}`],
  ];
  for (const [hash, want] of cases) {
    const { page, context, problems, dialogs } = await openWatched(hash);
    const alert = (await page.getByRole('alert').textContent()).trim();
    assert.ok(alert.startsWith(`This link could not be read: ${want}`), `${hash}: ${alert}`);
    assert.ok(alert.endsWith('Showing the default program instead.'), alert);
    assert.ok(countUsed(await blockTexts(page)) >= 1, 'the default program runs');
    await assertNothingInjected(page, dialogs, hash);
    assert.deepEqual(problems, [], hash);
    await context.close();
  }
  // a script in the link whose comments and names are markup
  const script = `a = malloc(8) // ${IMG}\n${TAG} = malloc(4)\n`;
  const z = Buffer.from(script).toString('base64url');
  const { page, context, problems, dialogs } = await openWatched(`#policy=first&script=b${z}`);
  assert.equal(await page.locator('#script').inputValue(), script);
  const errors = await page.locator('#script-errors li').allTextContents();
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0], /^Line 2 .*unexpected character '<'/, errors[0]);
  assert.ok((await text(page, '#script-mirror')).includes(TAG));
  await assertNothingInjected(page, dialogs, 'script in the link');
  assert.deepEqual(problems, []);
  await context.close();
});

test('oversized and malformed links: a clear message in the page, and the default program works', async () => {
  const zeros = new Uint8Array(32 << 20).fill(0x61);
  const bomb = Buffer.from(await new Response(new Blob([zeros]).stream().pipeThrough(new CompressionStream('deflate-raw'))).arrayBuffer()).toString('base64url');
  const cases = [
    [`#script=b${'A'.repeat(600 * 1024)}`, "the link's state is 600 KiB long; links carry at most 512 KiB"],
    [`#script=z${bomb}`, 'the script cannot be read: it inflates to more than 256 KiB (the limit for a link)'],
    ['#script=zA', 'the script cannot be read: it is not base64url'],
    ['#script=b_w', 'the script cannot be read: it is not UTF-8 text'],
    ['#policy=best&policy=first', 'the setting "policy" is given more than once'],
    [`#step=${'9'.repeat(5000)}`, `step must be between 0 and 100000000, got "${'9'.repeat(40)}…"`],
    ['#%E2%82=%FF%FE', 'unknown setting "\ufffd"'],
  ];
  for (const [hash, want] of cases) {
    const { page, context, problems, dialogs } = await openWatched(hash);
    const alert = (await page.getByRole('alert').textContent()).trim();
    assert.ok(alert.startsWith(`This link could not be read: ${want}`), `${hash.slice(0, 60)}: ${alert}`);
    assert.ok(alert.length < 400, 'the message is short');
    assert.match(await status(page), /^⚠?\s*Error: this link could not be read/);
    assert.ok(countUsed(await blockTexts(page)) >= 1, 'the default program runs');
    assert.match(await runStatement(page, 'p = malloc(10)'), /returned 0x/);
    await assertNothingInjected(page, dialogs, hash.slice(0, 60));
    assert.deepEqual(problems, [], hash.slice(0, 60));
    if (hash.startsWith('#script=z')) await page.screenshot({ path: path.join(RESULTS, 'hostile-link.png') });
    await context.close();
  }
});

test('make serve sends a strict CSP, the page works under it with no violation, and it is enforced', async () => {
  const res = await fetch(env.url);
  const header = res.headers.get('content-security-policy');
  assert.equal(header, CSP);
  const dirs = Object.fromEntries(header.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
  assert.deepEqual(dirs['default-src'], ["'self'"]);
  assert.deepEqual(dirs['object-src'], ["'none'"]);
  assert.deepEqual(dirs['base-uri'], ["'none'"]);
  const scripts = dirs['script-src'] ?? dirs['default-src'];
  for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'blob:', 'http:', 'https:']) {
    assert.ok(!scripts.includes(bad), `script-src allows ${bad}`);
  }
  assert.ok(!(dirs['style-src'] ?? []).includes("'unsafe-inline'"), 'no inline styles either');
  // every file the page needs is sent with the same header
  for (const f of ['/www/main.js', '/www/js/url.js', '/pkg/heaptale.js', '/pkg/heaptale_bg.wasm', '/www/style.css']) {
    assert.equal((await fetch(new URL(f, env.url))).headers.get('content-security-policy'), CSP, f);
  }

  // The page under it: load, statements, a scenario, compare (one more instance), the process section.
  const { page, context, problems, dialogs } = await openWatched();
  await runStatement(page, 'x = malloc(100)');
  await runStatement(page, 'free(x)');
  await page.getByRole('combobox', { name: /scenario or trace/i }).selectOption({ index: 1 });
  await page.getByRole('button', { name: 'Open', exact: true }).click();
  await page.waitForFunction(() => /Opened/.test(document.querySelector('[role="status"]').textContent), null, { timeout: 20000 });
  await idle(page);
  await page.locator('#compare-options input:not(:disabled)').first().check();
  await page.waitForFunction(() => document.querySelectorAll('#compare-grid .compare-card').length >= 2, null, { timeout: 20000 });
  await idle(page);
  await page.getByRole('button', { name: /share/i }).click();
  assert.deepEqual(await page.evaluate(() => window.__csp), [], 'no securitypolicyviolation while the page worked');
  assert.deepEqual(problems, []);
  assert.deepEqual(dialogs, []);

  // The CSP is really enforced (so "no violation" above means something): an
  // inline script, an inline handler and a string timer (eval) are blocked and
  // reported. (Playwright's own evaluate runs outside the page's CSP, so these
  // go through the page's DOM.)
  const blocked = await page.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.__inline = 1';
    document.head.append(s);
    const b = document.createElement('button');
    b.setAttribute('onclick', 'window.__handler = 1');
    document.body.append(b);
    b.click();
    b.remove();
    setTimeout('window.__timer = 1', 0); // eslint-disable-line no-implied-eval
    await new Promise((r) => setTimeout(r, 200));
    return { inline: window.__inline ?? null, handler: window.__handler ?? null, timer: window.__timer ?? null, reports: window.__csp.map((v) => v.split(' ')[0]).sort() };
  });
  assert.deepEqual(blocked, { inline: null, handler: null, timer: null, reports: ['script-src', 'script-src-attr', 'script-src-elem'] });
  await context.close();
});

// ---------------------------------------------------------------- detection in words

test('every refusal the engine detects is explained in words: the real messages, through narrate()', async () => {
  const { default: init, Heap, wasmMemory } = await import('../../pkg/heaptale.js');
  await init({ module_or_path: fs.readFileSync(path.join(ROOT, 'pkg', 'heaptale_bg.wasm')) });
  const h = new Heap({ policy: 'first', heapSize: 4096 });
  const thrown = (f) => { try { f(); } catch (e) { return e.message; } assert.fail('expected an Error'); };
  const a = h.malloc(24);
  const b = h.malloc(24);
  h.free(a);
  // overwrite b's size word (the first of its 8-byte header) as an overflow out of a would
  const view = new DataView(wasmMemory().buffer);
  const at = h.realStart() + (b - h.heapStart()) - 8;
  const word = view.getUint32(at, true);
  view.setUint32(at, word ^ 0x40, true);
  const corrupt = thrown(() => h.free(b));
  view.setUint32(at, word, true);
  const cases = [
    [thrown(() => h.free(a)), /^double free: /, /^That block was freed already\. Freeing it again would put it on the free list twice/],
    [thrown(() => h.free(b + 8)), /points inside the heap but not at the start of a block$/, /^That address is inside a block, not at the start of its payload \(an interior pointer\)/],
    [thrown(() => h.free(8)), /it was not returned by this heap$/, /^That address never came from this heap \(a foreign pointer\)/],
    [corrupt, /^heap corruption at 0x[0-9a-f]+: /, /^A block's header no longer holds what the allocator wrote there: most likely a write ran past the end of the block before it/],
    [thrown(() => h.malloc(5000)), /^out of memory: /, /^No free block is large enough and the heap cannot grow/],
    [thrown(() => h.calloc(65536, 65537)), /^size overflow: /, /^The size, with the block's header, does not fit/],
    [thrown(() => h.memalign(24, 8)), /^bad alignment 24/, /^An alignment must be a power of two/],
    [h.run('free(nobody)').error, /nobody was never allocated$/, /^That variable holds no block/],
  ];
  for (const [message, engine, words] of cases) {
    assert.match(message, engine);
    assert.match(explainError(message), words, message);
    const n = narrate({ step: 3, line: 3, text: 'free(p)', error: `free(p): ${message}` }, [], { policy: 'first', header: 8 });
    assert.equal(n.error, true);
    assert.equal(n.summary, `Error at step 3 (line 3): free(p): ${message}${/[.!?]$/.test(message) ? '' : '.'}`);
    assert.equal(n.detail, `${explainError(message)} The heap is unchanged, and the session goes on.`);
  }
  assert.equal(explainError('a message heaptale never gives'), '');
  h.free(b);
  h.check();
});

test('in the page, a double free is explained in words under the step', async () => {
  const { page, context, problems, dialogs } = await openWatched();
  await runStatement(page, 'dd = malloc(40)');
  await runStatement(page, 'free(dd)');
  const s = await runStatement(page, 'free(dd)');
  assert.match(s, /^⚠?\s*Error at step \d+ \(line \d+\): free\(dd\): double free: the block at 0x[0-9a-f]+ is already free\./, s);
  assert.match(s, /That block was freed already\. Freeing it again would put it on the free list twice, so two later mallocs could be handed the same memory/, s);
  assert.match(s, /The heap is unchanged, and the session goes on\.$/, s);
  await page.locator('#status').screenshot({ path: path.join(RESULTS, 'hostile-double-free.png') });
  assert.match(await runStatement(page, 'ee = malloc(8)'), /returned 0x/);
  await assertNothingInjected(page, dialogs, 'double free');
  assert.deepEqual(problems, []);
  await context.close();
});
