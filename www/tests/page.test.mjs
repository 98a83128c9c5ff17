// End-to-end test of the playground page: real server, real wasm module,
// Debian's Chromium driven by playwright-core (no browser download).
//   node --test www/tests/          (pkg/ must be built: make build)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer, CSP } from '../../scripts/serve.mjs';
import { watchProblems } from './watch.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVE_ROOT = process.env.HEAPTALE_SERVE_ROOT || ROOT;
const RESULTS = path.join(ROOT, 'test-results');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const QUIET = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const BLOCK_RE = /^(used|free), 0x[0-9a-f]+, \d+ bytes$/;

let server, url, browser;

before(async () => {
  assert.ok(fs.existsSync(path.join(SERVE_ROOT, 'pkg', 'heaptale.js')),
    `${SERVE_ROOT}/pkg/heaptale.js is missing: build the wasm module first (make build)`);
  ({ server, url } = await startServer({ port: 0, root: SERVE_ROOT }));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: QUIET });
  fs.mkdirSync(RESULTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r()));
});

// A fresh page on the playground; records every console error, page error and
// failed request so that each test can insist there were none.
async function openPage(viewport = { width: 1100, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = watchProblems(page);
  await page.goto(url);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.documentElement.dataset.state),
    null, { timeout: 15000 });
  const state = await page.evaluate(() => document.documentElement.dataset.state);
  const status = page.getByRole('status');
  assert.equal(state, 'ready', `page did not load: ${await status.textContent()} ${problems.join('; ')}`);
  return { page, context, problems };
}

const blocksList = (page) => page.getByRole('list', { name: 'heap blocks' });
async function blockTexts(page) {
  return (await blocksList(page).getByRole('listitem').allTextContents()).map((t) => t.trim());
}
const countUsed = (texts) => texts.filter((t) => t.startsWith('used,')).length;

async function runStatement(page, stmt) {
  const box = page.getByRole('textbox', { name: /statement/i });
  const before = await page.getByRole('status').textContent();
  await box.fill(stmt);
  await box.press('Enter');
  // the status changes (or at least is rewritten) after each step
  await page.waitForFunction((prev) => {
    const s = document.querySelector('[role="status"]');
    return s && (s.textContent !== prev || s.classList.contains('flash') || s.classList.contains('is-error'));
  }, before, { timeout: 5000 }).catch(() => {});
  return (await page.getByRole('status').textContent()).trim();
}

test('the server sends the CSP and the right MIME types', async () => {
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('content-security-policy'), CSP);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  const wasm = await fetch(new URL('/pkg/heaptale_bg.wasm', url));
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  const js = await fetch(new URL('/pkg/heaptale.js', url));
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  const outside = await fetch(new URL('/Cargo.toml', url));
  assert.equal(outside.status, 404, 'only /www/ and /pkg/ are served');
  const html = await (await fetch(url)).text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline scripts (CSP)');
  assert.doesNotMatch(html, /<style|\sstyle=/i, 'no inline styles (CSP)');
});

test('the default script runs on load and the heap is listed', async () => {
  const { page, context, problems } = await openPage();
  const texts = await blockTexts(page);
  assert.ok(texts.length >= 2, `expected blocks after the default script, got ${JSON.stringify(texts)}`);
  for (const t of texts) assert.match(t, BLOCK_RE);
  assert.ok(countUsed(texts) >= 1, `a used block: ${texts}`);
  assert.ok(texts.some((t) => t.startsWith('free,')), `a free block: ${texts}`);
  const status = (await page.getByRole('status').textContent()).trim();
  assert.match(status, /malloc.*0x[0-9a-f]+/, `status names the last call and its address: ${status}`);
  // the policy select is populated from policies()
  const options = await page.getByRole('combobox', { name: /policy/i }).locator('option').count();
  assert.ok(options >= 1, 'policies() filled the select');
  // the heap map is drawn and described
  const label = await page.locator('canvas').getAttribute('aria-label');
  assert.match(label, /blocks/);
  const box = await page.locator('canvas').boundingBox();
  assert.ok(box && box.width > 100 && box.height > 50, `canvas size ${JSON.stringify(box)}`);
  assert.deepEqual(problems, []);
  await context.close();
});

