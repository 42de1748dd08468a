// The foundation journey in a real browser: the bootstrap administrator signs in, sets up
// TOTP, signs out and in again with a code, creates a group, and finds it all in the audit
// trail, whose chain verifies.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, BOOTSTRAP_PASSWORD } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';
import { freshCode } from '../lib/totp.mjs';

/** A fresh Gatehouse and browser for one test, both closed when the test ends. */
async function setUp(t) {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  return { server, browser };
}

/** Waits until the page's path (and query) is `expected`. */
async function expectPath(page, expected) {
  await page.waitForURL((u) => u.pathname + u.search === expected, { timeout: 10_000 });
}

async function signInWithPassword(page, username = 'admin', password = BOOTSTRAP_PASSWORD) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('bootstrap administrator: sign-in, TOTP, group, audit', { timeout: 180_000 }, async (t) => {
  const { server, browser } = await setUp(t);
  const { page, problems, context } = await newPage(browser, { baseURL: server.url });

  // 1. The front door sends a stranger to sign-in, remembering where they were going.
  await page.goto('/');
  await expectPath(page, '/login?next=%2F');
  await page.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
  await screenshot(page, 'foundation-login');

  // A wrong password is refused plainly.
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'username or password is not right' }).waitFor();

  // 2. Password sign-in lands on the access portal, with the shell around it.
  await signInWithPassword(page);
  await expectPath(page, '/portal');
  await page.getByRole('heading', { name: 'Access portal' }).waitFor();
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const link of ['Portal', 'My account', 'Users', 'Groups', 'Accounts', 'Audit']) {
    await nav.getByRole('link', { name: link }).waitFor();
  }
  await nav.getByRole('link', { name: 'My account' }).click();
  await page.getByRole('heading', { name: 'My account' }).waitFor();
  await page.getByRole('banner').getByText('MFA off').waitFor();

  // 3. TOTP enrolment: QR code and secret, confirmed with a code computed from the secret.
  await page.getByRole('button', { name: 'Set up authenticator' }).click();
  await page.getByRole('img', { name: 'TOTP QR code' }).waitFor();
  const secret = (await page.locator('#totp-secret').innerText()).trim();
  assert.match(secret, /^[A-Z2-7]{16,}=*$/, `the secret on the page looks like base32: ${secret}`);
  await screenshot(page, 'foundation-totp-setup');
  const enrolment = await freshCode(secret);
  await page.getByLabel('Authentication code').fill(enrolment.code);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('status').filter({ hasText: 'Authenticator confirmed' }).waitFor();
  await page.getByRole('banner').getByText('MFA on').waitFor();
  await screenshot(page, 'foundation-me');

  // 4. Sign out; a deep link to the audit trail now goes through sign-in and back.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expectPath(page, '/login');
  await page.goto('/audit');
  await expectPath(page, '/login?next=%2Faudit');

  // 5. Sign in again: password first, then the TOTP step with a fresh code.
  await signInWithPassword(page);
  const codeField = page.getByLabel('Authentication code');
  await codeField.waitFor();
  // A wrong code is refused next to the field (a real code is 000000 once in a million).
  await codeField.fill('000000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'The authentication code was not accepted.' }).waitFor();
  assert.equal(await codeField.getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'foundation-login-totp');
  const second = await freshCode(secret, { usedStep: enrolment.step });
  await codeField.fill(second.code);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expectPath(page, '/audit');
  await page.getByRole('heading', { name: 'Audit trail' }).waitFor();

  // 6. Create a group.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Groups' }).click();
  await expectPath(page, '/admin/groups');
  await page.getByLabel('Group name').fill('release-approvers');
  await page.getByLabel('Description', { exact: true }).fill('Approve production releases');
  await page.getByLabel(/^Auditor/).check();
  await page.getByRole('button', { name: 'Create group' }).click();
  await page.getByRole('status').filter({ hasText: 'Created group release-approvers.' }).waitFor();
  const groups = page.getByRole('table', { name: 'Groups' });
  await groups.getByRole('link', { name: 'release-approvers' }).waitFor();

  // Creating it twice is a conflict, said next to the form.
  await page.getByLabel('Group name').fill('release-approvers');
  await page.getByRole('button', { name: 'Create group' }).click();
  await page.getByText('A group with this name already exists.').waitFor();

  // The group's own page opens from the table, and as a deep link.
  await groups.getByRole('link', { name: 'release-approvers' }).click();
  await page.getByRole('heading', { name: 'Group release-approvers' }).waitFor();
  const groupPath = new URL(page.url()).pathname;
  await page.goto(groupPath);
  await page.getByRole('heading', { name: 'Group release-approvers' }).waitFor();

  // 7. The audit trail shows the sign-ins and the group's creation; the chain verifies.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
  const events = page.getByRole('table', { name: /Audit events/ });
  const created = events.getByRole('row').filter({ hasText: 'directory.group.create' });
  await created.first().waitFor();
  assert.match(await created.first().innerText(), /release-approvers/);
  assert.match(await created.first().innerText(), /success/);
  const logins = events.getByRole('row').filter({ hasText: 'auth.login' });
  assert.ok((await logins.filter({ hasText: 'success' }).count()) >= 2, 'both successful sign-ins are listed');
  assert.ok((await logins.filter({ hasText: 'failure' }).count()) >= 1, 'the wrong password is listed');

  // Filters narrow the list. The action field suggests every action Gatehouse writes.
  const suggested = await page.getByLabel('Action').evaluate((input) =>
    [...(input.list?.options ?? [])].map((o) => o.value));
  assert.ok(suggested.includes('directory.*') && suggested.includes('breakglass.reveal_password'),
    `the action field suggests areas and actions: ${suggested.slice(0, 5)}`);
  await page.getByLabel('Action').fill('directory.*');
  await page.getByRole('button', { name: 'Search' }).click();
  await events.getByRole('row').filter({ hasText: 'auth.login' }).first().waitFor({ state: 'detached' });
  await created.first().waitFor();
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await events.getByRole('row').filter({ hasText: 'auth.login' }).first().waitFor();

  await page.getByRole('button', { name: 'Verify chain' }).click();
  await page.getByRole('status').filter({ hasText: /^Chain intact: \d+ events/ }).waitFor();
  await screenshot(page, 'foundation-audit');

  // 8. Unknown paths get a 404 page, not a blank one.
  await page.goto('/no/such/page');
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();

  // The same app at a narrow width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/audit');
  await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
  await events.waitFor();
  await screenshot(page, 'foundation-audit-narrow');

  await context.close();
  assert.deepEqual(problems, [], 'the browser reported no errors');
});

