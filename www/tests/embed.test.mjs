// The iframe mode end to end: a host page (www/tests/fixtures/host.html) frames
// www/embed.html with a share-link fragment made by the playground's own
// encoder; the frame restores that state, posts its height, and links to the
// playground with the same state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { env, RESULTS, BLOCK_RE } from './harness.mjs';
import { encodeState, decodeState } from '../js/url.js';

const SCRIPT = 'a = malloc(100)\nb = malloc(8)\nfree(a)\nc = malloc(40)\n';

async function host(params) {
  const context = await env.browser.newContext({ viewport: { width: 900, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  await page.goto(`${env.url}tests/fixtures/host.html${params}`);
  const frame = page.frameLocator('iframe[title="heaptale heap"]');
  await page.waitForFunction(() => {
    const w = document.querySelector('iframe').contentDocument?.querySelector('heap-tale');
    return w && (w.state === 'ready' || w.state === 'error');
  }, null, { timeout: 20000 });
  return { page, context, problems, frame };
}

const blockShape = async (frame) => {
  const texts = (await frame.getByRole('list', { name: 'heap blocks', exact: true }).getByRole('listitem').allTextContents()).map((t) => t.trim());
  for (const t of texts) assert.match(t, BLOCK_RE);
  return texts.map((t) => { const [s, , n] = t.split(', '); return `${s} ${Number.parseInt(n, 10)}`; });
};

test('the frame restores the state of a share link, posts its height and links to the playground', async () => {
  const hash = await encodeState({ config: { policy: 'best', header: 8, align: 8 }, source: { text: SCRIPT }, step: 3 });
  const { page, context, problems, frame } = await host(`${hash}&title=${encodeURIComponent('Best fit keeps the big hole')}&panels=heap,free-lists`);
  // step 3 of 4 under best fit: a's 112-byte block is free, b is used
  assert.deepEqual(await blockShape(frame), ['free 112', 'used 24']);
  assert.equal(await frame.getByRole('slider', { name: 'step' }).getAttribute('aria-valuetext'), 'step 3 of 4');
  assert.equal(await frame.getByRole('heading', { level: 1 }).textContent(), 'Best fit keeps the big hole');
  assert.match(await frame.locator('heap-tale').evaluate((e) => e.shadowRoot.querySelector('.settings').textContent), /^policy best · /);
  assert.equal(await frame.getByRole('list', { name: 'figures' }).count(), 0, 'panels=heap,free-lists leaves the figures out');
  // the height: posted, and equal to the frame's document
  await page.waitForFunction(() => window.__messages.some((m) => m.type === 'heaptale:height'));
  const { posted, doc, iframe } = await page.evaluate(() => {
    const f = document.querySelector('iframe');
    const hs = window.__messages.filter((m) => m.type === 'heaptale:height');
    return { posted: hs[hs.length - 1].height, doc: Math.ceil(f.contentDocument.documentElement.getBoundingClientRect().height), iframe: f.clientHeight };
  });
  assert.equal(posted, doc);
  assert.ok(posted > 300, `height ${posted}`);
  assert.equal(Math.round(iframe), posted, 'the host sized the frame by it');
  // the link carries the same state (without the embed's own settings)
  const href = await frame.getByRole('link', { name: 'Open in the playground' }).getAttribute('href');
  const u = new URL(href);
  assert.equal(u.pathname, '/www/');
  const back = await decodeState(u.hash, []);
  assert.equal(back.error, null);
  assert.equal(back.state.config.policy, 'best');
  assert.equal(back.state.source.text, SCRIPT);
  assert.equal(back.state.step, 3);
  assert.equal(new URLSearchParams(u.hash.slice(1)).has('title'), false);
  // stepping in the frame: the step is posted, the link follows, the height is posted again when it changes
  await frame.getByRole('button', { name: 'Step forward' }).click();
  assert.deepEqual(await blockShape(frame), ['used 48', 'free 64', 'used 24']);
  await page.waitForFunction(() => window.__messages.some((m) => m.type === 'heaptale:step' && m.step === 4));
  const href2 = await frame.getByRole('link', { name: 'Open in the playground' }).getAttribute('href');
  assert.equal(new URLSearchParams(new URL(href2).hash.slice(1)).get('step'), '4');
  const steps = await page.evaluate(() => window.__messages.filter((m) => m.type === 'heaptale:step'));
  assert.deepEqual(steps, [{ type: 'heaptale:step', step: 3, steps: 4 }, { type: 'heaptale:step', step: 4, steps: 4 }]);
  await page.screenshot({ path: path.join(RESULTS, 'embed-host.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test('the link opens the playground in the same state', async () => {
  const hash = await encodeState({ config: { policy: 'best', header: 8, align: 8 }, source: { text: SCRIPT }, step: 3 });
  const { page, context, frame } = await host(hash);
  const href = await frame.getByRole('link', { name: 'Open in the playground' }).getAttribute('href');
  await page.goto(href);
  await page.waitForFunction(() => document.documentElement.dataset.state === 'ready', null, { timeout: 20000 });
  const texts = (await page.getByRole('list', { name: 'heap blocks' }).getByRole('listitem').allTextContents()).map((t) => t.trim());
  assert.deepEqual(texts.map((t) => { const [s, , n] = t.split(', '); return `${s} ${Number.parseInt(n, 10)}`; }), ['free 112', 'used 24']);
  assert.equal(await page.locator('#policy').inputValue(), 'best');
  await context.close();
});

test('query parameters work as the fragment does; a bad state is named and the default shown', async () => {
  const hash = await encodeState({ config: { policy: 'first', header: 16, align: 16 }, source: { text: 'p = malloc(1)\n' }, step: 1, compare: ['worst'] });
  let { page, context, problems, frame } = await host(`?${hash.slice(1)}&readonly`);
  assert.deepEqual(await blockShape(frame), ['used 32']);
  assert.equal(await frame.getByRole('list', { name: 'heap blocks under worst fit' }).getByRole('listitem').count(), 1);
  assert.match(await frame.locator('heap-tale').evaluate((e) => e.shadowRoot.querySelector('.settings').textContent), /header 16 · align 16 · compared with worst$/);
  assert.equal(await frame.locator('heap-tale').evaluate((e) => e.hasAttribute('readonly')), true);
  assert.deepEqual(problems, []);
  await context.close();

  ({ page, context, problems, frame } = await host('#policy=nope&step=2'));
  assert.equal((await frame.getByRole('alert').first().textContent()).trim(),
    'This embed\'s settings cannot be read: unknown policy "nope" (expected one of first, next, best, worst, seglist, tlsf, heaptale, buddy). Showing the default program instead.');
  assert.ok((await blockShape(frame)).length > 0, 'the default program is shown');
  const href = await frame.getByRole('link', { name: 'Open in the playground' }).getAttribute('href');
  assert.equal(new URL(href).hash, '', 'the link does not carry the bad state');
  await page.screenshot({ path: path.join(RESULTS, 'embed-bad.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});
