// The heaptale policy as a user meets it: heaptale::Allocator's own setup (TLSF's
// size classes, quick lists, the top block kept apart) picked from the policy
// list, the narration of its quick lists, a quick list's block taken back, a
// double free refused, the top block in the free-lists panel, a link, the
// library's scenario; and how the page reads the engine's contract (list
// numbers, the quick bit, the events) checked without a browser.
//   node --test www/tests/heaptale.test.mjs          (pkg/ must be built: make build)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, blockTexts, status, idle, runStatement, hexOf, sliderKey } from './harness.mjs';
import { blockAt, blockState, listRank, quickBlockSize, topBlock, TOP_LIST, QUICK_LIST } from '../js/engine.js';
import { narrate } from '../js/narrate.js';

const lists = (page) => page.locator('#free-lists h3').allTextContents();
const listEntries = (page, name) => page.getByRole('list', { name, exact: true }).getByRole('listitem').allTextContents();
const detail = async (page) => (await page.locator('#status .status-detail').textContent()).trim();
const returned = (s) => hexOf(s.replace(/^Step \d+[^:]*: /, ''));

/** A fresh page with an empty heap under the heaptale policy, picked from the list. */
async function heaptalePage() {
  const opened = await openPage();
  const { page } = opened;
  await page.getByRole('button', { name: 'Empty heap' }).click();
  await page.waitForFunction(() => document.getElementById('step-count').textContent.startsWith('Step 0 of 0'), null, { timeout: 10000 });
  await idle(page);
  await page.getByRole('combobox', { name: /policy/i }).selectOption('heaptale');
  await page.waitForFunction(() => /Policy heaptale/.test(document.querySelector('[role="status"]').textContent), null, { timeout: 10000 });
  await idle(page);
  return opened;
}

