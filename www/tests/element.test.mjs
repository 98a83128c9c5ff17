// <heap-tale> end to end: two elements on one page (www/tests/fixtures/elements.html),
// served with the strict CSP of scripts/serve.mjs, read as a user reads them
// (by role and accessible name, through the open shadow roots).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { env, RESULTS, BLOCK_RE } from './harness.mjs';

/** Opens a fixture page; records console errors, page errors, failed requests and CSP violations. */
async function open(file = 'elements.html', { reducedMotion, viewport = { width: 1000, height: 900 } } = {}) {
  const context = await env.browser.newContext({ viewport, reducedMotion });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    window.__steps = [];
    window.__errors = [];
    document.addEventListener('heaptale-step', (e) => window.__steps.push({ id: e.target.id, ...e.detail }));
    document.addEventListener('heaptale-error', (e) => window.__errors.push({ id: e.target.id, ...e.detail }));
  });
  const res = await page.goto(`${env.url}tests/fixtures/${file}`);
  assert.match(res.headers()['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'/);
  return { page, context, problems };
}

/** Waits until element `sel` is ready (or failed) after its latest change. */
async function settled(page, sel) {
  await page.waitForFunction((s) => {
    const e = document.querySelector(s);
    return e && (e.state === 'ready' || e.state === 'error');
  }, sel, { timeout: 20000 });
  return page.evaluate((s) => document.querySelector(s).state, sel);
}

/** The block labels of element `sel`'s first heap: [{state, addr, size}]. */
async function blocks(page, sel, name = 'heap blocks') {
  const texts = (await page.locator(sel).getByRole('list', { name, exact: true }).getByRole('listitem').allTextContents()).map((t) => t.trim());
  for (const t of texts) assert.match(t, BLOCK_RE);
  return texts.map((t) => {
    const [state, addr, size] = t.split(', ');
    return { state, addr: Number.parseInt(addr, 16), size: Number.parseInt(size, 10) };
  });
}

/** States and sizes, and a check that the blocks tile the heap from its first block. */
function shape(bs) {
  for (let i = 1; i < bs.length; i++) assert.equal(bs[i].addr, bs[i - 1].addr + bs[i - 1].size, 'blocks tile the heap');
  return bs.map((b) => `${b.state} ${b.size}`);
}

const slider = (page, sel) => page.locator(sel).getByRole('slider', { name: 'step' });
const stepOf = async (page, sel) => Number(await slider(page, sel).getAttribute('aria-valuenow'));