test('malloc from the statement box adds a used block and names it', async () => {
  const { page, context, problems } = await openPage();
  const before = await blockTexts(page);
  const status = await runStatement(page, 'q = malloc(100)');
  assert.match(status, /malloc/, status);
  assert.match(status, /0x[0-9a-f]+/, status);
  assert.doesNotMatch(status, /error/i, status);
  const after = await blockTexts(page);
  assert.equal(countUsed(after), countUsed(before) + 1, `used blocks ${before} -> ${after}`);
  for (const t of after) assert.match(t, BLOCK_RE);
  const box = page.getByRole('textbox', { name: /statement/i });
  assert.equal(await box.inputValue(), '', 'the box is cleared after a good statement');
  assert.ok(await box.evaluate((el) => el === document.activeElement), 'focus stays in the box');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a bad statement shows an error and the page keeps working', async () => {
  const { page, context, problems } = await openPage();
  const before = await blockTexts(page);
  const status = await runStatement(page, 'free(zz)');
  assert.match(status, /error/i, `an error is shown: ${status}`);
  assert.match(status, /zz/, `the error names the statement: ${status}`);
  assert.deepEqual(await blockTexts(page), before, 'the heap is unchanged by the error');
  const ok = await runStatement(page, 'r = malloc(8)');
  assert.match(ok, /malloc/, ok);
  assert.match(ok, /0x[0-9a-f]+/, ok);
  assert.doesNotMatch(ok, /error/i, ok);
  assert.equal(countUsed(await blockTexts(page)), countUsed(before) + 1);
  assert.deepEqual(problems, []);
  await context.close();
});

test('switching policy rebuilds the heap under the new policy', async () => {
  const { page, context, problems } = await openPage();
  await runStatement(page, 'q = malloc(100)');
  const select = page.getByRole('combobox', { name: /policy/i });
  const values = await select.locator('option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(values.length >= 2, `several policies to choose from: ${values}`);
  const current = await select.inputValue();
  const other = values.find((v) => v !== current);
  await select.selectOption(other);
  await page.waitForFunction((p) => {
    const s = document.querySelector('[role="status"]').textContent;
    return s.includes(p) && !document.getElementById('statement').disabled;
  }, other, { timeout: 10000 });
  const status = (await page.getByRole('status').textContent()).trim();
  assert.doesNotMatch(status, /Error:/, status);
  assert.equal(await select.inputValue(), other);
  const texts = await blockTexts(page);
  assert.ok(countUsed(texts) >= 2, `the replayed script left used blocks: ${texts}`);
  for (const t of texts) assert.match(t, BLOCK_RE);
  const after = await runStatement(page, 's = malloc(40)');
  assert.match(after, /malloc.*0x[0-9a-f]+/, after);
  await page.screenshot({ path: path.join(RESULTS, 'page.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test('keyboard and narrow screens: visible focus, no sideways scroll at 360 px', async () => {
  const { page, context, problems } = await openPage({ width: 360, height: 780 });
  await page.keyboard.press('Tab');          // skip link
  await page.keyboard.press('Enter');        // jumps to the statement box
  await page.keyboard.press('Tab');
  await page.keyboard.press('Shift+Tab');
  const focused = await page.evaluate(() => document.activeElement?.id);
  assert.equal(focused, 'statement');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'focus is visible');
  await page.keyboard.type('k = malloc(12)');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /malloc.*0x/.test(document.querySelector('[role="status"]').textContent),
    null, { timeout: 5000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px at 360px`);
  await page.screenshot({ path: path.join(RESULTS, 'page-360.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});