test('directory administration: users, accounts, group members, an auditor\'s view', { timeout: 180_000 }, async (t) => {
  const { server, browser } = await setUp(t);
  const { page, problems, context } = await newPage(browser, { baseURL: server.url });
  await page.goto('/admin/users');
  await expectPath(page, '/login?next=%2Fadmin%2Fusers');
  await signInWithPassword(page);
  await expectPath(page, '/admin/users');
  await page.getByRole('table', { name: 'Users' }).getByRole('rowheader', { name: 'admin' }).waitFor();

  // The shared validation rules speak before the request, next to each field.
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByText('Enter a username.').waitFor();
  await page.getByText('Enter an e-mail address.').waitFor();
  await page.getByText('Enter a display name.').waitFor();
  assert.equal(await page.getByLabel('Username').getAttribute('aria-invalid'), 'true');
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('E-mail').fill('alice@example.com');
  await page.getByLabel('Display name').fill('Alice Auditor');
  await page.getByLabel('Initial password').fill('short');
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByText('A password has at least 12 characters.').waitFor();
  const alicePassword = 'alice-password-123';
  await page.getByLabel('Initial password').fill(alicePassword);
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByRole('status').filter({ hasText: 'Created user alice.' }).waitFor();
  const users = page.getByRole('table', { name: 'Users' });
  const alice = users.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'alice' }) });
  await alice.getByText('active').waitFor();

  // Disable and enable again; deleting asks first, and "Cancel" keeps the user.
  await page.getByRole('button', { name: 'Disable alice' }).click();
  await alice.getByText('disabled').waitFor();
  await page.getByRole('button', { name: 'Enable alice' }).click();
  await alice.getByText('active').waitFor();
  await page.getByRole('button', { name: 'Delete alice' }).click();
  await alice.getByText('Delete this user?').waitFor();
  await alice.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('button', { name: 'Delete alice' }).waitFor();
  await screenshot(page, 'directory-users');

  // Accounts: 16 digits, conflicts said plainly, deletion confirmed.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Accounts' }).click();
  await page.getByLabel('Account ID').fill('12345');
  await page.getByLabel('Account name').fill('Payments production');
  await page.getByLabel('Environment').fill('production');
  await page.getByRole('button', { name: 'Add account' }).click();
  await page.getByText('An account ID is exactly 16 digits (12 for AWS).').waitFor();
  await page.getByLabel('Account ID').fill('1234567890123456');
  await page.getByRole('button', { name: 'Add account' }).click();
  await page.getByRole('status').filter({ hasText: 'Added account Payments production' }).waitFor();
  await page.getByLabel('Account ID').fill('1234567890123456');
  await page.getByLabel('Account name').fill('Again');
  await page.getByLabel('Environment').fill('staging');
  await page.getByRole('button', { name: 'Add account' }).click();
  await page.getByText('An account with this ID is already registered.').waitFor();
  await page.getByLabel('Account ID').fill('6543210987654321');
  await page.getByLabel('Account name').fill('Sandbox');
  await page.getByRole('button', { name: 'Add account' }).click();
  await page.getByRole('status').filter({ hasText: 'Added account Sandbox' }).waitFor();
  await page.getByRole('button', { name: 'Delete account 6543210987654321' }).click();
  await page.getByRole('button', { name: 'Yes, delete account 6543210987654321' }).click();
  await page.getByRole('status').filter({ hasText: 'Deleted account Sandbox' }).waitFor();
  await screenshot(page, 'directory-accounts');

  // A group of auditors, with alice added from the group's page.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Groups' }).click();
  await page.getByLabel('Group name').fill('auditors');
  await page.getByLabel(/^Auditor/).check();
  await page.getByRole('button', { name: 'Create group' }).click();
  await page.getByRole('table', { name: 'Groups' }).getByRole('link', { name: 'auditors' }).click();
  await page.getByRole('heading', { name: 'Group auditors' }).waitFor();
  await page.getByText('This group has no members yet.').waitFor();
  await page.getByLabel('User to add').selectOption({ label: 'Alice Auditor (alice)' });
  await page.getByRole('button', { name: 'Add member' }).click();
  await page.getByRole('table', { name: 'Members' }).getByRole('rowheader', { name: 'alice' }).waitFor();
  await screenshot(page, 'directory-group');

  // Alice, an auditor, sees the directory and the audit trail but no forms that change them.
  const second = await newPage(browser, { baseURL: server.url });
  await second.page.goto('/');
  await signInWithPassword(second.page, 'alice', alicePassword);
  await expectPath(second.page, '/portal');
  const nav = second.page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Audit' }).waitFor();
  await nav.getByRole('link', { name: 'Users' }).click();
  await second.page.getByRole('table', { name: 'Users' }).getByRole('rowheader', { name: 'alice' }).waitFor();
  assert.equal(await second.page.getByRole('heading', { name: 'Create a user' }).count(), 0);
  assert.equal(await second.page.getByRole('button', { name: 'Delete admin' }).count(), 0);
  await second.context.close();

  // Removing alice from the group (back as the administrator).
  await page.getByRole('button', { name: 'Remove alice' }).click();
  await page.getByRole('status').filter({ hasText: 'Removed alice from the group.' }).waitFor();
  await page.getByText('This group has no members yet.').waitFor();

  // More events than one page (50): "Load more" follows the server's cursor.
  const created = await page.evaluate(async () => {
    const me = await (await fetch('/api/v1/me')).json();
    let ok = 0;
    for (let i = 0; i < 55; i++) {
      const id = String(1000000000000000 + i);
      const r = await fetch('/api/v1/accounts', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token },
        body: JSON.stringify({ id, name: `Bulk ${i}`, environment: 'test' }),
      });
      if (r.status === 201) ok++;
    }
    return ok;
  });
  assert.equal(created, 55);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
  await page.getByText('Showing the newest 50 events.').waitFor();
  const rows = page.getByRole('table', { name: /Audit events/ }).locator('tbody tr');
  assert.equal(await rows.count(), 50);
  await page.getByRole('button', { name: 'Load more' }).click();
  await page.getByText(/^\d+ events\.$/).waitFor();
  assert.ok((await rows.count()) > 55, 'the second page is appended');
  assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0);

  await context.close();
  assert.deepEqual(problems, [], 'the browser reported no errors');
  assert.deepEqual(second.problems, [], 'the browser reported no errors (auditor)');
});
