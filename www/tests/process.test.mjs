// The "Process (simulated)" section, used as a user would: run a script (with the
// program's own writes), read the first-touch faults, walk an address level by
// level (animated, or all at once under reduced motion) and check every level
// against the address's bits, scrub back and see the faults and the mappings
// undone, compare mode with a process per heap, switch the paging mode, and
// screenshots at 1280 and 360 px.
//   node --test www/tests/process.test.mjs   (pkg/ must be built: make build)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { openPage, idle, runStatement, sliderKey, RESULTS, ROOT } from './harness.mjs';

const counter = (page, name) => page.locator(`#vm-counters dd[data-counter="${name}"]`).textContent();
const faults = async (page) => Number((await counter(page, 'minor faults')).replace(/,/g, ''));

async function runScript(page, text, steps = 3) {
  await page.getByRole('textbox', { name: /^Script/ }).fill(text);
  await page.getByRole('button', { name: 'Run script' }).click();
  await page.waitForFunction((n) => document.getElementById('step-count').textContent.startsWith(`Step ${n} of ${n}`), steps, { timeout: 20000 });
  await idle(page);
}

/** Walks `addr` from the form; waits for the walk to be drawn to its end. */
async function walk(page, addr) {
  await page.getByRole('textbox', { name: 'Address to walk' }).fill(addr);
  await page.getByRole('button', { name: 'Walk' }).click();
  await page.waitForFunction((a) => {
    const p = document.getElementById('vm-walk-path');
    return p && p.getAttribute('aria-label') === `page walk of ${a}, level by level` && p.dataset.done === 'true';
  }, addr, { timeout: 10000 });
  return {
    steps: await page.locator('#vm-walk-path li').evaluateAll((lis) => lis.map((li) => ({
      cls: li.className, label: li.querySelector('.walk-label').textContent, text: li.querySelector('.walk-text').textContent,
    }))),
    fields: await page.locator('.addr-bits .bitname').allTextContents(),
    result: await page.locator('#vm-walk-result').textContent(),
  };
}

const SCRIPT = 'a = malloc(24)\nb = malloc(5000)\nwrite(b + 4990, "hello")\n';

