// The guided tour (www/tour/), read as a reader reads it: every <heap-tale> on it
// loads under the strict CSP, shows a heap, and shows what the prose beside it
// says (the same addresses, sizes, page counts and step counts); the keyboard
// drives a widget; the page reads at 360 px; reduced motion is honoured; the
// playground links to it. Screenshots: test-results/tour-1280.png, tour-360.png.
//   node --test www/tests/tour.test.mjs   (pkg/ must be built: make build)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { env, RESULTS } from './harness.mjs';
import { watchProblems } from './watch.mjs';

const hex = (v) => `0x${v.toString(16)}`;

/** Opens the tour; records console errors, page errors, failed requests and CSP violations. */
async function openTour({ viewport = { width: 1280, height: 900 }, reducedMotion } = {}) {
  const context = await env.browser.newContext({ viewport, reducedMotion });
  const page = await context.newPage();
  const problems = watchProblems(page);
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(new URL('tour/', env.url).href);
  await page.waitForFunction(() => {
    const all = [...document.querySelectorAll('heap-tale')];
    return all.length > 0 && all.every((e) => ['ready', 'error'].includes(e.dataset.state));
  }, null, { timeout: 60000 });
  return { page, context, problems };
}

async function clean(page, problems) {
  const csp = await page.evaluate(() => window.__csp);
  assert.deepEqual(csp, [], `CSP violations: ${csp.join('; ')}`);
  assert.deepEqual(problems, [], problems.join('\n'));
}

/** The widget's layout (every heap shown) at its current step, from the element's own API. */
const layout = (page, id) => page.evaluate((i) => {
  const e = document.getElementById(i);
  return { step: e.step, steps: e.steps, heaps: e.layout() };
}, id);

/** The page grid's summary line of a widget (simulated process). */
const pagesLine = (page, id) => page.locator(`#${id}`).locator('.pages-panel .help').textContent();
/** The prose of a section, as text. */
const prose = (page, id) => page.locator(`#${id}`).evaluate((s) => [...s.querySelectorAll('p, li, td, th')].map((n) => n.textContent).join(' ').replace(/\s+/g, ' '));
const narration = (page, id) => page.locator(`#${id}`).getByRole('status').textContent();

