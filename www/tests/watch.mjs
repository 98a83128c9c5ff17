// What a page test insists never happens: a page error, a console error, a
// failed request or an HTTP error. No test hooks here, so any test file (with
// or without harness.mjs) can import it.

/** Starts recording a page's problems; returns the array they are pushed to. */
export function watchProblems(page, problems = []) {
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  return problems;
}
