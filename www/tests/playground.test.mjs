// The playground as a user meets it: the timeline and time travel, the map,
// scenarios, trace files, policies, links, compare mode, the keyboard, and
// narrow and wide screens. Playwright (playwright-core) and Debian's Chromium.
//   node --test www/tests/          (pkg/ must be built: make build)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  ROOT, RESULTS, BLOCK_RE, openPage, blockTexts, countUsed, status, idle, runStatement, slider, sliderValue,
  sliderKey, figures, hexOf, openLibrary,
} from './harness.mjs';

const TRACES = path.join(ROOT, 'tests', 'traces');

test('the accessible names other tools rely on are there', async () => {
  const { page, context, problems } = await openPage();
  await page.getByRole('textbox', { name: /statement/i }).waitFor();
  assert.equal(await page.getByRole('status').count(), 1, 'one status region');
  assert.equal(await page.getByRole('status').getAttribute('aria-live'), 'polite');
  const s = slider(page);
  assert.equal(await s.count(), 1);
  assert.equal(await s.getAttribute('aria-valuemin'), '0');
  assert.equal(await s.getAttribute('aria-valuemax'), await s.getAttribute('aria-valuenow'), 'at the last step after a load');
  assert.match(await s.getAttribute('aria-valuetext'), /^step \d+ of \d+: /);
  assert.equal(await page.getByRole('list', { name: /blocks/ }).count(), 1, 'one blocks list');
  assert.equal(await page.getByRole('combobox', { name: /policy/i }).count(), 1);
  const texts = await blockTexts(page);
  for (const t of texts) assert.match(t, BLOCK_RE);
  assert.match(await status(page), /malloc\(8\) returned 0x[0-9a-f]+/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('each step is narrated from the engine: the policy, the block taken, the split, the header', async () => {
  const { page, context, problems } = await openPage();
  await openLibrary(page, 'Splitting: one hole, cut again and again');
  await sliderKey(page, 'Home');
  for (let i = 0; i < 4; i++) await sliderKey(page, 'ArrowRight');
  const n = await status(page);
  assert.match(n, /^Step 4 \(line 5\): a = malloc\(24\) returned 0x[0-9a-f]+\./, n);
  assert.match(n, /First fit took the 408-byte free block at 0x[0-9a-f]+ after 1 probe/, n);
  assert.match(n, /split it: 32 bytes used and a 376-byte free block at 0x[0-9a-f]+/, n);
  assert.match(n, /8-byte header, 24 bytes of payload/, n);
  // the block the step changed is marked in the list
  const changed = await page.locator('#blocks li.changed').allTextContents();
  assert.deepEqual(changed.map((t) => t.replace(/0x[0-9a-f]+/, 'X')), ['used, X, 32 bytes', 'free, X, 376 bytes']);
  // the last step grows the heap: old and new break named
  await sliderKey(page, 'End');
  assert.match(await status(page), /The break moved from 0x[0-9a-f]+ to 0x[0-9a-f]+ \(\+248 bytes\)/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('scrubbing the timeline with the keyboard returns the heap to the exact earlier layout', async () => {
  const { page, context, problems } = await openPage();
  // a few statements of our own after the default script
  await runStatement(page, 'x = malloc(100)');
  await runStatement(page, 'y = calloc(3, 40)');
  await runStatement(page, 'x = realloc(x, 300)');
  await runStatement(page, 'free(y)');
  const n = await sliderValue(page);
  assert.equal(n, 12);
  // walk back to step 0, recording each layout, then forward again: the same layouts
  const layouts = new Map([[n, await blockTexts(page)]]);
  for (let k = n - 1; k >= 0; k--) {
    assert.equal(await sliderKey(page, 'ArrowLeft'), k);
    layouts.set(k, await blockTexts(page));
  }
  assert.deepEqual(layouts.get(0), [], 'step 0 is the empty heap');
  assert.match(await status(page), /Step 0: the heap as made/);
  for (let k = 1; k <= n; k++) {
    assert.equal(await sliderKey(page, 'ArrowRight'), k);
    assert.deepEqual(await blockTexts(page), layouts.get(k), `step ${k} forward again`);
  }
  // Page Up/Down, Home and End jump; each lands on the layout seen before
  assert.equal(await sliderKey(page, 'Home'), 0);
  assert.equal(await sliderKey(page, 'PageUp'), 10);
  assert.deepEqual(await blockTexts(page), layouts.get(10));
  assert.equal(await sliderKey(page, 'PageDown'), 0);
  assert.equal(await sliderKey(page, 'End'), n);
  assert.deepEqual(await blockTexts(page), layouts.get(n));
  // jump to a step by number
  await page.getByRole('textbox', { name: 'Go to step' }).fill('5');
  await page.getByRole('button', { name: 'Go', exact: true }).click();
  await page.waitForFunction(() => document.getElementById('step-count').textContent.startsWith('Step 5 of'));
  assert.deepEqual(await blockTexts(page), layouts.get(5));
  // a statement typed in the past replaces the steps after it
  const st = await runStatement(page, 'z = malloc(8)');
  assert.match(st, /^Step 6 .*z = malloc\(8\) returned 0x/);
  assert.equal(await slider(page).getAttribute('aria-valuemax'), '6');
  const script = await page.getByRole('textbox', { name: /script/i }).inputValue();
  assert.match(script, /free\(b\)\s*# a 48-byte hole\nd = malloc\(16\).*\nz = malloc\(8\)\n$/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('stepping back past memory.grow leaves the break below memory.size', async () => {
  const { page, context, problems } = await openPage();
  await openLibrary(page, 'memory.grow: the break crosses 64 KiB pages');
  let f = await figures(page);
  const memEnd = hexOf(f['memory.size']);
  assert.ok(hexOf(f['break (brk)']) > hexOf(f['heap start']) + 190_000, f['break (brk)']);
  // step 4 grew memory; stepping back to step 3 and 0
  await sliderKey(page, 'Home');
  for (let i = 0; i < 4; i++) await sliderKey(page, 'ArrowRight');
  assert.match(await status(page), /^Step 4 \(line 6\): d = malloc\(100000\) returned 0x[0-9a-f]+\..* memory\.grow added 1 page/);
  await sliderKey(page, 'ArrowLeft');
  f = await figures(page);
  assert.equal(hexOf(f['memory.size']), memEnd, 'memory never shrinks');
  assert.ok(hexOf(f['break (brk)']) < memEnd - 65536, `break ${f['break (brk)']} is well below memory.size ${f['memory.size']}`);
  await sliderKey(page, 'Home');
  f = await figures(page);
  assert.equal(hexOf(f['break (brk)']), hexOf(f['heap start']));
  assert.equal(hexOf(f['memory.size']), memEnd);
  // forward again over the growth: the pages are already there, and the narration says so
  for (let i = 0; i < 3; i++) await sliderKey(page, 'ArrowRight');
  assert.match(await status(page), /memory\.grow added 1 page when this step first ran/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('the "Bytes and pages" scenario: written text in the hex view, a page fault, old bytes after free', async () => {
  const { page, context, problems } = await openPage();
  await openLibrary(page, 'Bytes and pages: writes, a page fault, old bytes after free');
  assert.equal(await sliderValue(page), 6, 'six steps (the last line is a comment)');
  const start = hexOf((await figures(page))['heap start']);
  const hx = (v) => `0x${v.toString(16)}`;
  // The hex view of the block at the heap's start, read back as text.
  const textAt = async (state, from, to) => {
    const item = page.locator('#blocks li', { hasText: `${state}, ${hx(start)}, ` });
    await item.click();
    await page.getByRole('table', { name: new RegExp(`${state === 'used' ? 'Used' : 'Free'} block at ${hx(start)}:`) }).waitFor();
    const bytes = await page.locator('#hex table .byte').allTextContents();
    return String.fromCharCode(...bytes.slice(from, to).map((b) => Number.parseInt(b, 16)));
  };
  await sliderKey(page, 'Home');
  await sliderKey(page, 'ArrowRight');
  await sliderKey(page, 'ArrowRight');
  assert.match(await status(page), /write\(a, "password=hunter2"\) done\. The program wrote the text into its block's payload/);
  assert.equal(await textAt('used', 8, 24), 'password=hunter2', 'the 16 bytes written, after the 8-byte header');
  // The "as text" column reads them as words: two 16-byte rows, the header's bytes as dots.
  const rows = await page.locator('#hex table td.chars').allTextContents();
  assert.equal(rows[0].slice(8), 'password', rows.join('|'));
  assert.equal(rows[1].slice(0, 8), '=hunter2', rows.join('|'));
  assert.match(rows[0].slice(0, 8), /\u00b7/, 'the header word is not text');
  // Step 4: the memset is the first touch of the heap's second page: a minor fault, narrated.
  await sliderKey(page, 'ArrowRight');
  await sliderKey(page, 'ArrowRight');
  assert.match(await status(page), /memset\(b \+ 5000, 0xab, 64\) done\. The program set the bytes/);
  const notes = await page.getByRole('list', { name: 'simulated paging this step' }).getByRole('listitem').allTextContents();
  const b = start + 32 + 8 + 5000;
  assert.ok(notes.some((t) => t.startsWith(`Simulated: writing 64 bytes at ${hx(b)} touched page ${hx(Math.floor(b / 4096))}: page fault (minor: first touch)`)), notes.join('\n'));
  // Step 5: free erases nothing: the links cover the first 8 bytes, the rest is still there.
  await sliderKey(page, 'ArrowRight');
  assert.equal(await textAt('free', 16, 24), '=hunter2');
  assert.ok((await page.locator('#hex .fields li').allTextContents()).some((t) => /free bytes \(old contents\)/.test(t)));
  // Step 6: c = malloc(8) gets a's block back, not cleared: its payload still holds "=hunter2" 8 bytes in.
  await sliderKey(page, 'End');
  assert.match(await status(page), new RegExp(`c = malloc\\(8\\) returned ${hx(start + 8)}\\.`));
  assert.equal(await textAt('used', 16, 24), '=hunter2');
  assert.deepEqual(problems, []);
  await context.close();
});

test('changing the policy replays the program and the layout changes', async () => {
  const { page, context, problems } = await openPage();
  await openLibrary(page, 'Worst fit\u2019s worst case: breaking up the big hole');
  const policy = page.getByRole('combobox', { name: /policy/i });
  assert.equal(await policy.inputValue(), 'worst');
  await sliderKey(page, 'End');
  await sliderKey(page, 'ArrowLeft'); // step 9 of 10
  const worst = await blockTexts(page);
  await policy.selectOption('first');
  await page.waitForFunction(() => document.querySelector('[role="status"]').textContent.includes('Policy first'));
  await idle(page);
  assert.equal(await sliderValue(page), 9, 'the same step');
  const first = await blockTexts(page);
  assert.notDeepEqual(first, worst, 'another policy, another layout');
  assert.equal(countUsed(first), countUsed(worst), 'the same live blocks');
  // a knob: no coalescing, replayed as well
  await page.getByRole('checkbox', { name: /coalesce/i }).uncheck();
  await page.waitForFunction(() => /coalesce changed/.test(document.querySelector('[role="status"]').textContent));
  await idle(page);
  // a knob the policy does not take is disabled, with the reason given
  await policy.selectOption('tlsf');
  await idle(page);
  assert.equal(await page.getByRole('combobox', { name: /order/i }).isDisabled(), true);
  assert.match(await page.locator('#policy-description').textContent(), /do not apply/);
  // a bad heap size is refused with a message and the heap goes on
  await page.getByRole('textbox', { name: /heap size/i }).fill('12abc');
  await page.getByRole('textbox', { name: /heap size/i }).press('Enter');
  await page.getByRole('textbox', { name: /heap size/i }).blur();
  await page.waitForFunction(() => /fixed heap size must be a number/.test(document.querySelector('[role="status"]').textContent));
  assert.deepEqual(problems, []);
  await context.close();
});

test('a fixed heap size: the heap never grows, and out of memory is explained', async () => {
  const { page, context, problems } = await openPage();
  const size = page.getByRole('textbox', { name: /heap size/i });
  await size.fill('4096');
  await size.press('Enter');
  await page.waitForFunction(() => /heap size changed/.test(document.querySelector('[role="status"]').textContent));
  await idle(page);
  const f = await figures(page);
  assert.equal(hexOf(f['break (brk)']) - hexOf(f['heap start']), 4096);
  const st = await runStatement(page, 'huge = malloc(5000)');
  assert.match(st, /Error.*out of memory/i, st);
  assert.match(await runStatement(page, 'small = malloc(10)'), /returned 0x/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('the script editor shows each error next to its line, and the steps after it run', async () => {
  const { page, context, problems } = await openPage();
  const editor = page.getByRole('textbox', { name: /script/i });
  await editor.fill('p = malloc(24)\nfree(q)\nq = malloc(8)\nfree(p)\nfree(p)\nr = malloc(\nlast = malloc(40)\n');
  await editor.press('Control+Enter');
  await page.waitForFunction(() => /Ran the script/.test(document.querySelector('[role="status"]').textContent));
  await idle(page);
  const inline = await page.locator('#script-mirror .inline-error').allTextContents();
  assert.equal(inline.length, 3);
  assert.match(inline[0], /q was never allocated/);
  assert.match(inline[1], /double free/);
  const lines = await page.locator('#script-mirror .mline.has-error').evaluateAll((els) => els.map((e) => Number(e.dataset.line)));
  assert.deepEqual(lines, [2, 5, 6]);
  const listed = await page.getByRole('list', { name: 'errors in the script' }).getByRole('listitem').allTextContents();
  assert.match(listed[0], /^Line 2 \(step 2\): free\(q\): q was never allocated/);
  assert.match(await status(page), /last = malloc\(40\) returned 0x/);
  assert.equal(countUsed(await blockTexts(page)), 2);
  // the failed step is a step of the timeline, narrated as an error
  await sliderKey(page, 'Home');
  await sliderKey(page, 'ArrowRight');
  await sliderKey(page, 'ArrowRight');
  assert.match(await status(page), /^Error at step 2 \(line 2\): free\(q\): q was never allocated/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a real trace opens from the library and a .rep file opens with progress', async () => {
  const { page, context, problems } = await openPage();
  await page.evaluate(() => {
    window.progressSeen = [];
    const box = document.getElementById('progress-box');
    new MutationObserver(() => { if (!box.hidden) window.progressSeen.push(document.getElementById('progress-label').textContent); })
      .observe(box, { attributes: true, subtree: true, childList: true, characterData: true });
  });
  await openLibrary(page, 'Real trace: mawk counting words (1,880 calls)');
  assert.match(await status(page), /Opened awk-wordcount\.rep\. Step 1,880/);
  assert.equal(await slider(page).getAttribute('aria-valuemax'), '1880');
  // a big trace file chosen from disk: reading and replaying show progress
  await page.locator('#file').setInputFiles(path.join(TRACES, 'node-json.rep'));
  await page.waitForFunction(() => /Opened node-json\.rep/.test(document.querySelector('[role="status"]').textContent), null, { timeout: 90000 });
  await idle(page);
  const seen = await page.evaluate(() => window.progressSeen);
  assert.ok(seen.some((l) => /Reading node-json\.rep/.test(l)), `reading progress: ${seen.slice(0, 5)}`);
  assert.ok(seen.some((l) => /Replaying 316,251 steps/.test(l)), `replay progress: ${[...new Set(seen)].join(' | ')}`);
  assert.equal(await slider(page).getAttribute('aria-valuemax'), '316251');
  assert.ok((await blockTexts(page)).length > 0);
  // a jump into the middle of 316,251 steps
  await page.getByRole('textbox', { name: 'Go to step' }).fill('150000');
  await page.getByRole('button', { name: 'Go', exact: true }).click();
  await page.waitForFunction(() => document.getElementById('step-count').textContent.startsWith('Step 150,000 of'));
  assert.match(await status(page), /^Step 150,000 \(line 150004\): /);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a script file dropped on the page opens, its errors marked in place', async () => {
  const { page, context, problems } = await openPage();
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['a = malloc(10)\nfree(b)\nc = malloc(20)\n'], 'dropped.txt', { type: 'text/plain' }));
    document.body.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.waitForFunction(() => /Opened dropped\.txt/.test(document.querySelector('[role="status"]').textContent));
  await idle(page);
  assert.match(await page.getByRole('alert').textContent(), /dropped\.txt: 1 statement failed; each is marked on its line/);
  assert.equal(await page.getByRole('textbox', { name: /script/i }).inputValue(), 'a = malloc(10)\nfree(b)\nc = malloc(20)\n');
  assert.equal(countUsed(await blockTexts(page)), 2);
  assert.deepEqual(problems, []);
  await context.close();
});

test('malformed files are refused with a clear message and the program before stays', async () => {
  const { page, context, problems } = await openPage();
  const before = await blockTexts(page);
  const file = page.locator('#file');
  await file.setInputFiles({ name: 'broken.rep', mimeType: 'text/plain', buffer: Buffer.from('0\n1\n2\n1\na 0 8\nx 0\n') });
  await page.waitForFunction(() => !document.getElementById('notice').hidden);
  await idle(page);
  const alert = await page.getByRole('alert').textContent();
  assert.match(alert, /Could not open broken\.rep: .*line 6.*unknown op/, alert);
  assert.deepEqual(await blockTexts(page), before, 'the program before is still loaded');
  await file.setInputFiles({ name: 'image.rep', mimeType: 'application/octet-stream', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00, 0x01]) });
  await page.waitForFunction(() => /image\.rep/.test(document.getElementById('notice').textContent));
  assert.match(await page.getByRole('alert').textContent(), /not a text file/);
  assert.match(await status(page), /^⚠?\s*Error: Could not open image\.rep/);
  assert.deepEqual(await blockTexts(page), before);
  assert.match(await runStatement(page, 'ok = malloc(1)'), /returned 0x/, 'the page goes on');
  assert.deepEqual(problems.filter((p) => !/HTTP 4/.test(p)), []);
  await context.close();
});

test('a malformed link gives a clear message and a working default page', async () => {
  for (const hash of ['#policy=bogus&step=3', '#script=zz%%%&policy=first', '#step=-4', '#header=3', '#trace=nonesuch']) {
    const { page, context, problems } = await openPage({ hash });
    const alert = await page.getByRole('alert').textContent();
    assert.match(alert, /This link could not be read: .+\. Showing the default program instead\./, `${hash}: ${alert}`);
    const texts = await blockTexts(page);
    assert.ok(texts.length >= 2, `${hash}: the default program runs`);
    assert.match(await runStatement(page, 'p = malloc(10)'), /returned 0x/);
    assert.deepEqual(problems, [], hash);
    await context.close();
  }
});

test('a shared link restores the exact state in a new page', async () => {
  const { page, context, problems } = await openPage({ permissions: ['clipboard-read', 'clipboard-write'] });
  const policy = page.getByRole('combobox', { name: /policy/i });
  await policy.selectOption('best');
  await idle(page);
  await page.getByRole('combobox', { name: /header/i }).selectOption('16');
  await idle(page);
  await runStatement(page, 'big = malloc(300)');
  await runStatement(page, 'free(big)');
  await runStatement(page, 'tiny = malloc(2)');
  await sliderKey(page, 'ArrowLeft');
  const want = {
    blocks: await blockTexts(page),
    step: await sliderValue(page),
    status: await status(page),
    script: await page.getByRole('textbox', { name: /script/i }).inputValue(),
  };
  await page.getByRole('button', { name: /share/i }).click();
  await page.waitForFunction(() => /copied|Copy this link/.test(document.getElementById('share-status').textContent));
  const link = await page.evaluate(() => location.href);
  assert.match(link, /#policy=best&.*header=16.*&script=z.*&step=10/);
  const copied = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
  if (copied !== null) assert.equal(copied, link);
  await context.close();

  const hash = new URL(link).hash;
  const again = await openPage({ hash });
  const p2 = again.page;
  assert.equal(await p2.getByRole('combobox', { name: /policy/i }).inputValue(), 'best');
  assert.equal(await p2.getByRole('combobox', { name: /header/i }).inputValue(), '16');
  assert.equal(await sliderValue(p2), want.step);
  assert.deepEqual(await blockTexts(p2), want.blocks);
  assert.equal(await p2.getByRole('textbox', { name: /script/i }).inputValue(), want.script);
  assert.equal((await status(p2)).replace(/^Opened the linked state\. /, ''), want.status);
  assert.deepEqual([...problems, ...again.problems], []);
  await again.context.close();
});

test('a link to a built-in trace cut short, with statements after it, restores the same heap', async () => {
  const { page, context, problems } = await openPage();
  await openLibrary(page, 'Real trace: mawk counting words (1,880 calls)');
  await page.getByRole('textbox', { name: 'Go to step' }).fill('700');
  await page.getByRole('button', { name: 'Go', exact: true }).click();
  await page.waitForFunction(() => document.getElementById('step-count').textContent.startsWith('Step 700 of'));
  await runStatement(page, 'mine = malloc(5000)');
  await runStatement(page, 'free(mine)');
  assert.equal(await slider(page).getAttribute('aria-valuemax'), '702');
  assert.match(await page.locator('#trace-summary').textContent(), /Cut after its step 700\. Then 2 statements typed after it/);
  const want = await blockTexts(page);
  await page.waitForFunction(() => /step=702/.test(location.hash));
  const hash = await page.evaluate(() => location.hash);
  assert.match(hash, /trace=awk-wordcount&cut=700&extra=/);
  await context.close();
  const again = await openPage({ hash });
  assert.equal(await slider(again.page).getAttribute('aria-valuemax'), '702');
  assert.equal(await sliderValue(again.page), 702);
  assert.deepEqual(await blockTexts(again.page), want);
  assert.deepEqual(problems, [], 'first page');
  assert.deepEqual(again.problems, [], 'second page');
  await again.context.close();
});

test('a base address: every address is reported from it, the hex view reads the real bytes, a link restores it', async () => {
  const { page, context, problems } = await openPage({ permissions: ['clipboard-read', 'clipboard-write'] });
  const addrs = (texts) => texts.map((t) => hexOf(t));
  const real = await figures(page);
  const realStart = hexOf(real['heap start']);
  const realBlocks = await blockTexts(page);
  const base = page.getByRole('textbox', { name: /base address/i });
  await base.fill('0x1000');
  await base.press('Enter');
  await page.waitForFunction(() => /base address changed/.test(document.querySelector('[role="status"]').textContent));
  await idle(page);
  let f = await figures(page);
  assert.equal(hexOf(f['heap start']), 0x1000);
  assert.match(f['base address'], new RegExp(`really start at 0x${realStart.toString(16)}`), f['base address']);
  // the same program, the same layout: every address shifted by exactly base - real start
  const shifted = await blockTexts(page);
  assert.deepEqual(addrs(shifted), addrs(realBlocks).map((a) => a - realStart + 0x1000));
  assert.deepEqual(shifted.map((t) => t.replace(/0x[0-9a-f]+/, 'X')), realBlocks.map((t) => t.replace(/0x[0-9a-f]+/, 'X')));
  assert.ok(hexOf(f['break (brk)']) < hexOf(f['memory.size']), `${f['break (brk)']} below ${f['memory.size']}`);
  // a statement: the status names an address from the base; free and realloc take them
  const st = await runStatement(page, 'b = malloc(40)');
  assert.match(st, /b = malloc\(40\) returned 0x[0-9a-f]+\./, st);
  const b = hexOf(st.split('returned')[1]);
  f = await figures(page);
  assert.ok(b > 0x1000 && b < hexOf(f['break (brk)']), `0x${b.toString(16)} lies in [0x1000, ${f['break (brk)']})`);
  assert.ok((await blockTexts(page)).some((t) => t.startsWith(`used, 0x${(b - 8).toString(16)}, `)), 'the block list names it');
  const grown = await runStatement(page, 'b = realloc(b, 300)');
  assert.match(grown, /b = realloc\(b, 300\) returned 0x[0-9a-f]+\./, grown);
  const b2 = hexOf(grown.split('returned')[1]);
  assert.ok(b2 > 0x1000 && b2 < 0x1000 + 65536, grown);
  assert.doesNotMatch(await runStatement(page, 'free(b)'), /Error/);
  assert.match(await runStatement(page, 'free(b)'), /Error.*double free.*0x[0-9a-f]+/i, 'the double free names its base address');
  // the hex view reads the block's real bytes: its header word holds its size and state
  await runStatement(page, 'keep = malloc(100)');
  const keep = (await blockTexts(page)).find((t) => t.startsWith('used,') && t.endsWith(', 112 bytes'));
  assert.ok(keep, 'the 112-byte block');
  await page.locator('#blocks li', { hasText: keep }).click();
  await page.getByRole('table', { name: new RegExp(`Used block at ${keep.split(', ')[1]}`) }).waitFor();
  const fields = await page.locator('#hex .fields li').allTextContents();
  assert.ok(fields.some((t) => /header word 0x[0-9a-f]+: size 112, used \(U=1\)/.test(t)), fields.join('\n'));
  assert.ok(fields.some((t) => t.includes(`${keep.split(', ')[1]}`)), 'the fields are named by reported addresses');
  // the link carries the base; a new page restores it exactly
  const want = { blocks: await blockTexts(page), step: await sliderValue(page) };
  await page.getByRole('button', { name: /share/i }).click();
  await page.waitForFunction(() => /copied|Copy this link/.test(document.getElementById('share-status').textContent));
  const hash = await page.evaluate(() => location.hash);
  assert.match(hash, /[#&]base=0x1000(&|$)/);
  // a bad base is refused with a message; the heap goes on from the base it had
  await base.fill('zz');
  await base.press('Enter');
  await page.waitForFunction(() => /base address must be an address/.test(document.querySelector('[role="status"]').textContent));
  assert.equal(await base.inputValue(), '0x1000');
  await base.fill('0xc0000000');
  await base.press('Enter');
  await page.waitForFunction(() => /too large/.test(document.querySelector('[role="status"]').textContent));
  await idle(page);
  assert.equal(await base.inputValue(), '0x1000', 'the settings are back');
  assert.deepEqual(await blockTexts(page), want.blocks);
  await context.close();

  const again = await openPage({ hash });
  assert.equal(await again.page.getByRole('textbox', { name: /base address/i }).inputValue(), '0x1000');
  assert.equal(hexOf((await figures(again.page))['heap start']), 0x1000);
  assert.equal(await sliderValue(again.page), want.step);
  assert.deepEqual(await blockTexts(again.page), want.blocks);
  // emptied: real addresses again
  await again.page.getByRole('textbox', { name: /base address/i }).fill('');
  await again.page.getByRole('textbox', { name: /base address/i }).press('Enter');
  await again.page.waitForFunction(() => /base address changed/.test(document.querySelector('[role="status"]').textContent));
  await idle(again.page);
  assert.equal(hexOf((await figures(again.page))['heap start']), realStart);
  await again.page.waitForFunction(() => !/base=/.test(location.hash));
  assert.deepEqual([...problems, ...again.problems], []);
  await again.context.close();
});

test('compare mode runs the same program under other policies, stepping together', async () => {
  const { page, context, problems } = await openPage();
  await openLibrary(page, 'Worst fit\u2019s worst case: breaking up the big hole');
  await page.getByRole('checkbox', { name: /^first/ }).check();
  await page.waitForFunction(() => document.querySelectorAll('.compare-card').length === 2);
  await idle(page);
  assert.equal(await page.getByRole('checkbox', { name: /^worst/ }).isDisabled(), true, 'the policy above is not offered');
  const cards = page.locator('.compare-card');
  assert.match(await cards.nth(0).getByRole('heading').textContent(), /^worst/);
  assert.match(await cards.nth(1).getByRole('heading').textContent(), /^first/);
  const listOf = async (k) => {
    const card = cards.nth(k);
    if (!(await card.locator('details').evaluate((d) => d.open))) await card.locator('summary').click();
    return (await card.getByRole('list').getByRole('listitem').allTextContents()).map((t) => t.trim());
  };
  const worst = await listOf(0);
  const first = await listOf(1);
  assert.deepEqual(worst, await blockTexts(page), 'the first card is the heap above');
  assert.notDeepEqual(first, worst, 'two heaps that differ');
  // the figures side by side: worst fit grew the heap, first fit did not
  const table = page.getByRole('table', { name: /side by side/ });
  const heapRow = (await table.getByRole('row', { name: /heap size/ }).getByRole('cell').allTextContents()).map((t) => Number(t.replace(/,/g, '')));
  assert.ok(heapRow[0] > heapRow[1], `heap sizes ${heapRow}`);
  // stepping together
  await sliderKey(page, 'Home');
  await sliderKey(page, 'ArrowRight');
  assert.deepEqual(await listOf(1), [await blockTexts(page)][0], 'step 1 is the same under both');
  assert.match(await cards.nth(1).locator('.compare-narration').textContent(), /^Step 1/);
  // a statement goes to both heaps
  await sliderKey(page, 'End');
  await runStatement(page, 'extra = malloc(64)');
  assert.match(await cards.nth(1).locator('.compare-narration').textContent(), /extra = malloc\(64\) returned/);
  await page.screenshot({ path: path.join(RESULTS, 'compare-1280.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test('the buddy policy draws its tree, and a block\u2019s real bytes are shown with labelled fields', async () => {
  const { page, context, problems } = await openPage();
  await openLibrary(page, 'The buddy allocator\u2019s worst case: just over a power of two');
  await page.getByRole('img', { name: /^Buddy tree/ }).waitFor();
  assert.match(await page.getByRole('img', { name: /^Buddy tree/ }).getAttribute('aria-label'), /blocks \(\d+ used, \d+ free\)/);
  const lists = await page.locator('#free-lists h3').allTextContents();
  assert.ok(lists.some((t) => /^Order \d+: [\d,]+-byte blocks/.test(t)), lists.join(' | '));
  // select the first block with the keyboard on the map
  const map = page.getByRole('img', { name: /^Heap map/ });
  await map.focus();
  await page.keyboard.press('Home');
  await page.keyboard.press('Enter');
  const hex = page.getByRole('table', { name: /block at 0x/ });
  await hex.waitFor();
  const fields = await page.locator('#hex .fields li').allTextContents();
  assert.ok(fields.some((t) => /header word 0x[0-9a-f]+: order 9 \(a 512-byte block\), free/.test(t)), fields.join('\n'));
  assert.ok(fields.some((t) => /check tag/.test(t)));
  assert.deepEqual(problems, []);
  await context.close();
});

test('keyboard only: every main control, visible focus, and the map', async () => {
  const { page, context, problems } = await openPage({ viewport: { width: 1100, height: 900 } });
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return { id: el.id, role: el.getAttribute('role'), outline: getComputedStyle(el).outlineStyle, tag: el.tagName };
  });
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter'); // the skip link
  assert.equal((await focused()).id, 'statement');
  await page.keyboard.type('kb = malloc(40)');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /kb = malloc\(40\) returned 0x/.test(document.querySelector('[role="status"]').textContent));
  // Tab through the page, noting every stop; each shows its focus
  const stops = [];
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const f = await focused();
    if (f.tag === 'BODY') break;
    assert.notEqual(f.outline, 'none', `focus is visible on ${f.id || f.tag}`);
    stops.push(f.id || f.role || f.tag);
  }
  for (const id of ['run', 'back', 'play', 'forward', 'speed', 'slider', 'goto', 'heap-canvas', 'zoom-in', 'script', 'run-script',
    'library', 'file', 'policy', 'header', 'align', 'heap-size', 'share']) {
    assert.ok(stops.includes(id), `${id} is reachable by Tab: ${stops.join(' ')}`);
  }
  // the timeline by keyboard
  await page.getByRole('slider', { name: /step/i }).focus();
  await page.keyboard.press('ArrowLeft');
  await page.waitForFunction(() => document.getElementById('step-count').textContent.startsWith('Step 8 of 9'));
  await page.keyboard.press('ArrowRight');
  // play and pause with the keyboard
  await page.locator('#first').focus();
  await page.keyboard.press('Enter');
  await page.locator('#speed').selectOption('20');
  await page.locator('#play').focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('step-count').textContent.startsWith('Step 9 of 9'), null, { timeout: 10000 });
  assert.equal(await page.locator('#play').getAttribute('aria-label'), 'Play', 'stopped at the end');
  // the map: arrows move between blocks, Enter shows the bytes
  await page.locator('#heap-canvas').focus();
  await page.keyboard.press('Home');
  await page.keyboard.press('ArrowRight');
  const said = await page.locator('#map-focus').textContent();
  assert.match(said, /^Block 2 of \d+: (used|free) block at 0x[0-9a-f]+: \d+ bytes/);
  await page.keyboard.press('Enter');
  await page.getByRole('table', { name: /block at 0x/ }).waitFor();
  await page.keyboard.press('+');
  await page.keyboard.press('0');
  // the policy with the keyboard
  await page.locator('#policy').focus();
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction(() => /Policy next/.test(document.querySelector('[role="status"]').textContent), null, { timeout: 10000 });
  assert.deepEqual(problems, []);
  await context.close();
});

test('narrow and wide screens: no sideways scroll, screenshots saved', async () => {
  for (const [w, h] of [[360, 780], [1280, 900]]) {
    const { page, context, problems } = await openPage({ viewport: { width: w, height: h }, reducedMotion: w === 360 ? 'reduce' : 'no-preference' });
    await runStatement(page, 'wide = malloc(70000)');
    await runStatement(page, 'free(wide)');
    await runStatement(page, 'n = malloc(20)');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px at ${w}px`);
    const box = await page.locator('#heap-canvas').boundingBox();
    assert.ok(box.width <= w, `the map fits: ${box.width} at ${w}`);
    await page.screenshot({ path: path.join(RESULTS, `playground-${w}.png`), fullPage: true });
    assert.ok(fs.statSync(path.join(RESULTS, `playground-${w}.png`)).size > 10_000);
    assert.deepEqual(problems, []);
    await context.close();
  }
});