test('tour: every widget loads and shows what its prose says; no errors, no CSP violations', async () => {
  const { page, context, problems } = await openTour();
  try {
    // Every widget: ready, no error, a heap with blocks, its title read out.
    const widgets = await page.evaluate(() => [...document.querySelectorAll('heap-tale')].map((e) => ({
      id: e.id, state: e.state, error: e.error, steps: e.steps, title: e.getAttribute('title'),
      heaps: e.layout().map((l) => l.blocks.length),
      errorShown: !e.shadowRoot.querySelector('.error').hidden,
      label: e.shadowRoot.querySelector('section.ht').getAttribute('aria-label'),
    })));
    assert.equal(widgets.length, 9, 'one widget per section, two for fragmentation');
    for (const w of widgets) {
      assert.equal(w.state, 'ready', `${w.id}: ${w.error}`);
      assert.equal(w.error, null, w.id);
      assert.equal(w.errorShown, false, w.id);
      assert.ok(w.steps > 0, `${w.id} has steps`);
      assert.ok(w.heaps.length >= 1 && w.heaps.every((n) => n > 0), `${w.id} draws a heap with blocks: ${w.heaps}`);
      assert.equal(w.label, `heaptale: ${w.title}`, w.id);
    }
    // Sections: a table of contents whose links all land on a heading.
    const toc = await page.getByRole('navigation', { name: 'Contents' }).getByRole('link').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.equal(toc.length, 9);
    for (const href of toc) assert.equal(await page.locator(`${href} h2`).count(), 1, href);

    // 1. Virtual memory: pages become resident as they are touched, as the prose says.
    const vmAt = async (n) => {
      await page.evaluate((k) => document.getElementById('w-virtual-memory').goTo(k), n);
      return pagesLine(page, 'w-virtual-memory');
    };
    assert.equal((await layout(page, 'w-virtual-memory')).steps, 4);
    assert.match(await vmAt(4), /16 heap pages of 4 KiB from 0x4120000 \(start_brk\) to 0x4130000 \(memory\.size\), the break at 0x41236c0: 3 resident, 1 mapped, 12 unmapped/);
    assert.match(await vmAt(1), /: 1 resident, 1 mapped, 14 unmapped/);
    assert.match(await vmAt(2), /the break at 0x41236c0: 2 resident, 2 mapped, 12 unmapped/);
    assert.match(await vmAt(3), /: 2 resident, 2 mapped, 12 unmapped/);
    const notes = (id) => page.locator(`#${id}`).getByRole('list', { name: 'paging notes' }).getByRole('listitem').allTextContents();
    const figure = (id, name) => page.locator(`#${id}`).locator('dl[aria-label="process figures"]').evaluate((dl, n) => {
      const dt = [...dl.querySelectorAll('dt')].find((d) => d.textContent === n);
      return dt ? dt.nextElementSibling.textContent : null;
    }, name);
    assert.deepEqual(await notes('w-virtual-memory'), [
      'writing 5000 bytes at 0x4120008 touched page 0x4120: TLB hit, frame 0x7d6',
      'writing 5000 bytes at 0x4120008 touched page 0x4121: TLB hit, frame 0x58f',
    ], 'step 3: a\'s pages were resident already: no fault');
    assert.equal(await figure('w-virtual-memory', 'page faults'), '2 minor, 0 major');
    await vmAt(4);
    assert.deepEqual(await notes('w-virtual-memory'), ['writing 5 bytes at 0x41232d8 touched page 0x4123: page fault (minor: first touch), frame 0x91c']);
    assert.equal(await figure('w-virtual-memory', 'page faults'), '3 minor, 0 major');
    const vmText = await prose(page, 'virtual-memory');
    for (const s of ['0x4120000', '0x41236c0', 'two are resident', 'spans four pages', 'three pages are resident', 'Page 0x4122']) assert.ok(vmText.includes(s), s);

    // 2. Page tables: the walked payload is the first block's.
    const pt = await layout(page, 'w-page-tables');
    assert.deepEqual(pt.heaps[0].blocks.map((b) => [hex(b.addr + b.header), b.size]), [['0x4120008', 32]]);
    const addr = 0x4120008;
    const ptText = await prose(page, 'page-tables');
    assert.ok(ptText.includes(`directory index 31–22 ${(addr >>> 22).toString(2).padStart(10, '0')} ${addr >>> 22}`), 'directory field');
    assert.ok(ptText.includes(`table index 21–12 ${((addr >>> 12) & 0x3ff).toString(2).padStart(10, '0')} ${(addr >>> 12) & 0x3ff}`), 'table field');
    assert.ok(ptText.includes(`offset 11–0 ${(addr & 0xfff).toString(2).padStart(12, '0')} ${addr & 0xfff}`), 'offset field');

    const pw = page.locator('#w-page-tables');
    await pw.getByText('Physical address 0x7d6008: frame 0x7d6, offset 0x8.').waitFor({ timeout: 5000 });
    assert.match(await pw.locator('table.walk').textContent(), /1 PTEpage table \(frame 0xc96\)288frame 0x7d6 P W U A D/);
    const walkBox = pw.getByRole('textbox', { name: 'Walk the page tables for' });
    await walkBox.fill('0x4121000');
    await walkBox.press('Enter');
    await pw.getByText('Fault at level 1 (PTE): page fault at 0x4121000: PTE 0x121 is not present (in no area: a segmentation fault).').waitFor({ timeout: 5000 });
    await walkBox.fill('0x8000000');
    await walkBox.press('Enter');
    await pw.getByText(/^Fault at level 0 \(PDE\): page fault at 0x8000000: PDE 0x20 is not present/).waitFor({ timeout: 5000 });
    for (const s of ['entry 289 not present', 'directory entry 32']) assert.ok(ptText.includes(s), s);

    // 3. mm_struct: the break past the first 64 KiB, one resident page of eighteen.
    assert.match(await pagesLine(page, 'w-mm-struct'), /32 heap pages .* to 0x4140000 \(memory\.size\), the break at 0x41311e8: 1 resident, 17 mapped, 14 unmapped/);
    const mmText = await prose(page, 'mm-struct');
    assert.ok(mmText.includes('0x41311e8') && mmText.includes('0x4132000'));
    const vmas = await page.locator('#w-mm-struct table.vmas tbody tr').evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
    const area = (k) => vmas.find((r) => r[0] === k);
    assert.deepEqual(area('heap').slice(0, 3), ['heap', '0x4120000', '0x4132000']);
    assert.deepEqual(area('stack').slice(0, 3), ['stack', '0xbffdf000', '0xc0000000']);
    assert.equal(area('bss')[2], '0x4120000', 'bss ends where the heap starts');
    assert.deepEqual(vmas.map((r) => r[0]), ['code', 'data', 'bss', 'heap', 'stack']);
    for (const s of ['0xbffdf000', '0xc0000000', '0xb8000000']) assert.ok(mmText.includes(s), s);

    // 4. The break: five steps, opening at step 1; the keyboard walks to the growth.
    let br = await layout(page, 'w-the-break');
    assert.equal(br.steps, 5);
    assert.equal(br.step, 1);
    assert.deepEqual(br.heaps[0].blocks.map((b) => [hex(b.addr), b.size]), [['0x4120000', 30008]]);
    const slider = page.locator('#w-the-break').getByRole('slider', { name: 'step' });
    await slider.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => document.getElementById('w-the-break').step === 3);
    assert.match(await narration(page, 'w-the-break'), /c = malloc\(30000\).*0x4135fa8/);
    // The prose's list follows the widget: its third item is the current step.
    const current = () => page.locator('#the-break ol.steps > li[aria-current="step"]').allTextContents();
    await page.waitForFunction(() => document.querySelector('#the-break ol.steps > li:nth-child(3)').getAttribute('aria-current') === 'step');
    assert.equal((await current()).length, 1);
    assert.match((await current())[0], /^c = malloc\(30000\)/);
    await page.keyboard.press('End');
    await page.waitForFunction(() => document.getElementById('w-the-break').step === 5);
    br = await layout(page, 'w-the-break');
    assert.equal(hex(br.heaps[0].blocks[2].addr + 8), '0x412ea78', 'd takes the place c had');
    const brText = await prose(page, 'the-break');
    for (const s of ['0x4127538', '0x412ea70', '0x4135fa8', '0x412ea78']) assert.ok(brText.includes(s), s);

    // 5. Carving: the layout at every step the prose lists, then the console.
    const carve = page.locator('#w-carving');
    const atStep = async (n) => {
      await page.evaluate((k) => document.getElementById('w-carving').goTo(k), n);
      const l = await layout(page, 'w-carving');
      return { blocks: l.heaps[0].blocks.map((b) => `${b.state} ${hex(b.addr)} ${b.size}`), free: l.heaps[0].freeList.map(([a, s]) => `${hex(a)} ${s}`) };
    };
    assert.equal((await layout(page, 'w-carving')).steps, 8);
    assert.equal((await layout(page, 'w-carving')).step, 3);
    // The prose's "show step" buttons drive the widget.
    await page.getByRole('button', { name: 'Show step 5 in the heap below' }).nth(1).click();
    await page.waitForFunction(() => document.getElementById('w-carving').step === 5);
    assert.match(await narration(page, 'w-carving'), /^Step 5 \(line 5\): d = malloc\(16\) returned 0x10028\. First fit took the 48-byte free block at 0x10020/);
    assert.deepEqual((await atStep(3)).blocks, ['used 0x10000 32', 'used 0x10020 48', 'used 0x10050 24']);
    // The hex panel reads the real header words the prose quotes.
    const blockButtons = carve.getByRole('list', { name: 'heap blocks' }).getByRole('button');
    await blockButtons.first().click();
    await carve.getByText('header word 0xc0000020: size 32, used (U=1), the block before is used (P=1)').waitFor({ timeout: 5000 });
    assert.deepEqual(await atStep(5), { blocks: ['used 0x10000 32', 'used 0x10020 24', 'free 0x10038 24', 'used 0x10050 24'], free: ['0x10038 24'] });
    await blockButtons.nth(3).click();
    await carve.getByText('header word 0x80000018: size 24, used (U=1), the block before is free (P=0)').waitFor({ timeout: 5000 });
    assert.deepEqual((await atStep(6)).free, ['0x10000 32', '0x10038 24']);
    assert.deepEqual(await atStep(7), { blocks: ['free 0x10000 80', 'used 0x10050 24'], free: ['0x10000 80'] });
    assert.deepEqual(await atStep(8), { blocks: ['used 0x10000 24', 'free 0x10018 56', 'used 0x10050 24'], free: ['0x10018 56'] });
    const cvText = await prose(page, 'carving');
    for (const s of ['20 00 00 c0', '0xc0000020', '18 00 00 80', '0x10008', '0x10020', '0x10050', '0x10068', '0x10028', '0x10038', '80-byte hole at 0x10000', 'smallest block is 24 bytes']) assert.ok(cvText.includes(s), s);
    // The console, as the aside suggests: free(e), then a double free refused.
    const box = carve.getByRole('textbox', { name: 'Statement' });
    await box.fill('free(e)');
    await box.press('Enter');
    await page.waitForFunction(() => document.getElementById('w-carving').steps === 9);
    assert.deepEqual((await layout(page, 'w-carving')).heaps[0].blocks.map((b) => `${b.state} ${hex(b.addr)} ${b.size}`), ['free 0x10000 80', 'used 0x10050 24']);
    await box.fill('free(e)');
    await box.press('Enter');
    await page.waitForFunction(() => document.getElementById('w-carving').steps === 10);
    assert.match(await narration(page, 'w-carving'), /^Error at step 10 \(line 10\): free\(e\): double free: the block at 0x10008 is already free\./,
      'the double free is refused with the engine\'s message');
    assert.deepEqual((await layout(page, 'w-carving')).heaps[0].blocks.map((b) => `${b.state} ${hex(b.addr)} ${b.size}`), ['free 0x10000 80', 'used 0x10050 24'], 'the heap is unchanged');

    // 6. Fragmentation: 224 free bytes in four 56-byte holes, then the heap grows to 560.
    const ex = await layout(page, 'w-external');
    assert.equal(ex.steps, 13);
    assert.equal(ex.step, 12);
    const exh = ex.heaps[0];
    assert.deepEqual(exh.freeList.map(([, s]) => s), [56, 56, 56, 56]);
    assert.equal(exh.stats.free_bytes, 224);
    assert.equal(exh.stats.heap_bytes, 448);
    assert.equal(exh.stats.external_fragmentation, 0.75);
    await page.evaluate(() => document.getElementById('w-external').goTo(13));
    assert.equal((await layout(page, 'w-external')).heaps[0].stats.heap_bytes, 560);
    const inl = (await layout(page, 'w-internal')).heaps[0];
    assert.equal(inl.policy, 'buddy');
    assert.deepEqual(inl.blocks.filter((b) => b.state === 'used').map((b) => b.size), [128, 256, 512, 1024]);
    assert.equal(inl.stats.live_bytes, 932);
    const frText = await prose(page, 'fragmentation');
    for (const s of ['224 bytes are free', 'from 448 to 560 bytes', '75 %', '932 bytes', '1,920 bytes']) assert.ok(frText.includes(s), s);

    // 7. Policies: four heaps, the sizes the prose gives.
    const pol = await layout(page, 'w-policies');
    assert.equal(pol.steps, 10);
    assert.deepEqual(Object.fromEntries(pol.heaps.map((h) => [h.policy, h.stats.heap_bytes])), { first: 1176, best: 688, tlsf: 688, buddy: 1024 });
    const polText = await prose(page, 'policies');
    for (const s of ['1,176 bytes', '688 bytes', '688', '1,024']) assert.ok(polText.includes(s), s);

    // 8. A real trace: the peak the prose describes.
    const real = await layout(page, 'w-real');
    assert.equal(real.steps, 1880);
    assert.equal(real.step, 958);
    const [first, buddy] = real.heaps;
    assert.equal(first.policy, 'first');
    assert.equal(first.stats.live_bytes, 2050583);
    assert.equal(first.stats.heap_bytes, 2070432);
    assert.equal(first.blocks.filter((b) => b.state === 'used').length, 920);
    assert.equal(buddy.policy, 'buddy');
    assert.equal(buddy.stats.heap_bytes, 4 << 20);
    const rlText = await prose(page, 'real-programs');
    for (const s of ['1,880 calls', 'step 958', '2,050,583 bytes', '920 blocks', '2,070,432 bytes', '99.0 %', '4 MiB', '48.9 %']) assert.ok(rlText.includes(s), s);

    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(RESULTS, 'tour-1280.png'), fullPage: true });

    for (const s of ['frame 0x7d6', 'P W U A D', '0x7d6008', '0x4000000', '0x43fffff']) assert.ok(ptText.includes(s), s);
    await clean(page, problems);
  } finally {
    await context.close();
  }
});