test('two elements render their own scripts, each in its own instance', async () => {
  const { page, context, problems } = await open();
  assert.equal(await settled(page, '#one'), 'ready');
  assert.equal(await settled(page, '#two'), 'ready');
  // #one: a = malloc(24), b = malloc(40), free(a) under first fit, at the end
  assert.deepEqual(shape(await blocks(page, '#one')), ['free 32', 'used 48']);
  assert.equal(await stepOf(page, '#one'), 3);
  // #two: best fit at step 2 (x = malloc(100), y = malloc(8))
  assert.deepEqual(shape(await blocks(page, '#two')), ['used 112', 'used 24']);
  assert.equal(await stepOf(page, '#two'), 2);
  assert.equal(await page.locator('#two').getByRole('slider', { name: 'step' }).getAttribute('aria-valuetext'), 'step 2 of 5');
  // narration and titles are text
  assert.match(await page.locator('#one').getByRole('status').textContent(), /^Step 3 \(line 3\): free\(a\)/);
  assert.equal((await page.locator('#one').locator('.title').textContent()), 'First fit splits a hole');
  assert.equal(await page.locator('#one').getByRole('region', { name: 'heaptale: First fit splits a hole' }).count(), 1);
  // separate instances: separate glue modules and separate linear memories
  const separate = await page.evaluate(() => {
    const [a, b] = document.querySelectorAll('heap-tale');
    return a.engine !== b.engine && a.engine.wasmMemory() !== b.engine.wasmMemory() && a.heap.heapStart() === b.heap.heapStart();
  });
  assert.ok(separate, 'each element has its own instance (the same heap start in each memory)');
  // the free list and the figures
  assert.deepEqual((await page.locator('#one').getByRole('list', { name: 'the free list (by address)' }).getByRole('listitem').allTextContents()),
    [`0x${(await blocks(page, '#one'))[0].addr.toString(16)}, 32 bytes`]);
  assert.match(await page.locator('#one').getByRole('definition').nth(8).textContent(), /^50\.0 %$/); // utilization: 40 of 80 bytes
  // only #two has the pages, hex and console panels
  assert.equal(await page.locator('#one').getByRole('list', { name: 'steps' }).count(), 0);
  assert.equal(await page.locator('#two').getByRole('list', { name: 'steps' }).count(), 1);
  assert.match(await page.locator('#two').locator('.pages-panel').textContent(), /Simulated: \d+ heap pages/);
  assert.match(await page.locator('#two').locator('caption').textContent(), /^Used block at 0x[0-9a-f]+: 24 bytes, read from the module's linear memory/);
  const events = await page.evaluate(() => window.__steps);
  assert.deepEqual(events.filter((e) => e.id === 'one'), [{ id: 'one', step: 3, steps: 3 }]);
  assert.deepEqual(events.filter((e) => e.id === 'two'), [{ id: 'two', step: 2, steps: 5 }]);
  await page.screenshot({ path: path.join(RESULTS, 'element-two.png'), fullPage: true });
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(problems, []);
  await context.close();
});

test('stepping one element leaves the other as it was; keyboard and buttons step', async () => {
  const { page, context, problems } = await open();
  await settled(page, '#one');
  await settled(page, '#two');
  const twoBefore = await blocks(page, '#two');
  const s = slider(page, '#one');
  await s.focus();
  await s.press('ArrowLeft');
  assert.equal(await stepOf(page, '#one'), 2);
  assert.deepEqual(shape(await blocks(page, '#one')), ['used 32', 'used 48']);
  await s.press('Home');
  assert.equal(await stepOf(page, '#one'), 0);
  assert.deepEqual(await blocks(page, '#one'), []);
  assert.equal(await page.locator('#one').getByRole('button', { name: 'Step back' }).isDisabled(), true);
  await page.locator('#one').getByRole('button', { name: 'Step forward' }).click();
  assert.deepEqual(shape(await blocks(page, '#one')), ['used 32']);
  // the other heap did not move
  assert.equal(await stepOf(page, '#two'), 2);
  assert.deepEqual(await blocks(page, '#two'), twoBefore);
  // Tab reaches the controls in order
  await page.locator('#two').getByRole('button', { name: 'Go to step 0' }).focus();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.querySelector('#two').shadowRoot.activeElement?.getAttribute('role')), 'slider');
  await page.keyboard.press('End');
  assert.equal(await stepOf(page, '#two'), 5);
  assert.deepEqual(shape(await blocks(page, '#two')), ['used 64', 'free 48', 'used 24', 'used 24']);
  // the JS API: step property and goTo
  assert.equal(await page.evaluate(() => { const e = document.querySelector('#one'); e.step = 3; return e.step; }), 3);
  const events = await page.evaluate(() => window.__steps.map((e) => `${e.id} ${e.step}/${e.steps}`));
  assert.deepEqual(events.filter((e) => e.startsWith('one')), ['one 3/3', 'one 2/3', 'one 0/3', 'one 1/3', 'one 3/3']);
  assert.deepEqual(events.filter((e) => e.startsWith('two')), ['two 2/5', 'two 5/5']);
  assert.deepEqual(problems, []);
  await context.close();
});

test('attribute changes re-run the element', async () => {
  const { page, context, problems } = await open();
  await settled(page, '#one');
  // a new script
  await page.evaluate(() => document.querySelector('#one').setAttribute('script', 'p = malloc(200)\nq = malloc(10)'));
  await settled(page, '#one');
  assert.deepEqual(shape(await blocks(page, '#one')), ['used 208', 'used 24']);
  assert.equal(await page.locator('#one').getByRole('slider', { name: 'step' }).getAttribute('aria-valuetext'), 'step 2 of 2');
  // first fit versus best fit on the same script
  const script = 'a = malloc(64)\nk1 = malloc(8)\nb = malloc(16)\nk2 = malloc(8)\nfree(a)\nfree(b)\nc = malloc(16)';
  await page.evaluate((t) => document.querySelector('#one').setAttribute('script', t), script);
  await settled(page, '#one');
  assert.deepEqual(shape(await blocks(page, '#one')), ['used 24', 'free 48', 'used 24', 'free 24', 'used 24'], 'first fit splits the first hole');
  await page.evaluate(() => document.querySelector('#one').setAttribute('policy', 'best'));
  await settled(page, '#one');
  assert.deepEqual(shape(await blocks(page, '#one')), ['free 72', 'used 24', 'used 24', 'used 24'], 'best fit takes the exact hole');
  assert.match(await page.locator('#one').locator('.settings').textContent(), /^policy best · order addr · coalesce on · header 8 · align 8$/);
  // the step attribute moves without reloading
  await page.evaluate(() => document.querySelector('#one').setAttribute('step', '1'));
  await page.waitForFunction(() => document.querySelector('#one').step === 1);
  assert.deepEqual(shape(await blocks(page, '#one')), ['used 72']);
  // panels and height re-render
  await page.evaluate(() => { const e = document.querySelector('#one'); e.setAttribute('panels', 'stats'); e.setAttribute('height', '300'); });
  await page.waitForFunction(() => document.querySelector('#one').shadowRoot.querySelector('.heap-panel').hidden);
  assert.equal(await page.locator('#one').getByRole('list', { name: 'heap blocks' }).count(), 0);
  assert.equal(await page.locator('#one').getByRole('definition').first().textContent(), 'best (best fit)');
  assert.equal(await page.evaluate(() => document.querySelector('#one').shadowRoot.querySelector('.ht').getBoundingClientRect().height), 300);
  // the other element did not reload
  assert.deepEqual(shape(await blocks(page, '#two')), ['used 112', 'used 24']);
  assert.deepEqual(problems, []);
  await context.close();
});