test('heaptale: a freed small block waits in a quick list, comes back at once, and a double free is refused', async () => {
  const { page, context, problems } = await heaptalePage();
  try {
    assert.match(await page.locator('#policy-description').textContent(), /quick lists/, 'the engine describes the policy');
    const a = returned(await runStatement(page, 'a = malloc(40)'));
    const b = returned(await runStatement(page, 'b = malloc(40)'));
    await runStatement(page, 'c = malloc(2000)');
    assert.match(await runStatement(page, 'free(a)'), /free\(a\) done/);
    const said = await detail(page);
    assert.match(said, /went onto quick list 3 \(48-byte blocks\)/, said);
    assert.match(said, /stays marked used/, said);
    assert.match(said, /tcache/, said);
    assert.doesNotMatch(said, /merged/, said);
    // no merge: a's block is not a free block anywhere
    const texts = await blockTexts(page);
    assert.match(texts[0], new RegExp(`^used.*, 0x${(a - 8).toString(16)}, 48 bytes$`), texts.join(' | '));
    assert.equal(texts.filter((t) => t.startsWith('free')).length, 0, texts.join(' | '));

    // the next malloc of that size takes a's block back at once
    const d = await runStatement(page, 'd = malloc(40)');
    assert.equal(returned(d), a, d);
    const took = await detail(page);
    assert.match(took, /came off quick list 3 \(48-byte blocks\) at once/, took);
    assert.match(took, /no search and no split/, took);

    // a double free of a block waiting in a quick list is refused
    await runStatement(page, 'free(b)');
    const twice = await runStatement(page, 'free(b)');
    assert.match(twice, /double free/, twice);
    assert.match(await detail(page), /freed already/);

    // the last block, freed, is the top block: kept apart from the size classes
    await runStatement(page, 'free(c)');
    assert.match(await detail(page), /top block/);
    const titles = await lists(page);
    assert.ok(titles.includes('Top block (kept apart, carved last) — 1 block'), titles.join(' | '));
    const top = await listEntries(page, 'Top block (kept apart, carved last)');
    assert.equal(top.length, 1);
    assert.equal(hexOf(top[0]), b + 40, 'c\'s block, after b');
    // and a request no size class can serve is cut from it
    assert.equal(returned(await runStatement(page, 'e = malloc(200)')), b + 48);
    assert.match(await detail(page), /cut it from the top block/);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('heaptale: the quick list in the free-lists panel, and the block said and drawn as waiting in it', async () => {
  const { page, context, problems } = await heaptalePage();
  try {
    const a = returned(await runStatement(page, 'a = malloc(40)'));
    await runStatement(page, 'b = malloc(40)');
    await runStatement(page, 'c = malloc(2000)');
    await runStatement(page, 'free(a)');
    const titles = await lists(page);
    assert.ok(titles.includes('Quick list 3: 48-byte blocks (freed, still marked used) — 1 block'), titles.join(' | '));
    const quick = await listEntries(page, 'Quick list 3: 48-byte blocks (freed, still marked used)');
    assert.deepEqual(quick, [`0x${(a - 8).toString(16)}, 48 bytes`]);
    assert.equal((await blockTexts(page))[0], `used (in quick list), 0x${(a - 8).toString(16)}, 48 bytes`);
    await page.locator('#heap-canvas').focus();
    await page.keyboard.press('Home');
    assert.match(await page.locator('#map-focus').textContent(), /^Block 1 of \d+: used block in quick list at 0x[0-9a-f]+: 48 bytes/);
    assert.match(await page.locator('#heap-canvas').getAttribute('aria-label'), /1 of them in quick lists/);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('heaptale: the policy survives a link, and the library scenario opens under it', async () => {
  const { page, context, problems } = await openPage({ hash: '#policy=heaptale&script=bYSA9IG1hbGxvYyg0MCkKZnJlZShhKQo' }); // a = malloc(40)\nfree(a)\n
  try {
    await idle(page);
    assert.equal(await page.getByRole('combobox', { name: /policy/i }).inputValue(), 'heaptale');
    assert.match(await detail(page), /went onto quick list 3/);
    await page.waitForFunction(() => /policy=heaptale/.test(location.hash));
    const hash = await page.evaluate(() => location.hash);
    const again = await openPage({ hash });
    try {
      await idle(again.page);
      assert.equal(await again.page.getByRole('combobox', { name: /policy/i }).inputValue(), 'heaptale');
      assert.deepEqual(await blockTexts(again.page), await blockTexts(page));
      assert.deepEqual(again.problems, []);
    } finally {
      await again.context.close();
    }
    // the library's scenario: its last step cuts from the top block, the one before merges the quick lists back
    await page.getByRole('combobox', { name: /scenario or trace/i }).selectOption({ label: 'heaptale\u2019s quick lists and top block' });
    await page.getByRole('button', { name: 'Open', exact: true }).click();
    await page.waitForFunction(() => /Opened/.test(document.querySelector('[role="status"]').textContent), null, { timeout: 20000 });
    await idle(page);
    assert.equal(await page.getByRole('combobox', { name: /policy/i }).inputValue(), 'heaptale');
    assert.match(await status(page), /Step 10 \(line 13\): e = malloc\(200\) returned 0x/);
    assert.match(await detail(page), /cut it from the top block/);
    await sliderKey(page, 'ArrowLeft');
    assert.match(await status(page), /Step 9 \(line 11\): free\(big\) done\./);
    assert.match(await detail(page), /the top block.*quick lists were merged back into the size classes \(2 blocks, 1 merge with free neighbours\): a large free area formed/);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('the page reads the contract: list numbers, the quick bit, the events (no browser)', () => {
  // blocksPacked: bit 30 marks a block waiting in a quick list, the header is the low bits
  const packed = Uint32Array.of(0x1000, 48, 0, 0x80000000 | 0x40000000 | 8, 0x1030, 64, 50, 0x80000000 | 8, 0x1070, 200, 0, 8);
  assert.deepEqual([0, 1, 2].map((i) => blockState(blockAt(packed, i))), ['used (in quick list)', 'used', 'free']);
  assert.deepEqual([0, 1, 2].map((i) => blockAt(packed, i).header), [8, 8, 8]);
  // quick list q's blocks: round_up(header + 12, align) + q * align
  assert.equal(quickBlockSize(3, 8, 8), 48);
  assert.equal(quickBlockSize(0, 4, 8), 16);
  assert.equal(quickBlockSize(14, 8, 8), 136);
  assert.equal(quickBlockSize(1, 8, 16), 48);
  // the panel's order: size classes, the top block, the quick lists
  assert.deepEqual([QUICK_LIST + 3, TOP_LIST, 0x45].sort((x, y) => listRank(x) - listRank(y)), [0x45, TOP_LIST, QUICK_LIST + 3]);
  assert.equal(topBlock(Uint32Array.of(0x45, 0x2000, 80, TOP_LIST, 0x3000, 900, QUICK_LIST + 3, 0x1000, 48)), 0x3000);
  assert.equal(topBlock(Uint32Array.of(0x45, 0x2000, 80, QUICK_LIST + 3, 0x1000, 48)), null);
  assert.equal(topBlock(new Uint32Array(0)), null);
  // narration of a consolidation before growth, and after a request
  const ctx = { policy: 'heaptale', header: 8, coalesce: true, memoryBytes: 0x20000, steps: 3, top: null };
  const grew = narrate({ step: 3, text: 'x = malloc(3000)', addr: 0x1108 }, [
    { kind: 'consolidate', blocks: 2 }, { kind: 'coalesce', block: 0x1000, absorbed: 0x1030, size: 96 },
    { kind: 'grow', old_brk: 0x1100, new_brk: 0x1cc0, pages: 1 }, { kind: 'alloc', block: 0x1100, size: 3008, request: 3000, probes: 1 },
  ], ctx);
  assert.match(grew.detail, /quick lists were merged back into the size classes \(2 blocks, 1 merge with free neighbours\): the heap was about to grow/, grew.detail);
  const freed = narrate({ step: 2, text: 'free(p)' }, [{ kind: 'free', block: 0x1000, size: 48 }, { kind: 'quick-free', block: 0x1000, size: 48, list: 3 }], ctx);
  assert.equal(freed.detail.startsWith('The 48-byte block at 0x1000 went onto quick list 3 (48-byte blocks).'), true, freed.detail);
});