test('tour: 360 px without sideways scrolling, keyboard navigation, reduced motion', async () => {
  const { page, context, problems } = await openTour({ viewport: { width: 360, height: 780 }, reducedMotion: 'reduce' });
  try {
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 360, `the page scrolls sideways at 360 px: ${wide}`);
    // Every widget fits, heaps side by side included (the element stacks them when narrow).
    for (const id of await page.evaluate(() => [...document.querySelectorAll('heap-tale')].map((e) => e.id))) {
      const box = await page.locator(`#${id}`).boundingBox();
      assert.ok(box.x >= 0 && box.x + box.width <= 360.5, `${id} fits: ${JSON.stringify(box)}`);
    }
    const cols = await page.locator('#w-policies').evaluate((e) => [...e.shadowRoot.querySelectorAll('section.col')].map((c) => Math.round(c.getBoundingClientRect().x)));
    assert.equal(new Set(cols).size, 1, `four heaps stacked at 360 px: ${cols}`);
    assert.equal(await page.evaluate(() => getComputedStyle(document.documentElement).scrollBehavior), 'auto', 'no smooth scrolling under reduced motion');
    // Keyboard: the first Tab reaches the skip link; the contents lead to a section.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to the tour');
    const link = page.getByRole('navigation', { name: 'Contents' }).getByRole('link', { name: 'Fragmentation' });
    await link.focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => location.hash === '#fragmentation');
    const top = await page.locator('#h-fragmentation').boundingBox();
    assert.ok(top.y >= -1 && top.y < 200, `the section's heading is in view: ${top.y}`);
    // Headings: one h1, the sections' h2s in order.
    const heads = await page.evaluate(() => [...document.querySelectorAll('h1, h2')].map((h) => h.tagName + ' ' + h.textContent.trim()));
    assert.equal(heads[0], 'H1 A guided tour of the heap');
    assert.ok(heads.includes('H2 6 Fragmentation'), heads.join(' | '));
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(RESULTS, 'tour-360.png'), fullPage: true });
    await clean(page, problems);
  } finally {
    await context.close();
  }
});

