// `gatehouse serve --demo`, as a newcomer meets it: the administrator's portal says what to
// try and whom to sign in as; the administrator gives the second approval Alice's request
// waits for (on a phone); Alice's portal has her grants counting down and gives credentials
// (on a phone); Carol finds three days of history and a chain that verifies; and the
// administrator removes the demo company in one action.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, BOOTSTRAP_PASSWORD } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';

const PHONE = { width: 390, height: 844 };

async function signIn(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('a newcomer tries the demo company as each of its people, then removes it', { timeout: 240_000 }, async (t) => {
  const server = await startServer({ extraArgs: ['--demo'] });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());

  // The administrator's first screen: what to try, and the people with their password.
  const admin = await newPage(browser, { baseURL: server.url });
  await admin.page.goto('/');
  await signIn(admin.page, 'admin', BOOTSTRAP_PASSWORD);
  const guide = admin.page.getByRole('region', { name: 'A demo company to try things with' });
  await guide.waitFor();
  const password = (await guide.locator('p code').first().innerText()).trim();
  assert.equal(password, 'gatehouse-demo-password');
  const people = guide.getByRole('table', { name: 'Sign in as' });
  for (const name of ['alice', 'bob', 'carol', 'dave', 'frank', 'erin', 'grace']) {
    await people.getByRole('row').filter({ hasText: name }).first().waitFor();
  }
  await screenshot(admin.page, 'demo-admin-guide');

  // The second approval, on a phone: the card says who asks, for what, and why.
  await admin.page.setViewportSize(PHONE);
  await guide.getByRole('link', { name: 'Approvals' }).click();
  const card = admin.page.getByRole('region', { name: /asks for Administrator on payments-prod/ });
  await card.waitFor();
  await card.getByText("Rotate the payment gateway's keys").waitFor();
  await card.getByText('1 of 2').waitFor();
  // What the approver weighs: who (by name), that it is production, what it grants.
  await card.getByRole('heading', { name: 'Alice Chen (alice) asks for Administrator on payments-prod' }).waitFor();
  await card.getByText('production', { exact: true }).waitFor();
  await card.getByText('Grants: AdministratorAccess').waitFor();
  await screenshot(admin.page, 'demo-approvals-narrow');
  // A rejection must say why, and is asked once more; this one is called off.
  await card.getByRole('button', { name: 'Reject' }).click();
  await card.getByText('Say why you reject it in the comment').waitFor();
  await card.getByLabel('Comment').fill('Second approval for INC-2291.');
  await card.getByRole('button', { name: 'Reject' }).click();
  await card.getByRole('button', { name: 'Cancel' }).click();
  await card.getByRole('button', { name: 'Approve' }).click();
  await card.waitFor({ state: 'detached' });

  // Alice, on a phone: both grants count down, and the new one gives credentials.
  const alice = await newPage(browser, { baseURL: server.url, viewport: PHONE });
  await alice.page.goto('/');
  await signIn(alice.page, 'alice', password);
  const prod = alice.page.getByRole('region', { name: /payments-prod/ });
  await prod.waitFor();
  const administrator = prod.getByRole('group', { name: /Administrator/ });
  await administrator.getByRole('timer', { name: 'Grant ends in' }).waitFor();
  await prod.getByRole('group', { name: /Developer/ }).getByRole('timer', { name: 'Grant ends in' }).waitFor();
  await administrator.getByRole('button', { name: 'Get credentials' }).click();
  const credentials = alice.page.getByRole('region', { name: /Credentials for Administrator/ });
  await credentials.getByRole('timer').waitFor();
  await screenshot(alice.page, 'demo-alice-portal-narrow');
  await alice.context.close();

  // Carol, the auditor: days of history, and a chain that verifies.
  const carol = await newPage(browser, { baseURL: server.url });
  await carol.page.goto('/audit');
  await signIn(carol.page, 'carol', password);
  await carol.page.getByRole('heading', { name: 'Audit trail' }).waitFor();
  const events = carol.page.getByRole('table', { name: /Audit events/ });
  await events.getByRole('row').filter({ hasText: 'access_request.reject' }).first().waitFor();
  await carol.page.getByRole('button', { name: 'Verify chain' }).click();
  await carol.page.getByRole('status').filter({ hasText: 'Chain intact' }).waitFor();
  await screenshot(carol.page, 'demo-carol-audit');
  await carol.context.close();

  // Removing the company: asked once more, then done, and said so.
  await admin.page.setViewportSize({ width: 1280, height: 800 });
  await admin.page.goto('/portal');
  await guide.getByRole('button', { name: 'Remove the demo company' }).click();
  await guide.getByRole('button', { name: 'Yes, remove the demo company' }).click();
  await admin.page.getByRole('status').filter({ hasText: 'The demo company was removed' }).waitFor();
  await guide.waitFor({ state: 'detached' });
  await screenshot(admin.page, 'demo-removed');
  await admin.context.close();

  assert.deepEqual(admin.problems, [], 'the browser reported no errors (administrator)');
  assert.deepEqual(alice.problems, [], 'the browser reported no errors (Alice)');
  assert.deepEqual(carol.problems, [], 'the browser reported no errors (Carol)');
});
