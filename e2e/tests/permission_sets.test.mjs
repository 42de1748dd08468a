// Permission sets in a real browser: an administrator adds an account, creates a permission
// set with a system policy and an inline policy (a broken one first: the fault is shown in
// place, with its line and column), assigns it to a user, provisions its role, changes it
// (the role then needs re-provisioning), cannot delete it while assigned, and asks the policy
// simulator what it allows and denies. An auditor reads it all and changes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, BOOTSTRAP_PASSWORD } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';
import { api } from '../lib/api.mjs';

const ACCOUNT = '1234567890123456';

// The trailing comma after "Resource" on line 7 is the fault.
const BROKEN_POLICY = `{
  "Version": "1",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["ecs:StartInstance", "ecs:StopInstance"],
      "Resource": "acs:ecs:*:*:instance/*",
    }
  ]
}`;

const INLINE_POLICY = `{
  "Version": "1",
  "Statement": [
    {
      "Sid": "StartStop",
      "Effect": "Allow",
      "Action": ["ecs:StartInstance", "ecs:StopInstance"],
      "Resource": "acs:ecs:*:*:instance/*"
    },
    {
      "Sid": "NoDelete",
      "Effect": "Deny",
      "Action": "ecs:DeleteInstance",
      "Resource": "*"
    }
  ]
}`;

async function expectPath(page, expected) {
  await page.waitForURL((u) => u.pathname + u.search === expected, { timeout: 10_000 });
}

