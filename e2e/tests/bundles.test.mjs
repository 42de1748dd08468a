// The SPA's three bundles as a person meets them: a deep link into a configuration page
// while signed out returns there after sign-in; the navigation crosses bundles with a page
// load and each page runs the bundle that shows it; an unknown path says so.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, BOOTSTRAP_PASSWORD } from '../lib/server.mjs';
import { launchBrowser, newPage } from '../lib/browser.mjs';

/** The wasm files this page loaded, by path. */
async function wasmLoaded(page) {
  return page.evaluate(() => performance.getEntriesByType('resource')
    .map((e) => new URL(e.name).pathname)
    .filter((p) => p.endsWith('.wasm')));
}

test('bundles: deep link after sign-in, crossing bundles, unknown paths', { timeout: 120_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const { page, problems } = await newPage(browser, { baseURL: server.url });

  // Signed out, a link into the governance bundle goes to sign-in and comes back.
  await page.goto('/audit?action=auth.login');
  await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/audit?action=auth.login');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(BOOTSTRAP_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/audit' && u.searchParams.get('action') === 'auth.login');
  await page.getByRole('heading', { name: 'Audit trail', exact: true }).waitFor();
  assert.deepEqual((await wasmLoaded(page)).map((p) => p.split('/')[1]), ['governance-app']);

  // Into the everyday bundle and on to the directory bundle through the navigation.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Portal' }).click();
  await page.getByRole('heading', { name: 'Access portal' }).waitFor();
  assert.equal((await wasmLoaded(page)).length, 1);
  assert.match((await wasmLoaded(page))[0], /^\/gatehouse-frontend-[0-9a-f]+_bg\.wasm$/);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await page.getByRole('heading', { name: 'Users', exact: true }).waitFor();
  assert.match((await wasmLoaded(page))[0], /^\/directory-app\/gatehouse-directory-/);
  // Inside a bundle the router moves without a page load: the same wasm, no new one.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Groups' }).click();
  await page.getByRole('heading', { name: 'Groups', exact: true }).waitFor();
  assert.equal((await wasmLoaded(page)).length, 1);
  const current = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Groups' });
  assert.equal(await current.getAttribute('aria-current'), 'page');

  // A path no bundle shows.
  await page.goto('/admin/nothing-here');
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  assert.deepEqual(problems, []);
});
