// Changing one's own password on My account: the form checks its fields before sending,
// the server refuses a wrong current password, and afterwards only the new password signs in.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, BOOTSTRAP_PASSWORD } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';

test('a person changes their own password', { timeout: 120_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const { page, problems } = await newPage(browser, { baseURL: server.url });

  await page.goto('/login?next=%2Fme');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(BOOTSTRAP_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'My account' }).waitFor();

  const card = page.getByRole('region', { name: 'Password' });
  // Checked in the page before anything is sent.
  await card.getByLabel('Current password').fill(BOOTSTRAP_PASSWORD);
  await card.getByLabel('New password', { exact: true }).fill('short');
  await card.getByRole('button', { name: 'Change password' }).click();
  await card.getByText('at least 12 characters').first().waitFor();

  // Refused by the server: the current password is wrong.
  const fresh = 'a-new-long-passphrase-' + Date.now();
  await card.getByLabel('Current password').fill('not the current password');
  await card.getByLabel('New password', { exact: true }).fill(fresh);
  await card.getByLabel('New password again').fill(fresh);
  await card.getByRole('button', { name: 'Change password' }).click();
  await card.getByText('Your current password is not correct.').waitFor();

  // Accepted.
  await card.getByLabel('Current password').fill(BOOTSTRAP_PASSWORD);
  await card.getByLabel('New password', { exact: true }).fill(fresh);
  await card.getByLabel('New password again').fill(fresh);
  await card.getByRole('button', { name: 'Change password' }).click();
  await card.getByText('Password changed.').waitFor();
  await screenshot(page, 'password-changed');

  // Only the new password signs in now.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(BOOTSTRAP_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'username or password' }).waitFor();
  await page.getByLabel('Password').fill(fresh);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Access portal' }).waitFor();

  assert.deepEqual(problems, [], 'no console errors or failed requests');
});
