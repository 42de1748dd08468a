// An auditor's journey through a large trail: 100,000 generated events (`gatehouse audit
// generate`), filtered by a person and an action prefix, paged with "Load more", and one
// access request followed on its timeline from creation through the credentials taken
// under its grant to the grant's end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, BOOTSTRAP_PASSWORD } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';

test('an auditor filters a large trail and follows a request on its timeline', { timeout: 300_000 }, async (t) => {
  const server = await startServer({
    prepare: (run) => run(['audit', 'generate', '--events', '100000', '--people', '200', '--days', '30', '--seed', '4']),
  });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const { page, problems, context } = await newPage(browser, { baseURL: server.url });

  await page.goto('/audit');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(BOOTSTRAP_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
  const events = page.getByRole('table', { name: /Audit events/ });
  await events.getByRole('row').nth(1).waitFor();

  // One person's access requests, newest first, a page at a time.
  await page.getByLabel('Actor').fill('person00001');
  await page.getByLabel('Action').fill('access_request.*');
  await page.getByRole('button', { name: 'Search' }).click();
  const rows = events.getByRole('row').filter({ hasText: 'access_request.' });
  await rows.first().waitFor();
  await page.waitForFunction(() => document.querySelectorAll('table tbody tr').length >= 50);
  const shown = await rows.count();
  for (const row of await rows.all()) {
    const text = await row.innerText();
    assert.match(text, /person00001/);
    assert.match(text, /access_request\./);
  }
  await page.getByRole('button', { name: 'Load more' }).click();
  await page.waitForFunction((n) => document.querySelectorAll('table tbody tr').length > n, shown);
  await screenshot(page, 'audit-large-trail-filtered');

  // A request that was granted: its timeline tells the whole story.
  await page.getByLabel('Actor').fill('');
  await page.getByLabel('Action').fill('access_grant.start');
  await page.getByRole('button', { name: 'Search' }).click();
  const grant = events.getByRole('row').filter({ hasText: 'access_grant.start' }).nth(3);
  await grant.waitFor();
  await grant.getByRole('link', { name: /^Timeline of / }).click();
  const story = page.getByRole('list', { name: 'Timeline' });
  await story.waitFor();
  const steps = await story.getByRole('listitem').allInnerTexts();
  const first = (action) => steps.findIndex((s) => s.includes(action));
  assert.equal(first('access_request.create'), 0, `the story begins with the request: ${steps}`);
  for (const action of ['access_request.approve', 'access_grant.start']) {
    assert.ok(first(action) > 0, `${action} is in the story: ${steps}`);
  }
  assert.ok(first('access_grant.start') < first('access_grant.end') || first('access_grant.end') === -1,
    'the grant ends after it starts');
  await screenshot(page, 'audit-timeline-of-a-grant');

  await context.close();
  assert.deepEqual(problems, [], 'the browser reported no errors');
});
