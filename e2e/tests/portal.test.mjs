// The access portal in a real browser: an employee assigned to a provisioned permission set
// signs in and lands on the portal, gets credentials (every format, copy buttons, a live
// expiry countdown that ends in "expired"), creates a credentials_uri and revokes it; a
// permission set not yet provisioned shows as unavailable with the reason; an employee with
// no assignments sees who to ask.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, BOOTSTRAP_PASSWORD } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';
import { api } from '../lib/api.mjs';

const ACCOUNT = '1234567890123456';

async function expectPath(page, expected) {
  await page.waitForURL((u) => u.pathname + u.search === expected, { timeout: 10_000 });
}

async function signIn(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The administrator's set-up, through the API: an account, two people, two permission sets. */
async function arrange(page) {
  const created = (r, what) => { assert.ok(r.status === 201 || r.status === 200, `${what}: ${r.status} ${JSON.stringify(r.body)}`); return r.body; };
  created(await api(page, 'POST', '/api/v1/accounts', { id: ACCOUNT, name: 'Payments production', environment: 'production' }), 'account');
  const erin = created(await api(page, 'POST', '/api/v1/users', {
    username: 'erin', email: 'erin@example.com', display_name: 'Erin Engineer', password: 'erin-password-123',
  }), 'erin');
  created(await api(page, 'POST', '/api/v1/users', {
    username: 'frank', email: 'frank@example.com', display_name: 'Frank Newcomer', password: 'frank-password-123',
  }), 'frank');
  const readOnly = created(await api(page, 'POST', '/api/v1/permission-sets', {
    name: 'Dev-ReadOnly', description: 'Read ECS and OSS', system_policies: ['AliyunECSReadOnlyAccess', 'AliyunOSSReadOnlyAccess'],
    relay_state: 'https://ecs.console.aliyun.com/',
  }), 'Dev-ReadOnly');
  const operator = created(await api(page, 'POST', '/api/v1/permission-sets', {
    name: 'Ops-Admin', description: 'Full ECS access', system_policies: ['AliyunECSFullAccess'],
  }), 'Ops-Admin');
  for (const ps of [readOnly, operator]) {
    created(await api(page, 'POST', '/api/v1/assignments', {
      principal_type: 'user', principal_id: erin.id, account_id: ACCOUNT, permission_set_id: ps.id,
    }), `assignment ${ps.name}`);
  }
  // Only Dev-ReadOnly is provisioned; Ops-Admin stays unavailable.
  const provisioned = await api(page, 'POST', `/api/v1/permission-sets/${readOnly.id}/provision`, {});
  assert.equal(provisioned.status, 200);
}

test('an employee uses the portal: credentials, credentials_uri, and the empty state', { timeout: 240_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());

  const admin = await newPage(browser, { baseURL: server.url });
  await admin.page.goto('/login');
  await signIn(admin.page, 'admin', BOOTSTRAP_PASSWORD);
  // Everyone lands on the portal; an administrator with no assignments is told how to add some.
  await expectPath(admin.page, '/portal');
  await admin.page.getByRole('heading', { name: 'No accounts are assigned to you yet' }).waitFor();
  await admin.page.getByRole('link', { name: 'Permission sets' }).first().waitFor();
  await arrange(admin.page);
  await admin.context.close();

  // 1. Erin signs in at the front door and lands on the portal.
  const { page, problems, context } = await newPage(browser, { baseURL: server.url });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await page.goto('/');
  await expectPath(page, '/login?next=%2F');
  await signIn(page, 'erin', 'erin-password-123');
  await expectPath(page, '/portal');
  await page.getByRole('heading', { name: 'Access portal' }).waitFor();
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Portal' }).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'Permission sets' }).count(), 0, 'no admin pages for an employee');

  const accountCard = page.getByRole('region', { name: 'Payments production', exact: true });
  await accountCard.getByText(ACCOUNT).waitFor();
  await accountCard.getByText('2 permission sets').waitFor();
  const readOnly = accountCard.getByRole('group', { name: 'Dev-ReadOnly in Payments production' });
  const opsAdmin = accountCard.getByRole('group', { name: 'Ops-Admin in Payments production' });

  // 2. The permission set that is not provisioned is unavailable, and says why.
  await opsAdmin.getByText('unavailable').waitFor();
  await opsAdmin.getByText('the role GatehouseSSO-Ops-Admin has not been provisioned in this account').waitFor();
  assert.equal(await opsAdmin.getByRole('button', { name: 'Get credentials' }).count(), 0);
  assert.equal(await opsAdmin.getByRole('link', { name: /console/ }).count(), 0);

  // 3. The console link opens in a new tab, without a handle back to this one.
  const consoleLink = readOnly.getByRole('link', { name: 'Open the console as Dev-ReadOnly in Payments production (new tab)' });
  assert.equal(await consoleLink.getAttribute('target'), '_blank');
  assert.equal(await consoleLink.getAttribute('rel'), 'noopener');
  assert.match(await consoleLink.getAttribute('href'), /^https:\/\//);
  await screenshot(page, 'portal');

  // 4. Credentials: every format, a countdown that moves, copy buttons that copy.
  await readOnly.getByRole('button', { name: 'Get credentials' }).click();
  const panel = readOnly.getByRole('region', { name: 'Credentials for Dev-ReadOnly in Payments production' });
  const countdown = panel.getByRole('timer');
  await countdown.waitFor();
  const first = await countdown.innerText();
  assert.match(first, /^Expires in (59:[0-5]\d|1:00:00)$/);
  const akid = (await panel.locator('code.copy-value').first().innerText()).trim();
  assert.match(akid, /^STS\./);
  assert.match(await panel.getByText(/^export ALIBABA_CLOUD_ACCESS_KEY_ID=/).innerText(), /ALIBABA_CLOUD_SECURITY_TOKEN=/);
  await panel.getByText(/^aliyun configure set --profile/).waitFor();
  const processJson = JSON.parse(await panel.locator('pre.copy-value').nth(2).innerText());
  assert.equal(processJson.Version, 1);
  assert.equal(processJson.AccessKeyId, akid);
  for (const label of ['Shell (export lines)', 'Alibaba Cloud CLI', 'credential_process JSON', 'AccessKeyId', 'AccessKeySecret', 'SecurityToken']) {
    await panel.getByRole('button', { name: `Copy ${label}`, exact: true }).waitFor();
  }
  await panel.getByRole('button', { name: 'Copy AccessKeyId', exact: true }).click();
  await panel.getByText('Copied to the clipboard.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), akid);
  await panel.getByRole('button', { name: 'Copy Shell (export lines)', exact: true }).click();
  assert.match(await page.evaluate(() => navigator.clipboard.readText()), new RegExp(`^export ALIBABA_CLOUD_ACCESS_KEY_ID='?${akid.replace('.', '\\.')}`));
  await page.waitForFunction((before) => document.querySelector('[role="timer"]')?.innerText !== before, first);
  await screenshot(page, 'portal-credentials');

  // Once they expire, the countdown says so and the copy buttons stop. (The page's clock is
  // moved an hour on; the server's is not.)
  await page.clock.install();
  await page.clock.fastForward('01:00:00');
  await panel.getByText('Expired', { exact: true }).waitFor();
  await panel.getByRole('alert').filter({ hasText: 'These credentials have expired' }).waitFor();
  assert.equal(await panel.getByRole('button', { name: 'Copy AccessKeyId', exact: true }).isDisabled(), true);
  assert.equal(await panel.getByRole('button', { name: 'Copy Shell (export lines)', exact: true }).isDisabled(), true);
  await screenshot(page, 'portal-credentials-expired');
  // New ones start a fresh countdown, by the server's clock (the page's is now an hour ahead).
  await panel.getByRole('button', { name: 'Get new credentials' }).click();
  await panel.getByRole('timer').waitFor();
  // (The server's Date header counts whole seconds, so allow a second or two either way.)
  assert.match(await panel.getByRole('timer').innerText(), /^Expires in (59:[0-5]\d|1:00:0\d)$/);
  assert.equal(await panel.getByRole('button', { name: 'Copy AccessKeyId', exact: true }).isDisabled(), false);
  await panel.getByRole('button', { name: 'Close' }).click();
  await panel.waitFor({ state: 'detached' });

  // 5. A credentials_uri: shown once, with the lines tools read; then listed and revoked.
  const uris = page.getByRole('region', { name: 'Your credentials URIs' });
  await uris.getByText('You have no credentials URIs.').waitFor();
  await readOnly.getByRole('button', { name: 'Create credentials URI' }).click();
  const uriPanel = readOnly.getByRole('region', { name: 'credentials URI for Dev-ReadOnly' });
  await uriPanel.getByRole('alert').filter({ hasText: 'it is shown only this once' }).waitFor();
  const url = (await uriPanel.locator('code.copy-value').innerText()).trim();
  assert.match(url, /^https?:\/\/.+/);
  await uriPanel.getByText(`credential_process = gatehouse credentials --uri ${url}`, { exact: true }).waitFor();
  await uriPanel.getByText(`ALIBABA_CLOUD_CREDENTIALS_URI=${url}`, { exact: true }).waitFor();
  await uriPanel.getByRole('button', { name: 'Copy credentials URI', exact: true }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url);
  const listed = uris.getByRole('table', { name: 'Your credentials URIs' }).getByRole('row').filter({ hasText: 'Dev-ReadOnly' });
  await listed.getByText(`Payments production (${ACCOUNT})`).waitFor();
  await listed.getByText('never').waitFor();
  await screenshot(page, 'portal-credentials-uri');
  // The URL works for whoever holds it, until revoked.
  const fetched = await page.evaluate(async (u) => (await fetch(u)).status, url);
  assert.equal(fetched, 200);
  await uriPanel.getByRole('button', { name: 'Done' }).click();
  await uriPanel.waitFor({ state: 'detached' });
  await page.reload();
  assert.equal(await page.getByText(url).count(), 0, 'the URL is not shown again');
  await uris.getByRole('button', { name: `Revoke credentials URI for Dev-ReadOnly on ${ACCOUNT}` }).click();
  await uris.getByRole('button', { name: `Yes, revoke credentials URI for Dev-ReadOnly on ${ACCOUNT}` }).click();
  await uris.getByRole('status').filter({ hasText: 'Revoked the credentials URI for Dev-ReadOnly' }).waitFor();
  await uris.getByText('You have no credentials URIs.').waitFor();
  assert.notEqual(await page.evaluate(async (u) => (await fetch(u)).status, url), 200, 'a revoked URL gives nothing');

  // 6. The portal at a narrow width, with credentials open.
  await page.setViewportSize({ width: 390, height: 844 });
  await readOnly.getByRole('button', { name: 'Get credentials' }).click();
  await panel.getByRole('timer').waitFor();
  await screenshot(page, 'portal-narrow');
  await context.close();

  // 7. Someone with no assignments sees the empty state and who to ask.
  const frank = await newPage(browser, { baseURL: server.url });
  await frank.page.goto('/');
  await signIn(frank.page, 'frank', 'frank-password-123');
  await expectPath(frank.page, '/portal');
  await frank.page.getByRole('heading', { name: 'No accounts are assigned to you yet' }).waitFor();
  await frank.page.getByText('Ask your Gatehouse administrator for the access you need').waitFor();
  assert.equal(await frank.page.getByRole('link', { name: 'Permission sets' }).count(), 0);
  await screenshot(frank.page, 'portal-empty');
  await frank.context.close();

  assert.deepEqual(problems, [], 'the browser reported no errors');
  assert.deepEqual(admin.problems, [], 'the browser reported no errors (administrator)');
  assert.deepEqual(frank.problems, [], 'the browser reported no errors (no assignments)');
});
