// Shared by the page tests: a real server, Debian's Chromium through
// playwright-core, and helpers that act as a user would (by role and name).
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { watchProblems } from './watch.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVE_ROOT = process.env.HEAPTALE_SERVE_ROOT || ROOT;
export const RESULTS = path.join(ROOT, 'test-results');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const QUIET = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
export const BLOCK_RE = /^(used|used \(in quick list\)|free), 0x[0-9a-f]+, \d+ bytes$/;

export const env = { server: null, url: null, browser: null };

before(async () => {
  assert.ok(fs.existsSync(path.join(SERVE_ROOT, 'pkg', 'heaptale.js')),
    `${SERVE_ROOT}/pkg/heaptale.js is missing: build the wasm module first (make build)`);
  ({ server: env.server, url: env.url } = await startServer({ port: 0, root: SERVE_ROOT }));
  env.browser = await chromium.launch({ executablePath: CHROMIUM, args: QUIET });
  fs.mkdirSync(RESULTS, { recursive: true });
});

after(async () => {
  await env.browser?.close();
  await new Promise((r) => (env.server ? env.server.close(r) : r()));
});

/**
 * A fresh page on the playground (at `hash`); records every console error,
 * page error and failed request so that each test can insist there were none.
 */
export async function openPage({ viewport = { width: 1280, height: 900 }, hash = '', reducedMotion, permissions } = {}) {
  const context = await env.browser.newContext({ viewport, reducedMotion, permissions });
  const page = await context.newPage();
  const problems = watchProblems(page);
  await page.goto(env.url + hash);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.documentElement.dataset.state),
    null, { timeout: 20000 });
  const state = await page.evaluate(() => document.documentElement.dataset.state);
  assert.equal(state, 'ready', `page did not load: ${await page.getByRole('status').textContent()} ${problems.join('; ')}`);
  return { page, context, problems };
}

export const blocksList = (page) => page.getByRole('list', { name: 'heap blocks' });

export async function blockTexts(page) {
  return (await blocksList(page).getByRole('listitem').allTextContents()).map((t) => t.trim());
}

export const countUsed = (texts) => texts.filter((t) => t.startsWith('used,')).length;

export const status = async (page) => (await page.getByRole('status').textContent()).trim();

/** Waits until the page is idle (controls enabled again after a load or replay). */
export async function idle(page, timeout = 60000) {
  await page.waitForFunction(() => !document.getElementById('statement').disabled, null, { timeout });
}

/** Types a statement, presses Enter, returns the narration. */
export async function runStatement(page, stmt) {
  const box = page.getByRole('textbox', { name: /statement/i });
  const beforeText = await status(page);
  await box.fill(stmt);
  await box.press('Enter');
  await page.waitForFunction((prev) => {
    const s = document.querySelector('[role="status"]');
    return s && (s.textContent.trim() !== prev || s.classList.contains('flash') || s.classList.contains('is-error'));
  }, beforeText, { timeout: 5000 }).catch(() => {});
  return status(page);
}

export const slider = (page) => page.getByRole('slider', { name: /step/i });

export async function sliderValue(page) {
  return Number(await slider(page).getAttribute('aria-valuenow'));
}

/** Presses a key on the timeline slider and waits for the step shown to follow. */
export async function sliderKey(page, key) {
  const s = slider(page);
  await s.focus();
  await s.press(key);
  const v = await sliderValue(page);
  await page.waitForFunction((want) => document.getElementById('step-count').textContent.startsWith(`Step ${want.toLocaleString('en')} of`), v, { timeout: 10000 });
  return v;
}

/** The figures panel as a map from name to text. */
export async function figures(page) {
  return page.evaluate(() => {
    const out = {};
    const dts = document.querySelectorAll('#stats dt');
    for (const dt of dts) out[dt.textContent] = dt.nextElementSibling.textContent;
    return out;
  });
}

export const hexOf = (s) => Number.parseInt(/0x[0-9a-f]+/.exec(s)[0], 16);

/** Opens an entry of the scenario and trace library. */
export async function openLibrary(page, label) {
  await page.getByRole('combobox', { name: /scenario or trace/i }).selectOption({ label });
  await page.getByRole('button', { name: 'Open', exact: true }).click();
  await page.waitForFunction((l) => document.querySelector('[role="status"]').textContent.includes('Opened') || document.querySelector('[role="status"]').classList.contains('is-error'), label, { timeout: 60000 });
  await idle(page);
}