test('tour: its links to the playground open the same examples in the simulated process', async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  try {
    await page.goto(new URL('tour/', env.url).href);
    const href = await page.locator('#open-mm').getAttribute('href');
    await page.goto(new URL(href, new URL('tour/', env.url)).href);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.documentElement.dataset.state), null, { timeout: 20000 });
    assert.equal(await page.evaluate(() => document.documentElement.dataset.state), 'ready');
    await page.waitForFunction(() => /Step 2 of 2/.test(document.getElementById('step-count')?.textContent ?? ''), null, { timeout: 20000 });
    const steps = await page.getByRole('textbox', { name: /^Script/ }).inputValue();
    assert.match(steps, /^small = malloc\(100\)\nlarge = malloc\(70000\)/);
    await page.getByRole('region', { name: 'Process (simulated)' }).waitFor();
    // The page tables' link: the playground walks the payload the prose walks by hand.
    await page.goto(new URL('tour/', env.url).href);
    const walkHref = await page.locator('#open-walk').getAttribute('href');
    await page.goto(new URL(walkHref, new URL('tour/', env.url)).href);
    await page.waitForFunction(() => document.documentElement.dataset.state === 'ready', null, { timeout: 20000 });
    const proc = page.getByRole('region', { name: 'Process (simulated)' });
    await proc.getByText('Physical address 0x7d6008 (frame 0x7d6, offset 0x8).').waitFor({ timeout: 10000 });
    assert.match(await proc.textContent(), /Walk of 0x4120008 \(simulated x86 page tables/);
    assert.deepEqual(problems, [], problems.join('\n'));
  } finally {
    await context.close();
  }
});

test('tour: the playground links to it', async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(env.url);
    const link = page.getByRole('link', { name: /guided tour/i }).first();
    await link.click();
    await page.waitForURL(/\/www\/tour\/$/);
    assert.equal(await page.title(), 'heaptale — a guided tour of the heap');
  } finally {
    await context.close();
  }
});