test('bad input is shown as plain text, with a heaptale-error event', async () => {
  const { page, context, problems } = await open();
  await settled(page, '#one');
  // a script with a bad line: the line fails, the steps after it run
  await page.evaluate(() => document.querySelector('#one').setAttribute('script', 'a = malloc(24)\nb = malloc(\nfree(a)\nfree(a)'));
  assert.equal(await settled(page, '#one'), 'ready');
  const failures = await page.locator('#one').getByRole('list', { name: 'steps that failed' }).getByRole('listitem').allTextContents();
  assert.equal(failures.length, 2);
  assert.match(failures[0], /^Line 2: /);
  assert.match(failures[1], /^Line 4: .*double free/i);
  let errors = await page.evaluate(() => window.__errors);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].kind, 'step');
  assert.match(errors[0].message, /^2 steps failed; the first: line 2: /);
  // a bad knob: the message names it, as the playground's links do
  await page.evaluate(() => document.querySelector('#one').setAttribute('policy', 'bogus'));
  assert.equal(await settled(page, '#one'), 'error');
  const alert = (await page.locator('#one').getByRole('alert').textContent()).trim();
  assert.equal(alert, 'Error: unknown policy "bogus" (expected one of first, next, best, worst, seglist, tlsf, heaptale, buddy)');
  errors = await page.evaluate(() => window.__errors);
  assert.deepEqual(errors[1], { id: 'one', kind: 'settings', message: alert.slice('Error: '.length) });
  await assert.rejects(page.evaluate(() => document.querySelector('#one').ready), /unknown policy "bogus"/);
  // fixed again: it recovers
  await page.evaluate(() => document.querySelector('#one').setAttribute('policy', 'first'));
  assert.equal(await settled(page, '#one'), 'ready');
  assert.equal(await page.locator('#one').getByRole('alert').isVisible(), false);
  // markup in a script or a title is text, never HTML
  await page.evaluate(() => {
    const e = document.querySelector('#one');
    e.setAttribute('title', '<img src=x onerror=alert(1)>');
    e.setAttribute('script', '<img src=x onerror=alert(1)>\n<b>bold</b> = malloc(8)');
  });
  await settled(page, '#one');
  assert.deepEqual(await page.locator('#one').getByRole('list', { name: 'steps that failed' }).getByRole('listitem').allTextContents(),
    ["Line 1: unexpected character '<'", "Line 2: unexpected character '<'"]);
  assert.equal(await page.locator('#one').locator('.title').textContent(), '<img src=x onerror=alert(1)>');
  assert.equal(await page.evaluate(() => document.querySelector('#one').shadowRoot.querySelectorAll('img, b').length), 0);
  // other bad attributes
  for (const [attr, value, want] of [
    ['step', 'soon', 'step must be a step number or "end", got "soon"'],
    ['panels', 'heap,graphs', 'panels: unknown panel "graphs" (expected some of heap, free-lists, pages, process, stats, console, hex)'],
    ['header', '3', 'header must be between 4 and 256, got 3'],
    ['compare', 'best,nope', 'compare: unknown policy "nope" (expected one of first, next, best, worst, seglist, tlsf, heaptale, buddy)'],
    ['src', 'missing.txt', 'src "missing.txt" could not be fetched: HTTP 404'],
    ['wasm', 'engine.txt', 'wasm: "engine.txt" must name heaptale.js (the glue) or heaptale_bg.wasm'],
    ['wasm', '/pkg/missing.js', `The engine could not start: the engine could not be fetched from ${new URL('/pkg/missing_bg.wasm', env.url).href}: HTTP 404`],
  ]) {
    await page.evaluate(([a, v]) => { const e = document.querySelector('#two'); e.removeAttribute('step'); e.setAttribute(a, v); }, [attr, value]);
    if (attr === 'step') await page.waitForFunction(() => document.querySelector('#two').state === 'error');
    assert.equal(await settled(page, '#two'), 'error', attr);
    assert.equal((await page.locator('#two').getByRole('alert').textContent()).trim(), `Error: ${want}`);
    await page.evaluate((a) => document.querySelector('#two').removeAttribute(a), attr);
    assert.equal(await settled(page, '#two'), 'ready', `${attr} removed`);
  }
  await page.screenshot({ path: path.join(RESULTS, 'element-errors.png'), fullPage: true });
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  // the engine from an explicit URL
  await page.evaluate(() => document.querySelector('#two').setAttribute('wasm', '/pkg/heaptale_bg.wasm'));
  assert.equal(await settled(page, '#two'), 'ready');
  // the 404s of the missing src and engine are the expected problems
  assert.deepEqual(problems.filter((p) => !p.includes('404')), []);
  await context.close();
});