test('process: walk an address level by level; scrub back and see the faults and mappings undone', async () => {
  const { page, context, problems } = await openPage({ viewport: { width: 1280, height: 900 } });
  try {
    await idle(page);
    await runScript(page, SCRIPT);
    // The heap starts on a 64 KiB boundary: a at start + 8, b's block right after a's 32 bytes.
    const start = await page.evaluate(() => Number(document.querySelector('#vm-grid .page').dataset.addr));
    assert.equal(start % 65536, 0);
    const b = start + 32 + 8;
    const target = b + 4990;
    assert.equal(Math.floor(target / 4096), Math.floor(start / 4096) + 1, 'the write lands on the heap\'s second page');
    // malloc(24): the header's page faults in; malloc(5000): its header is on the same page;
    // the write is the second page's first touch.
    assert.equal(await faults(page), 2);
    const notes = await page.getByRole('list', { name: 'simulated paging this step' }).getByRole('listitem').allTextContents();
    const hx = (v) => `0x${v.toString(16)}`;
    assert.equal(notes.length, 1, notes.join('\n'));
    assert.match(notes[0], new RegExp(`^Simulated: writing 5 bytes at ${hx(target)} touched page ${hx(Math.floor(target / 4096))}: page fault \\(minor: first touch\\), frame 0x[0-9a-f]+$`));
    const frame = Number.parseInt(/frame (0x[0-9a-f]+)$/.exec(notes[0])[1], 16);
    assert.match(await page.locator('#status').textContent(), /write\(b \+ 4990, "hello"\) done\. The program wrote the text into its block's payload: real bytes in the heap/);

    // Walk the written address, level by level.
    const addr = hx(target);
    await page.getByRole('textbox', { name: 'Address to walk' }).fill(addr);
    await page.getByRole('button', { name: 'Walk' }).click();
    // Animated: at first only CR3 is shown, the rest comes one level at a time.
    await page.locator('#vm-walk-path').waitFor();
    assert.equal(await page.locator('#vm-walk-path').getAttribute('data-done'), 'false');
    assert.equal(await page.locator('#vm-walk-path li.walk-pending').count(), 3, 'PDE, PTE and the frame wait their turn');
    assert.equal(await page.locator('#vm-walk-path li.walk-current .walk-label').textContent(), 'CR3');
    const w = await walk(page, addr);
    assert.equal(await page.locator('#vm-walk-path li.walk-pending').count(), 0);
    const dir = target >>> 22, tab = (target >>> 12) & 0x3ff, off = target & 0xfff;
    assert.deepEqual(w.fields, [`directory (10) = ${dir}`, `table (10) = ${tab}`, `offset (12) = ${hx(off)}`]);
    assert.deepEqual(w.steps.map((s) => s.label), ['CR3', `PDE ${dir}`, `PTE ${tab}`, 'frame']);
    assert.deepEqual(w.steps.map((s) => s.cls.split(' ')[1]), ['cr3', 'f0', 'f1', 'fo'], 'each level in its field\'s colour');
    const root = Number.parseInt(/frame (0x[0-9a-f]+)$/.exec(w.steps[0].text)[1], 16);
    // The PDE sits in the directory (CR3's frame) at index * 4 and points at the page table.
    assert.match(w.steps[1].text, new RegExp(`^entry ${dir} of the page directory at ${hx(root * 4096 + dir * 4)} = 0x[0-9a-f]+ → frame 0x[0-9a-f]+ \\(present, writable, user, accessed\\)$`));
    const table = Number.parseInt(/→ frame (0x[0-9a-f]+)/.exec(w.steps[1].text)[1], 16);
    // The PTE sits in that table at index * 4, points at the frame the fault gave, and is dirty.
    assert.match(w.steps[2].text, new RegExp(`^entry ${tab} of the page table at ${hx(table * 4096 + tab * 4)} = 0x[0-9a-f]+ → frame ${hx(frame)} \\(present, writable, user, accessed, dirty\\)$`));
    assert.equal(w.steps[3].text, `frame ${hx(frame)} + offset ${hx(off)} = physical ${hx(frame * 4096 + off)}`);
    assert.equal(w.result, `Physical address ${hx(frame * 4096 + off)} (frame ${hx(frame)}, offset ${hx(off)}).`);
    // The same entries as a table, for those who prefer one.
    await page.getByText('The entries, as a table').click();
    assert.deepEqual(await page.getByRole('table', { name: new RegExp(`Walk of ${addr}`) }).locator('tbody tr th').allTextContents(), ['0 PDE', '1 PTE']);
    await page.screenshot({ path: path.join(RESULTS, 'process-walk-1280.png'), fullPage: false, clip: await page.locator('#vm-walk').boundingBox() });

    // Scrub back to step 0: no faults, no page tables: the walk stops at the directory.
    assert.equal(await sliderKey(page, 'Home'), 0);
    assert.equal(await faults(page), 0);
    const w0 = await walk(page, addr);
    assert.deepEqual(w0.steps.map((s) => s.label), ['CR3', `PDE ${dir}`, 'fault']);
    assert.match(w0.steps[1].text, /\(not present\)$/);
    assert.match(w0.result, /^Fault at level 0 \(PDE\): .* in no area: a segmentation fault\.$/);
    // Step 2: the header's page is in, so the directory entry exists; the written page is
    // inside the heap (below the break) but untouched: no frame yet.
    await sliderKey(page, 'ArrowRight');
    assert.equal(await sliderKey(page, 'ArrowRight'), 2);
    assert.equal(await faults(page), 1);
    const w2 = await walk(page, addr);
    assert.deepEqual(w2.steps.map((s) => s.label), ['CR3', `PDE ${dir}`, `PTE ${tab}`, 'fault']);
    assert.match(w2.steps[1].text, new RegExp(`→ frame ${hx(table)} \\(present, writable, user, accessed\\)$`), 'the same page table as before');
    assert.match(w2.result, /^Fault at level 1 \(PTE\): .* the address is in the heap area: a first touch would be a minor fault\.$/);
    // Forward again: the same fault, the same frame.
    assert.equal(await sliderKey(page, 'End'), 3);
    assert.equal(await faults(page), 2);
    const w3 = await walk(page, addr);
    assert.equal(w3.result, w.result);
    // The program's bytes are real: the hex view of a's block shows "hello" in its payload,
    // 8 bytes after the header; the write touched a resident page: no new fault.
    await runStatement(page, 'write(a, "hello")');
    assert.equal(await faults(page), 2);
    const aBlock = `used, ${hx(start)}, 32 bytes`;
    await page.locator('#blocks li', { hasText: aBlock }).click();
    await page.getByRole('table', { name: new RegExp(`Used block at ${hx(start)}`) }).waitFor();
    const bytes = await page.locator('#hex .byte').allTextContents();
    assert.deepEqual(bytes.slice(8, 13), ['68', '65', '6c', '6c', '6f']);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('process: a heap that cannot grow is sbrk failing; the frames other processes hold come from the link', async () => {
  // A fixed heap of 4 KiB (OSTEP's -S): it never grows.
  const { page, context, problems } = await openPage({ hash: '#policy=first&heap-size=4096&others=75' });
  try {
    await idle(page);
    assert.equal(await page.locator('#heap-size').inputValue(), '4096', 'the link is read whole, the process knob with the rest');
    assert.equal(await page.getByRole('combobox', { name: 'Frames held by other processes' }).inputValue(), '75');
    assert.match(await page.locator('#vm-frames-summary').textContent(), /^4,096 frames of 4 KiB: \d[\d,]* free, 491 held by the kernel, 3,072 by other processes, /);
    assert.match(await page.locator('#vm-knob-facts').textContent(), /other processes 75 %/);
    const said = await runStatement(page, 'big = malloc(5000)');
    assert.match(said, /out of memory/);
    const notes = await page.getByRole('list', { name: 'simulated paging this step' }).getByRole('listitem').allTextContents();
    assert.equal(notes.length, 1, notes.join('\n'));
    assert.match(notes[0], /^Simulated: a request of 5000 bytes needed more heap and the heap could not grow: sbrk fails with ENOMEM and returns \(void \*\) -1, the break stays at 0x[0-9a-f]+, and malloc returns NULL$/);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('process: under reduced motion the walk is drawn at once', async () => {
  const { page, context, problems } = await openPage({ reducedMotion: 'reduce' });
  try {
    await idle(page);
    const start = await page.evaluate(() => Number(document.querySelector('#vm-grid .page').dataset.addr));
    await page.getByRole('textbox', { name: 'Address to walk' }).fill(`0x${(start + 8).toString(16)}`);
    await page.getByRole('button', { name: 'Walk' }).click();
    await page.locator('#vm-walk-path').waitFor();
    assert.equal(await page.locator('#vm-walk-path').getAttribute('data-done'), 'true');
    assert.equal(await page.locator('#vm-walk-path li.walk-pending').count(), 0);
    assert.equal(await page.locator('#vm-walk-path li').count(), 4);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('process: compare mode gives each heap its own process, stepping together', async () => {
  const { page, context, problems } = await openPage();
  try {
    await idle(page);
    await page.getByRole('checkbox', { name: /^buddy/ }).check();
    await page.waitForFunction(() => document.querySelectorAll('.compare-card').length === 2);
    await idle(page);
    await runScript(page, SCRIPT);
    const cards = page.locator('.compare-card');
    const cardFaults = async (k) => Number((await cards.nth(k).locator('dd[data-counter="minor faults"]').textContent()).replace(/,/g, ''));
    assert.equal(await cards.nth(0).getByRole('group', { name: /^simulated process under / }).count(), 1);
    assert.equal(await cards.nth(1).getByRole('group', { name: 'simulated process under buddy' }).count(), 1);
    // The first card is the heap above: its process is the Process section's.
    assert.equal(await cardFaults(0), 2);
    assert.equal(await cardFaults(0), await faults(page));
    // The buddy heap has its own: a power-of-two block for each request, and the same write.
    const buddy = await cardFaults(1);
    assert.ok(buddy >= 2, `buddy faults ${buddy}`);
    const grid = await cards.nth(1).getByRole('img', { name: /^The heap’s pages under buddy: / }).getAttribute('aria-label');
    assert.match(grid, /(\d+) resident and dirty/);
    assert.ok(Number(/(\d+) resident and dirty/.exec(grid)[1]) >= 2, grid);
    assert.match(await cards.nth(1).locator('.process-card-notes').textContent(), /Simulated: writing 5 bytes at 0x[0-9a-f]+ touched page/);
    // Scrubbing moves every process: back to the start, nothing touched anywhere.
    await sliderKey(page, 'Home');
    assert.deepEqual([await cardFaults(0), await cardFaults(1)], [0, 0]);
    await sliderKey(page, 'ArrowRight');
    assert.equal(await cardFaults(0), 1);
    await sliderKey(page, 'End');
    assert.deepEqual([await cardFaults(0), await cardFaults(1)], [2, buddy]);
    // A knob changes every heap's process: x86-64 pages the same accesses with more tables.
    const tables = async (k) => Number((await cards.nth(k).locator('dd[data-counter="page tables"]').textContent()).split(' ')[0]);
    const before = [await tables(0), await tables(1)];
    await page.getByRole('combobox', { name: 'Paging mode' }).selectOption('x86-64');
    await page.waitForFunction(() => document.querySelectorAll('.compare-card dd[data-counter="page tables"]').length === 2);
    assert.deepEqual([await cardFaults(0), await cardFaults(1)], [2, buddy], 'the same first touches');
    const after = [await tables(0), await tables(1)];
    assert.ok(after[0] > before[0] && after[1] > before[1], `page tables ${before} -> ${after}`);
    await page.screenshot({ path: path.join(RESULTS, 'process-compare-1280.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('process: faults on first touch, undone by stepping back; walk; paging mode; screenshots', async () => {
  const { page, context, problems } = await openPage({ viewport: { width: 1280, height: 900 } });
  try {
    await idle(page);
    const section = page.getByRole('region', { name: 'Process (simulated)' });
    await section.waitFor();
    await runScript(page, 'a = malloc(24)\nb = malloc(5000)\nc = malloc(30000)\n');
    const atEnd = await faults(page);
    assert.ok(atEnd >= 2, `first touches fault: ${atEnd}`);
    const notes = await page.getByRole('list', { name: 'simulated paging this step' }).getByRole('listitem').allTextContents();
    assert.ok(notes.some((t) => /Simulated: .*page fault/.test(t)), notes.join('\n'));
    // Step back: the counters return; forward: the same again.
    const back = await sliderKey(page, 'Home');
    assert.equal(back, 0);
    assert.equal(await faults(page), 0);
    await sliderKey(page, 'End');
    assert.equal(await faults(page), atEnd);
    // The page grid: focus a page and read it.
    const first = page.locator('#vm-grid .page').first();
    await first.focus();
    assert.match(await page.locator('#vm-page-info').textContent(), /resident in frame 0x[0-9a-f]+/);
    // Arrow keys move between pages and read each.
    await page.keyboard.press('ArrowRight');
    assert.match(await page.locator('#vm-page-info').textContent(), /^page 0x[0-9a-f]+ at 0x[0-9a-f]+: /);
    assert.equal(await page.evaluate(() => document.activeElement.dataset.i), '1');
    // Walk an address: two levels in x86, PDE then PTE.
    const a = await page.evaluate(() => document.querySelector('#vm-grid .page').dataset.addr);
    const addr = `0x${(Number(a) + 8).toString(16)}`;
    await page.getByRole('textbox', { name: 'Address to walk' }).fill(addr);
    await page.getByRole('button', { name: 'Walk' }).click();
    await page.waitForFunction(() => document.getElementById('vm-walk-path')?.dataset.done === 'true');
    const rows = await page.locator('.walk-table tbody tr th').allTextContents();
    assert.deepEqual(rows, ['0 PDE', '1 PTE']);
    assert.match(await page.locator('#vm-walk-result').textContent(), /Physical address 0x[0-9a-f]+8 /);
    const fields = await page.locator('.addr-bits .bitname').allTextContents();
    assert.equal(fields.length, 3);
    assert.match(fields[0], /directory \(10\)/);
    await page.screenshot({ path: path.join(RESULTS, 'process-1280.png'), fullPage: true });
    // x86-64: four levels; the link keeps it.
    await page.getByRole('combobox', { name: 'Paging mode' }).selectOption('x86-64');
    await page.getByRole('button', { name: 'Walk' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.walk-table tbody tr').length === 4);
    assert.deepEqual(await page.locator('.walk-table tbody tr th').allTextContents(), ['0 PML4E', '1 PDPTE', '2 PDE', '3 PTE']);
    assert.equal(await faults(page), atEnd, 'the same accesses fault the same in either mode');
    await page.waitForFunction(() => location.hash.includes('vm=x86-64'), null, { timeout: 5000 });
    // Step back once and walk an address above the break: a fault, not a crash.
    await runStatement(page, 'free(c)');
    await page.getByRole('textbox', { name: 'Address to walk' }).fill('0x7000000');
    await page.getByRole('button', { name: 'Walk' }).click();
    await page.waitForFunction(() => /Fault at level/.test(document.getElementById('vm-walk-result')?.textContent || ''));
    await page.getByRole('textbox', { name: 'Address to walk' }).fill('nonsense');
    await page.getByRole('button', { name: 'Walk' }).click();
    await page.getByText(/the address must be a whole number/).waitFor();
    // Emptying the heap empties the process too.
    await page.getByRole('button', { name: 'Empty heap' }).click();
    await page.waitForFunction(() => document.getElementById('step-count').textContent.startsWith('Step 0 of 0'), null, { timeout: 10000 });
    assert.equal(await faults(page), 0);
    assert.equal(await page.locator('#vm-error').isHidden(), true);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
  // A bad knob in a link is named, and the defaults used.
  const bad = await openPage({ hash: '#policy=first&vm=arm' });
  try {
    await idle(bad.page);
    assert.match(await bad.page.locator('#vm-link-note').textContent(), /paging mode "arm"/);
    assert.equal(await bad.page.getByRole('combobox', { name: 'Paging mode' }).inputValue(), 'x86');
    assert.ok(await faults(bad.page) > 0);
  } finally {
    await bad.context.close();
  }
  // A link with the knobs restores them; 360 px wide works.
  const small = await openPage({ viewport: { width: 360, height: 800 }, hash: '#policy=first&vm=x86-64&repl=fifo&tlb=16x4' });
  try {
    await idle(small.page);
    assert.equal(await small.page.getByRole('combobox', { name: 'Paging mode' }).inputValue(), 'x86-64');
    assert.equal(await small.page.getByRole('combobox', { name: 'Page replacement' }).inputValue(), 'fifo');
    const section = small.page.getByRole('region', { name: 'Process (simulated)' });
    await section.scrollIntoViewIfNeeded();
    const overflow = await small.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no sideways scrolling at 360 px (${overflow} px)`);
    await small.page.screenshot({ path: path.join(RESULTS, 'process-360.png'), fullPage: true });
    await section.screenshot({ path: path.join(RESULTS, 'process-section-360.png') });
    assert.deepEqual(small.problems, []);
  } finally {
    await small.context.close();
  }
});

test('process: OSTEP’s paging exercise from its knobs, the script’s output for the same seed', async () => {
  const { page, context, problems } = await openPage();
  try {
    await idle(page);
    const out = page.locator('#vm-ostep-out');
    // The script's defaults: 16k of address space in 4k pages: four entries.
    assert.match(await out.textContent(), /^Page Table \(from entry 0 down to the max size\)\n(  \[ +\d\]  0x[0-9a-f]{8}\n){4}\nVirtual Address Trace\n(  VA 0x[0-9a-f]{8} \(decimal: +\d+\) --> PA or invalid address\?\n){5}$/);
    // paging-linear-translate.py -a 32k -p 1m -P 1k -u 75 -n 6 -s 1 -v -c, line for line.
    await page.getByRole('combobox', { name: 'Address space (-a)' }).selectOption('32768');
    await page.getByRole('combobox', { name: 'Page size (-P)' }).selectOption('1024');
    await page.getByRole('combobox', { name: 'Physical memory (-p)' }).selectOption('1048576');
    for (const [name, v] of [['Percent valid (-u)', '75'], ['Addresses (-n)', '6'], ['Seed (-s)', '1']]) {
      const box = page.getByRole('spinbutton', { name });
      await box.fill(v);
      await box.dispatchEvent('change');
    }
    await page.getByRole('checkbox', { name: 'Show the answers (-c)' }).check();
    const want = fs.readFileSync(path.join(ROOT, 'tests/vm_ostep_seed1.txt'), 'utf8');
    assert.equal(await out.textContent(), want);
    // A knob the script refuses is refused in words, and the last exercise stays.
    await page.getByRole('combobox', { name: 'Physical memory (-p)' }).selectOption('16384');
    await page.getByRole('alert').filter({ hasText: /ostepPaging: bad setting: / }).waitFor();
    assert.equal(await out.textContent(), want);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('process: the mmap threshold says how it maps onto linear memory', async () => {
  const { page, context, problems } = await openPage();
  try {
    await idle(page);
    assert.match(await page.locator('#vm-mmap-help').textContent(), /WebAssembly has one linear memory and no mmap, so heaptale’s allocator still carves such a block from its heap, and its real bytes stay there/);
    await page.getByRole('checkbox', { name: /mmap threshold/ }).check();
    await page.waitForFunction(() => location.hash.includes('mmap=on'), null, { timeout: 5000 });
    const said = await runStatement(page, 'big = malloc(200000)');
    const big = Number.parseInt(/returned (0x[0-9a-f]+)/.exec(said)[1], 16);
    const notes = await page.getByRole('list', { name: 'simulated paging this step' }).getByRole('listitem').allTextContents();
    // The heap's own break still moves (the real block is carved from it), then the mapping.
    assert.match(notes[0], /^Simulated: the break moved from 0x[0-9a-f]+ to 0x[0-9a-f]+$/);
    const mapped = notes.find((t) => t.includes('mmap threshold')) || '';
    assert.match(mapped, new RegExp(`^Simulated: 200000 bytes is at or above the mmap threshold \\(131072 bytes\\): glibc would mmap 200704 bytes at (0x[0-9a-f]+) \\(payload at 0x[0-9a-f]+\\); the real block stays at 0x${big.toString(16)} in linear memory$`));
    // 200,000 bytes and glibc's 16-byte chunk header, in whole 4 KiB pages: 49 pages.
    const at = /glibc would mmap 200704 bytes at (0x[0-9a-f]+)/.exec(mapped)[1];
    const layout = await page.locator('.vm-layout').textContent();
    assert.ok(layout.includes(`mmapped blockreal bytes at 0x${big.toString(16)} in linear memory (the heap); drawn as glibc would map it at ${at} in the mmap region (196 KiB)`), layout);
    // Only the chunk's header page was touched (malloc wrote glibc's chunk header); free
    // unmaps the mapping and the threshold rises to the chunk's size (glibc's dynamic
    // threshold: 200,704 mapped bytes less the 8 before the chunk).
    await runStatement(page, 'free(big)');
    const freed = await page.getByRole('list', { name: 'simulated paging this step' }).getByRole('listitem').allTextContents();
    assert.ok(freed.some((t) => t === `Simulated: free: glibc would munmap the 200704 bytes at ${at}, freeing 1 resident page; the mmap threshold rises to 200696 bytes`), freed.join('\n'));
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
