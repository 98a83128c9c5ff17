// The "Process (simulated)" section, used as a user would: run a script, read the
// first-touch faults, step back and see them undone, walk an address level by
// level, switch the paging mode, and screenshots at 1280 and 360 px.
//   node --test www/tests/process.test.mjs   (pkg/ must be built: make build)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openPage, idle, runStatement, sliderKey, RESULTS } from './harness.mjs';

const counter = (page, name) => page.locator(`#vm-counters dd[data-counter="${name}"]`).textContent();
const faults = async (page) => Number((await counter(page, 'minor faults')).replace(/,/g, ''));

async function runScript(page, text) {
  await page.getByRole('textbox', { name: /^Script/ }).fill(text);
  await page.getByRole('button', { name: 'Run script' }).click();
  await page.waitForFunction(() => document.getElementById('step-count').textContent.startsWith('Step 3 of 3'), null, { timeout: 20000 });
  await idle(page);
}

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
    const table = page.getByRole('table', { name: new RegExp(`Walk of ${addr}`) });
    await table.waitFor();
    const rows = await table.locator('tbody tr th').allTextContents();
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