test('compare, readonly, the console, built-in scenarios and a src file', async () => {
  const { page, context, problems } = await open();
  await settled(page, '#one');
  await page.evaluate(() => {
    const e = document.createElement('heap-tale');
    e.id = 'three';
    e.setAttribute('trace', 'coalescing');
    e.setAttribute('compare', 'first,best,worst');
    e.setAttribute('readonly', '');
    e.setAttribute('panels', 'heap,console');
    document.body.append(e);
  });
  assert.equal(await settled(page, '#three'), 'ready');
  const names = await page.locator('#three').getByRole('list').evaluateAll((ls) => ls.map((l) => l.getAttribute('aria-label')));
  assert.deepEqual(names.filter((n) => n.startsWith('heap blocks')), ['heap blocks', 'heap blocks under best fit', 'heap blocks under worst fit']);
  for (const name of ['heap blocks', 'heap blocks under best fit', 'heap blocks under worst fit']) {
    assert.ok((await blocks(page, '#three', name)).length > 0, name);
  }
  // readonly: steppable, no statement box, no editor
  assert.equal(await page.locator('#three').getByRole('textbox').count(), 0);
  await slider(page, '#three').focus();
  await slider(page, '#three').press('Home');
  assert.equal(await stepOf(page, '#three'), 0);
  for (const name of ['heap blocks', 'heap blocks under best fit', 'heap blocks under worst fit']) {
    assert.deepEqual(await blocks(page, '#three', name), [], `${name} at step 0`);
  }
  // the console of #two: a statement runs after the step shown, in that element only
  const two = page.locator('#two');
  await two.getByRole('textbox', { name: 'Statement' }).fill('n = malloc(1000)');
  await two.getByRole('textbox', { name: 'Statement' }).press('Enter');
  await page.waitForFunction(() => document.querySelector('#two').steps === 3);
  assert.equal(await stepOf(page, '#two'), 3);
  assert.deepEqual(shape(await blocks(page, '#two')), ['used 112', 'used 24', 'used 1008']);
  assert.match(await two.getByRole('status').textContent(), /^Step 3 \(line 3\): n = malloc\(1000\) returned 0x/);
  // a bad statement is refused in words
  await two.getByRole('textbox', { name: 'Statement' }).fill('free(');
  await two.getByRole('textbox', { name: 'Statement' }).press('Enter');
  assert.equal(await two.getByRole('textbox', { name: 'Statement' }).getAttribute('aria-invalid'), 'true');
  // a src file (a .rep trace from the fixtures)
  await page.evaluate(() => { const e = document.querySelector('#one'); e.removeAttribute('script'); e.querySelector('script').remove(); e.setAttribute('src', 'tiny.rep'); });
  assert.equal(await settled(page, '#one'), 'ready');
  assert.equal(await page.evaluate(() => document.querySelector('#one').steps), 6);
  assert.deepEqual(shape(await blocks(page, '#one')), ['used 24', 'free 40', 'used 32']);
  await page.screenshot({ path: path.join(RESULTS, 'element-compare.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test('the built-in "bytes-and-pages" scenario: the written text in the bytes panel, the fault in the paging notes', async () => {
  const { page, context, problems } = await open();
  await page.evaluate(() => {
    const e = document.createElement('heap-tale');
    e.id = 'bytes';
    e.setAttribute('trace', 'bytes-and-pages');
    e.setAttribute('panels', 'heap,process,hex');
    document.body.append(e);
  });
  assert.equal(await settled(page, '#bytes'), 'ready');
  const el = page.locator('#bytes');
  assert.equal(await page.evaluate(() => document.querySelector('#bytes').steps), 6);
  const text = async (from, to) => String.fromCharCode(...(await el.locator('table.hex .byte').allTextContents())
    .slice(from, to).map((b) => Number.parseInt(b, 16)));
  // step 2: the write; the bytes panel shows the block it wrote to
  await page.evaluate(() => { document.querySelector('#bytes').step = 2; });
  await page.waitForFunction(() => document.querySelector('#bytes').step === 2);
  assert.match(await el.getByRole('status').textContent(), /write\(a, "password=hunter2"\) done/);
  await el.getByRole('list', { name: 'heap blocks', exact: true }).getByRole('button').first().click();
  assert.equal(await text(8, 24), 'password=hunter2');
  // step 4: the memset's first touch of the heap's second page, in the step's paging notes
  await page.evaluate(() => { document.querySelector('#bytes').step = 4; });
  await page.waitForFunction(() => document.querySelector('#bytes').step === 4);
  const notes = await el.getByRole('list', { name: 'paging notes' }).getByRole('listitem').allTextContents();
  assert.ok(notes.some((n) => /^writing 64 bytes at 0x[0-9a-f]+ touched page 0x[0-9a-f]+: page fault \(minor: first touch\)/.test(n)), notes.join('\n'));
  // the end: c has a's block back, and its bytes 8 in still say "=hunter2"
  await page.evaluate(() => { document.querySelector('#bytes').step = 6; });
  await page.waitForFunction(() => document.querySelector('#bytes').step === 6);
  await el.getByRole('list', { name: 'heap blocks', exact: true }).getByRole('button').first().click();
  assert.equal(await text(16, 24), '=hunter2');
  assert.deepEqual(problems, []);
  await context.close();
});

test('the hex panel shows the block chosen in the block list, by keyboard', async () => {
  const { page, context, problems } = await open();
  await settled(page, '#two');
  const two = page.locator('#two');
  // at first: the block the step changed (y, the 24-byte block)
  assert.match(await two.locator('caption').textContent(), /^Used block at 0x[0-9a-f]+: 24 bytes/);
  const first = two.getByRole('list', { name: 'heap blocks', exact: true }).getByRole('button').first();
  assert.match(await first.textContent(), /^used, 0x[0-9a-f]+, 112 bytes$/);
  await first.focus();
  await page.keyboard.press('Enter');
  assert.match(await two.locator('caption').textContent(), /^Used block at 0x[0-9a-f]+: 112 bytes/);
  assert.equal(await first.getAttribute('aria-pressed'), 'true');
  // the header word of a used 112-byte block after nothing: size 112, U=1, P=1
  assert.match(await two.locator('.fields').textContent(), /header word 0xc0000070: size 112, used \(U=1\), the block before is used \(P=1\)/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('the heap map by keyboard: Tab to it, arrows move between blocks, each is read out, Enter shows its bytes', async () => {
  const { page, context, problems } = await open();
  assert.equal(await settled(page, '#two'), 'ready');
  const two = page.locator('#two');
  const bs = await blocks(page, '#two');
  assert.deepEqual(shape(bs), ['used 112', 'used 24']);
  const hx = (n) => `0x${n.toString(16)}`;
  const active = () => page.evaluate(() => {
    const a = document.querySelector('#two').shadowRoot.activeElement;
    return a ? { tag: a.tagName, label: a.getAttribute('aria-label'), outline: getComputedStyle(a).outlineStyle } : null;
  });
  // From the step slider, Tab goes on to the map
  await slider(page, '#two').focus();
  for (let i = 0; i < 8 && (await active())?.tag !== 'CANVAS'; i++) await page.keyboard.press('Tab');
  const a = await active();
  assert.equal(a.tag, 'CANVAS', 'the map takes focus');
  assert.match(a.label, /^Heap map: 2 blocks \(2 used, 0 free\)/);
  assert.equal(a.outline, 'solid', 'its focus is visible');
  assert.match(await two.locator('canvas').getAttribute('aria-describedby'), /map-help/);
  const line = two.locator('.map-focus');
  assert.equal(await line.getAttribute('aria-live'), 'polite');
  // the first block is read out on focus: address, size, used or free, header word
  assert.equal(await line.textContent(), `Block 1 of 2: used block at ${hx(bs[0].addr)}: 112 bytes (8-byte header, 100 bytes asked for, 4 bytes of padding; ` +
    `payload at ${hx(bs[0].addr + 8)}); header word 0xc0000070: size 112, U=1 (used), P=1 (the block before is used).`);
  await page.keyboard.press('ArrowRight');
  assert.match(await line.textContent(), new RegExp(`^Block 2 of 2: used block at ${hx(bs[1].addr)}: 24 bytes \\(8-byte header, 8 bytes asked for`));
  await page.keyboard.press('ArrowRight');
  assert.match(await line.textContent(), /^Block 2 of 2: /, 'the last block stays');
  // Enter shows the focused block's bytes; the focus stays on the map
  await page.keyboard.press('Enter');
  assert.match(await two.locator('caption').textContent(), new RegExp(`^Used block at ${hx(bs[1].addr)}: 24 bytes`));
  assert.match(await line.textContent(), /Its bytes are shown below\.$/);
  await page.keyboard.press('Home');
  assert.match(await line.textContent(), /^Block 1 of 2: used block at /);
  await page.keyboard.press('Enter');
  assert.match(await two.locator('caption').textContent(), new RegExp(`^Used block at ${hx(bs[0].addr)}: 112 bytes`));
  assert.equal((await active()).tag, 'CANVAS');
  assert.equal(await two.getByRole('button', { name: `used, ${hx(bs[0].addr)}, 112 bytes` }).getAttribute('aria-pressed'), 'true', 'the block list agrees');
  // a step moved with the keyboard on the slider, then back to the map: it reads the heap of that step
  await slider(page, '#two').focus();
  await slider(page, '#two').press('End');
  await page.waitForFunction(() => document.querySelector('#two').step === 5);
  assert.equal(await line.textContent(), '', 'no stale words once the map lost focus');
  await two.locator('canvas').focus();
  await page.keyboard.press('End');
  const last = (await blocks(page, '#two')).at(-1);
  assert.match(await line.textContent(), new RegExp(`^Block \\d+ of \\d+: ${last.state} block at ${hx(last.addr)}: ${last.size} bytes`));
  // without the hex panel, Enter only reads the block out
  await settled(page, '#one');
  await page.locator('#one canvas').focus();
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  assert.match(await page.locator('#one .map-focus').textContent(), /^Block 2 of 2: used block at 0x[0-9a-f]+: 48 bytes/);
  assert.equal(await page.locator('#one').locator('table.hex').count(), 0);
  assert.deepEqual(problems, []);
  await context.close();
});

test('sized to its container, reduced motion honoured, instances reused', async () => {
  const { page, context, problems } = await open('elements.html', { reducedMotion: 'reduce', viewport: { width: 1200, height: 900 } });
  await settled(page, '#one');
  const width = () => page.evaluate(() => document.querySelector('#one').shadowRoot.querySelector('canvas').getBoundingClientRect().width);
  const wide = await width();
  await page.evaluate(() => document.querySelector('#one').classList.add('narrow'));
  await page.waitForFunction((w) => document.querySelector('#one').shadowRoot.querySelector('canvas').getBoundingClientRect().width < w - 100, wide);
  const narrow = await width();
  assert.ok(narrow < 420 && wide > 700, `canvas ${wide} px, then ${narrow} px`);
  await page.screenshot({ path: path.join(RESULTS, 'element-narrow.png'), fullPage: true });
  // reduced motion: the narration does not flash
  await slider(page, '#one').focus();
  await slider(page, '#one').press('ArrowLeft');
  assert.equal(await page.evaluate(() => document.querySelector('#one').shadowRoot.querySelector('[role=status]').classList.contains('flash')), false);
  // a removed element gives its instance back; the next one reuses it
  const made = await page.evaluate(async () => {
    const { instancesMade } = await import('../../element/loader.js');
    const before = instancesMade();
    document.querySelector('#one').remove();
    await new Promise((r) => setTimeout(r, 50));
    const e = document.createElement('heap-tale');
    e.setAttribute('script', 'z = malloc(8)');
    document.body.append(e);
    await e.ready;
    return [before, instancesMade(), e.layout()[0].blocks.map((b) => `${b.state} ${b.size}`)];
  });
  assert.deepEqual(made, [2, 2, ['used 24']]);
  assert.deepEqual(problems, []);
  await context.close();
});

test('the process panel: areas, counters, the step\'s paging notes and a page walk', async () => {
  const { page, context, problems } = await open('process.html');
  assert.equal(await settled(page, '#proc'), 'ready');
  const proc = page.locator('#proc');
  const bs = await blocks(page, '#proc');
  assert.deepEqual(shape(bs), ['used 5008', 'used 32']);
  const start = bs[0].addr;
  const hx = (n) => `0x${n.toString(16)}`;
  // mm_struct's areas: the heap from start_brk (the heap's start) to brk, page aligned
  const rows = await proc.getByRole('table', { name: /^Address space/ }).getByRole('row').allTextContents();
  assert.deepEqual(rows.map((r) => r.split(/\s*0x/)[0].trim()), ['areastartendsizerights', 'code', 'data', 'bss', 'heap', 'stack']);
  const heapRow = await proc.getByRole('row', { name: /^heap/ }).getByRole('cell').allTextContents();
  assert.deepEqual(heapRow, [hx(start), hx(start + 0x2000), '8 KiB', 'rw-']);
  assert.match(await proc.getByRole('table', { name: /^Address space/ }).locator('caption').textContent(),
    new RegExp(`from start_brk ${hx(start)} to brk ${hx(bs[1].addr + 32)}$`));
  // counters: two heap pages touched, two first-touch faults; the TLB of the tlb attribute
  const fig = await proc.locator('dl[aria-label="process figures"]').evaluate((dl) =>
    Object.fromEntries([...dl.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  assert.equal(fig['page faults'], '2 minor, 0 major');
  assert.equal(fig['resident (RSS)'], '2 pages (8 KiB), 2 of the heap');
  assert.equal(fig.TLB, '0 hits, 2 misses (16 entries, 4-way)');
  // the step's notes: b's header on the heap's second page
  const notes = await proc.getByRole('list', { name: 'paging notes' }).getByRole('listitem').allTextContents();
  assert.deepEqual(notes.map((n) => n.replace(/frame 0x[0-9a-f]+/, 'frame F')), [
    `the break moved from ${hx(bs[1].addr)} to ${hx(bs[1].addr + 32)}`,
    `writing the header at ${hx(bs[1].addr)} touched page ${hx((bs[1].addr) >>> 12)}: page fault (minor: first touch), frame F`,
  ]);
  // the page walk: by default the first payload, resident
  const walkBox = proc.getByRole('textbox', { name: 'Walk the page tables for' });
  assert.equal(await walkBox.inputValue(), hx(start + 8));
  assert.match(await proc.locator('.walk-result').textContent(), /^Physical address 0x[0-9a-f]+: frame 0x[0-9a-f]+, offset 0x8\.$/);
  assert.equal(await proc.getByRole('table', { name: /^Walk of/ }).getByRole('row').count(), 3);
  // an address typed: below the code, in no area
  await walkBox.fill('0x10');
  await walkBox.press('Enter');
  assert.match(await proc.locator('.walk-result').textContent(), /^Fault at level 0 \(PDE\): .*\(in no area: a segmentation fault\)\.$/);
  // the walk attribute: a's second page, resident
  await page.evaluate((a) => document.querySelector('#proc').setAttribute('walk', a), hx(start + 0x1234));
  await page.waitForFunction(() => /offset 0x234\.$/.test(document.querySelector('#proc').shadowRoot.querySelector('.walk-result').textContent));
  assert.equal(await walkBox.inputValue(), hx(start + 0x1234));
  // stepping back: one page, one fault
  await slider(page, '#proc').focus();
  await slider(page, '#proc').press('ArrowLeft');
  const fig1 = await proc.locator('dl[aria-label="process figures"]').evaluate((dl) => dl.querySelector('dd').textContent);
  assert.equal(fig1, '1 minor, 0 major');
  // a bad process knob is named
  await page.evaluate(() => document.querySelector('#proc').setAttribute('vm', 'x87'));
  assert.equal(await settled(page, '#proc'), 'error');
  assert.equal((await proc.getByRole('alert').textContent()).trim(), 'Error: unknown paging mode "x87" for the simulated process');
  await page.evaluate(() => document.querySelector('#proc').setAttribute('vm', 'x86-64'));
  assert.equal(await settled(page, '#proc'), 'ready');
  assert.equal(await proc.getByRole('table', { name: /^Walk of/ }).getByRole('row').count(), 5, 'four levels in x86-64');
  await proc.screenshot({ path: path.join(RESULTS, 'element-process.png') });
  assert.deepEqual(problems, []);
  await context.close();
});

test('compare mode with the process panel: a process card per heap, stepping together', async () => {
  const { page, context, problems } = await open('process.html', { viewport: { width: 1280, height: 900 } });
  assert.equal(await settled(page, '#proc'), 'ready');
  await page.evaluate(() => document.querySelector('#proc').setAttribute('compare', 'best,buddy'));
  assert.equal(await settled(page, '#proc'), 'ready');
  const proc = page.locator('#proc');
  const cards = proc.getByRole('group', { name: /^simulated process under / });
  assert.equal(await cards.count(), 3, 'one card per heap');
  const names = await cards.evaluateAll((gs) => gs.map((g) => g.getAttribute('aria-label')));
  assert.deepEqual(names, ['simulated process under first fit', 'simulated process under best fit', 'simulated process under the buddy allocator']);
  const faults = async () => Promise.all([0, 1, 2].map(async (k) => Number(await cards.nth(k).locator('dd[data-counter="minor faults"]').textContent())));
  const grids = async () => Promise.all([0, 1, 2].map((k) => cards.nth(k).getByRole('img').getAttribute('aria-label')));
  // first and best fit touch the same two pages (a's 5008 bytes, then b's header on the
  // second page); the buddy allocator's 8192-byte block puts b's header on the third
  assert.deepEqual(await faults(), [2, 2, 3]);
  const g = await grids();
  assert.match(g[0], /^The heap’s pages under first fit: 16 of 4 KiB from start_brk, 0 resident and clean, 2 resident and dirty, /);
  assert.match(g[2], /^The heap’s pages under the buddy allocator: .*, 3 resident and dirty, /);
  const lines = await cards.nth(2).locator('.process-card-notes p').allTextContents();
  assert.ok(lines.some((t) => /^Simulated: writing the header at 0x[0-9a-f]+ touched page 0x[0-9a-f]+: page fault \(minor: first touch\)/.test(t)), lines.join('\n'));
  // each card is its own heap's process: stepping moves them all, back and forth
  await slider(page, '#proc').focus();
  await slider(page, '#proc').press('Home');
  await page.waitForFunction(() => document.querySelector('#proc').step === 0);
  assert.deepEqual(await faults(), [0, 0, 0]);
  await slider(page, '#proc').press('End');
  await page.waitForFunction(() => document.querySelector('#proc').step === 2);
  assert.deepEqual(await faults(), [2, 2, 3]);
  // the first heap keeps its areas and the page walk
  assert.equal(await proc.getByRole('table', { name: /^Address space/ }).count(), 1);
  assert.equal(await proc.getByRole('textbox', { name: 'Walk the page tables for' }).count(), 1);
  await proc.screenshot({ path: path.join(RESULTS, 'element-process-compare.png') });
  assert.deepEqual(problems, []);
  await context.close();
});

test('at 360 px the process panel\'s tables fit: nothing cut at the right edge', async () => {
  const { page, context, problems } = await open('process.html', { viewport: { width: 360, height: 800 } });
  assert.equal(await settled(page, '#proc'), 'ready');
  await page.locator('#proc').getByRole('table', { name: /^Walk of/ }).waitFor();
  const boxes = await page.evaluate(() => [...document.querySelector('#proc').shadowRoot.querySelectorAll('.table-scroll')]
    .map((d) => ({ caption: d.querySelector('caption').textContent, scroll: d.scrollWidth, width: d.clientWidth })));
  assert.equal(boxes.length, 2, 'the areas and the walk');
  for (const b of boxes) assert.ok(b.scroll <= b.width + 1, `${b.caption}: ${b.scroll} px in ${b.width} px`);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 360, 'no sideways scroll');
  assert.deepEqual(problems, []);
  await context.close();
});

test('heaps side by side wrap in a narrow element, and figures stack', async () => {
  const { page, context, problems } = await open('process.html', { viewport: { width: 1000, height: 900 } });
  assert.equal(await settled(page, '#four'), 'ready');
  const boxes = await page.evaluate(() => [...document.querySelector('#four').shadowRoot.querySelectorAll('section.col')]
    .map((s) => { const r = s.getBoundingClientRect(); return [Math.round(r.left), Math.round(r.top), Math.round(r.right), Math.round(r.bottom)]; }));
  assert.equal(boxes.length, 4);
  for (let i = 1; i < 4; i++) {
    assert.equal(boxes[i][0], boxes[0][0], 'one column: the same left edge');
    assert.ok(boxes[i][1] >= boxes[i - 1][3], `heap ${i} starts below heap ${i - 1}: no overlap`);
  }
  // every canvas within its column
  const inside = await page.evaluate(() => [...document.querySelector('#four').shadowRoot.querySelectorAll('section.col')]
    .every((s) => s.querySelector('canvas').getBoundingClientRect().right <= s.getBoundingClientRect().right + 0.5));
  assert.ok(inside);
  // widening the page puts them side by side again (2 a row at 700 px, 4 at 1200 px)
  const perRow = async () => page.evaluate(() => new Set([...document.querySelector('#four').shadowRoot.querySelectorAll('section.col')].map((s) => Math.round(s.getBoundingClientRect().top))).size);
  await page.evaluate(() => { document.querySelector('.narrow-compare').style.maxWidth = '700px'; });
  await page.waitForFunction(() => document.querySelector('#four').shadowRoot.querySelector('.cols').style.getPropertyValue('--ht-cols') === '2');
  assert.equal(await perRow(), 2);
  await page.setViewportSize({ width: 1300, height: 900 });
  await page.evaluate(() => { document.body.style.maxWidth = 'none'; document.querySelector('.narrow-compare').style.maxWidth = '1200px'; });
  await page.waitForFunction(() => document.querySelector('#four').shadowRoot.querySelector('.cols').style.getPropertyValue('--ht-cols') === '4');
  assert.equal(await perRow(), 1);
  // figures in a 300 px column: the label above its value
  const stacked = await page.evaluate(() => {
    const dt = document.querySelector('#four').shadowRoot.querySelector('dl.stats dt');
    return Math.round(dt.getBoundingClientRect().left) === Math.round(dt.nextElementSibling.getBoundingClientRect().left);
  });
  assert.ok(stacked, 'dt above dd in a narrow column');
  assert.deepEqual(problems, []);
  await context.close();
});