async function signIn(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('an administrator creates, assigns, provisions, changes and simulates a permission set', { timeout: 240_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const { page, problems, context } = await newPage(browser, { baseURL: server.url });

  await page.goto('/admin/accounts');
  await expectPath(page, '/login?next=%2Fadmin%2Faccounts');
  await signIn(page, 'admin', BOOTSTRAP_PASSWORD);
  await expectPath(page, '/admin/accounts');

  // The nav offers the new pages to an administrator.
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const link of ['Portal', 'Permission sets', 'Simulator']) {
    await nav.getByRole('link', { name: link, exact: true }).waitFor();
  }

  // 1. An account, and a person to give access to.
  await page.getByLabel('Account ID').fill(ACCOUNT);
  await page.getByLabel('Account name').fill('Payments production');
  await page.getByLabel('Environment').fill('production');
  await page.getByRole('button', { name: 'Add account' }).click();
  await page.getByRole('status').filter({ hasText: 'Added account Payments production' }).waitFor();
  const dana = await api(page, 'POST', '/api/v1/users', {
    username: 'dana', email: 'dana@example.com', display_name: 'Dana Developer', password: 'dana-password-123',
  });
  assert.equal(dana.status, 201);

  // 2. The permission set: the shared rules speak before anything is sent.
  await nav.getByRole('link', { name: 'Permission sets' }).click();
  await expectPath(page, '/admin/permission-sets');
  await page.getByRole('heading', { name: 'Permission sets', level: 1 }).waitFor();
  await page.getByText('No permission sets yet.').waitFor();
  const create = page.getByRole('region', { name: 'Create a permission set' });
  await create.getByRole('button', { name: 'Create permission set' }).click();
  await create.getByText('Enter a permission set name.').waitFor();
  await create.getByLabel('Permission set name').fill('Dev-Operator');
  await create.getByText('GatehouseSSO-Dev-Operator').waitFor();
  await create.getByLabel('Description', { exact: true }).fill('Start and stop ECS instances');
  await create.getByLabel('Session duration (seconds)').fill('60');
  await create.getByRole('button', { name: 'Create permission set' }).click();
  await create.getByText('A session lasts from 900 to 43200 seconds').waitFor();
  assert.equal(await create.getByLabel('Session duration (seconds)').getAttribute('aria-invalid'), 'true');
  await create.getByLabel('Session duration (seconds)').fill('3600');
  await create.getByLabel('Relay state URL').fill('https://ecs.console.aliyun.com/');

  // System policies come from the catalogue, each with its description; the filter narrows.
  await create.getByPlaceholder('Filter system policies').fill('ecs');
  assert.equal(await create.getByLabel('AliyunOSSFullAccess', { exact: true }).isVisible(), false);
  await create.getByLabel('AliyunECSReadOnlyAccess', { exact: true }).check();
  await create.getByText('1 chosen, at most 20.').waitFor();
  await create.getByPlaceholder('Filter system policies').fill('');

  // 3. A broken inline policy: the fault is shown in place, with its line and column.
  const editor = create.getByLabel('Inline policy');
  await editor.fill(BROKEN_POLICY);
  const fault = create.locator('.policy-fault');
  await fault.getByText(/^Line 8, column 5: expected /).waitFor();
  assert.match(await fault.locator('.fault-excerpt').innerText(), /8 │\s+}\n\s+│\s+\^/);
  assert.equal(await create.locator('.gutter .bad').innerText(), '8');
  assert.equal(await editor.getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'permission-sets-inline-fault');
  // "Go to line 8" puts the cursor on the fault.
  await fault.getByRole('button', { name: 'Go to line 8' }).click();
  const caret = await editor.evaluate((el) => el.value.slice(0, el.selectionStart).split('\n').length);
  assert.equal(caret, 8);
  // Submitting does not send it; the fault stays where it is.
  await create.getByRole('button', { name: 'Create permission set' }).click();
  await create.getByRole('alert').filter({ hasText: 'Check the fields marked below.' }).waitFor();
  await fault.getByText(/^Line 8, column 5/).waitFor();

  // Fixed: the editor says it is valid, and the permission set is created.
  await editor.fill(INLINE_POLICY);
  await create.getByText('✓ Valid policy, 2 statements.').waitFor();
  assert.equal(await fault.count(), 0);
  await create.getByRole('button', { name: 'Create permission set' }).click();
  await page.getByRole('status').filter({ hasText: 'Created permission set Dev-Operator.' }).waitFor();
  const sets = page.getByRole('table', { name: 'Permission sets' });
  const row = sets.getByRole('row').filter({ hasText: 'Dev-Operator' });
  await row.getByText('1 hour').waitFor();
  await row.getByText('GatehouseSSO-Dev-Operator').waitFor();
  await row.getByText('1 system policy + inline policy').waitFor();
  await screenshot(page, 'permission-sets-list');

  // The same name again is a conflict, said at the name.
  await create.getByLabel('Permission set name').fill('Dev-Operator');
  await create.getByRole('button', { name: 'Create permission set' }).click();
  await create.getByText('A permission set with this name already exists.').waitFor();

  // 4. The permission set's page: assign it to dana on the account.
  await sets.getByRole('link', { name: 'Dev-Operator' }).click();
  await page.getByRole('heading', { name: 'Permission set Dev-Operator' }).waitFor();
  const detailPath = new URL(page.url()).pathname;
  const settings = page.getByRole('region', { name: 'Settings and policies' });
  await settings.getByText('AliyunECSReadOnlyAccess').waitFor();
  await settings.getByText('"Sid": "NoDelete"').waitFor();
  const assignments = page.getByRole('region', { name: 'Assignments' });
  await assignments.getByText('Not assigned to anyone yet.').waitFor();
  const roles = page.getByRole('region', { name: 'Provisioning' });
  await roles.getByText('Not assigned on any account yet').waitFor();
  await assignments.getByRole('button', { name: 'Assign' }).click();
  await assignments.getByText('Choose the user to assign.').waitFor();
  await assignments.getByLabel('Assign to').selectOption('user');
  await assignments.getByLabel('User', { exact: true }).selectOption({ label: 'Dana Developer (dana)' });
  await assignments.getByLabel('Account', { exact: true }).selectOption({ label: `Payments production (${ACCOUNT})` });
  await assignments.getByRole('button', { name: 'Assign' }).click();
  await page.getByRole('status').filter({ hasText: `Assigned to dana on account ${ACCOUNT}` }).waitFor();
  await assignments.getByRole('table', { name: 'Assignments' }).getByRole('rowheader', { name: 'dana' }).waitFor();

  // 5. Its role is not provisioned until an administrator provisions it.
  const roleRow = roles.getByRole('table', { name: 'Roles in accounts' }).getByRole('row').filter({ hasText: ACCOUNT });
  await roleRow.getByText('not provisioned').waitFor();
  await roleRow.getByText(`acs:ram::${ACCOUNT}:role/GatehouseSSO-Dev-Operator`).waitFor();
  await roles.getByText('1 account needs provisioning.').waitFor();
  await roles.getByRole('button', { name: 'Provision all accounts' }).click();
  await page.getByRole('status').filter({ hasText: 'Provisioned the role GatehouseSSO-Dev-Operator in 1 account.' }).waitFor();
  await roleRow.getByText('provisioned', { exact: true }).waitFor();
  await roles.getByText('Every role is up to date.').waitFor();
  assert.equal(await roles.getByRole('button', { name: 'Provision all accounts' }).isDisabled(), true);

  // 6. A change bumps the version; the role then needs re-provisioning.
  await settings.getByRole('button', { name: 'Edit' }).click();
  await settings.getByLabel('Session duration (seconds)').fill('7200');
  await settings.getByRole('button', { name: 'Save changes' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved permission set Dev-Operator (now version 2)' }).waitFor();
  await settings.getByText('2 hours (7200 seconds)').waitFor();
  await roleRow.getByText('needs re-provisioning').waitFor();
  await roleRow.getByText('at version 1, now 2').waitFor();
  await screenshot(page, 'permission-set-needs-reprovisioning');
  // An edit that breaks the inline policy is refused in place, as on creation.
  await settings.getByRole('button', { name: 'Edit' }).click();
  await settings.getByLabel('Inline policy').fill(BROKEN_POLICY);
  await settings.getByRole('button', { name: 'Save changes' }).click();
  await settings.getByText(/^Line 8, column 5: expected /).waitFor();
  await settings.getByRole('button', { name: 'Cancel' }).click();
  // Provisioning the one account brings it up to date.
  await roles.getByRole('button', { name: `Provision in account ${ACCOUNT}` }).click();
  await roleRow.getByText('provisioned', { exact: true }).waitFor();
  await roleRow.getByText('version 2').waitFor();

  // 7. Deleting it while assigned is refused, and said so.
  await page.getByRole('button', { name: 'Delete permission set' }).click();
  await page.getByRole('button', { name: 'Yes, delete permission set' }).click();
  await page.getByRole('alert').filter({ hasText: 'Not deleted: This permission set is still assigned 1 time(s).' }).waitFor();

  // 8. The simulator, opened from the permission set with it chosen.
  await page.getByRole('link', { name: 'Test in the policy simulator' }).click();
  await page.getByRole('heading', { name: 'Policy simulator' }).waitFor();
  const chosen = page.getByLabel('Permission set', { exact: true });
  await page.waitForFunction(() => document.querySelector('#sim-permission-set')?.selectedOptions[0]?.text.startsWith('Dev-Operator'));
  assert.match(await chosen.evaluate((el) => el.selectedOptions[0].text), /^Dev-Operator/);
  await page.getByLabel('Action').fill('ecs:StartInstance');
  await page.getByLabel('Resource').fill(`acs:ecs:cn-hangzhou:${ACCOUNT}:instance/i-abc`);
  await page.getByRole('button', { name: 'Simulate' }).click();
  const result = page.getByRole('region', { name: 'Result' });
  await result.locator('.decision-word').filter({ hasText: 'Allowed' }).waitFor();
  const deciding = result.getByRole('table', { name: 'Deciding statements' });
  const decidingRow = deciding.getByRole('row').filter({ hasText: 'StartStop' });
  await decidingRow.getByText('inline', { exact: true }).waitFor();
  await decidingRow.getByText('Allow', { exact: true }).waitFor();
  await screenshot(page, 'simulator-allowed');

  // The explicit Deny wins.
  await page.getByLabel('Action').fill('ecs:DeleteInstance');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await result.locator('.decision-word').filter({ hasText: 'Explicitly denied' }).waitFor();
  await deciding.getByRole('row').filter({ hasText: 'NoDelete' }).getByText('Deny', { exact: true }).waitFor();
  await screenshot(page, 'simulator-denied');

  // Nothing allows OSS: denied by default.
  await page.getByLabel('Action').fill('oss:GetObject');
  await page.getByLabel('Resource').fill('acs:oss:*:*:bucket/logs/a.txt');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await result.locator('.decision-word').filter({ hasText: 'Implicitly denied' }).waitFor();

  // A pasted document with a condition: the request context decides.
  await page.getByLabel('Test the policies of').selectOption('documents');
  await page.getByLabel('Policy document 1').fill(JSON.stringify({
    Version: '1',
    Statement: [{
      Effect: 'Allow', Action: 'oss:GetObject', Resource: '*',
      Condition: { IpAddress: { 'acs:SourceIp': '10.0.0.0/8' }, Bool: { 'acs:MFAPresent': 'true' } },
    }],
  }, null, 2));
  await page.getByLabel('acs:SourceIp').fill('10.1.2.3');
  await page.getByLabel('acs:MFAPresent').selectOption('true');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await result.locator('.decision-word').filter({ hasText: 'Allowed' }).waitFor();
  await result.getByRole('table', { name: 'Deciding statements' }).getByText('policies[0]').waitFor();
  await page.getByLabel('acs:SourceIp').fill('203.0.113.7');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await result.locator('.decision-word').filter({ hasText: 'Implicitly denied' }).waitFor();
  // A broken pasted document is shown in place, not simulated.
  await page.getByLabel('Policy document 1').fill('{"Version": "1", "Statement": [}');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await page.getByText(/^Line 1, column 32: expected /).waitFor();
  await page.getByRole('alert').filter({ hasText: 'A policy is not valid' }).waitFor();

  // 9. Narrow screens.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(detailPath);
  await page.getByRole('heading', { name: 'Permission set Dev-Operator' }).waitFor();
  await roleRow.waitFor();
  await screenshot(page, 'permission-set-narrow');
  await page.goto('/admin/simulator');
  await page.getByRole('heading', { name: 'Policy simulator' }).waitFor();
  await screenshot(page, 'simulator-narrow');
  await page.setViewportSize({ width: 1280, height: 800 });

  // 10. An auditor reads permission sets and simulates, but changes nothing.
  const auditors = await api(page, 'POST', '/api/v1/groups', { name: 'auditors', description: '', roles: ['auditor'] });
  assert.equal(auditors.status, 201);
  const alice = await api(page, 'POST', '/api/v1/users', {
    username: 'alice', email: 'alice@example.com', display_name: 'Alice Auditor', password: 'alice-password-123',
  });
  assert.equal((await api(page, 'PUT', `/api/v1/groups/${auditors.body.id}/members/${alice.body.id}`)).status, 204);
  const second = await newPage(browser, { baseURL: server.url });
  await second.page.goto(detailPath);
  await signIn(second.page, 'alice', 'alice-password-123');
  await second.page.getByRole('heading', { name: 'Permission set Dev-Operator' }).waitFor();
  await second.page.getByRole('table', { name: 'Roles in accounts' }).getByText('provisioned', { exact: true }).waitFor();
  assert.equal(await second.page.getByRole('button', { name: 'Edit' }).count(), 0);
  assert.equal(await second.page.getByRole('button', { name: /Provision/ }).count(), 0);
  assert.equal(await second.page.getByRole('button', { name: 'Delete permission set' }).count(), 0);
  assert.equal(await second.page.getByRole('button', { name: 'Assign' }).count(), 0);
  await second.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Permission sets' }).click();
  await second.page.getByRole('table', { name: 'Permission sets' }).getByRole('link', { name: 'Dev-Operator' }).waitFor();
  assert.equal(await second.page.getByRole('heading', { name: 'Create a permission set' }).count(), 0);
  await second.context.close();

  await context.close();
  assert.deepEqual(problems, [], 'the browser reported no errors');
  assert.deepEqual(second.problems, [], 'the browser reported no errors (auditor)');
});
