// Journey 2: an employee asks for elevated access; an approver (signed in in a second
// browser context) approves it after a TOTP check; the employee sees the grant with a
// countdown in the portal and gets credentials. The approver sees no approve button on
// their own request, and a forced API call is refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, BOOTSTRAP_PASSWORD } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';
import { codeNow, freshCode } from '../lib/totp.mjs';
import { api } from '../lib/api.mjs';

const ACCOUNT = '1234567890123456';

async function signIn(page, username, password) {
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/portal', { timeout: 10_000 });
}

function created(r, what) {
  assert.ok(r.status === 201 || r.status === 200 || r.status === 204, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

test('journey 2: request, TOTP approval, grant with countdown, no self-approval', { timeout: 240_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());

  // The administrator's set-up through the API: account, permission set (provisioned through
  // a standing assignment to someone else), people and the approvers group.
  const admin = await newPage(browser, { baseURL: server.url });
  await signIn(admin.page, 'admin', BOOTSTRAP_PASSWORD);
  const a = admin.page;
  created(await api(a, 'POST', '/api/v1/accounts', { id: ACCOUNT, name: 'Payments production', environment: 'production' }), 'account');
  const ops = created(await api(a, 'POST', '/api/v1/permission-sets', {
    name: 'Ops-Admin', description: 'Full ECS access', system_policies: ['AliyunECSFullAccess'], session_duration_secs: 7200,
  }), 'permission set');
  const mk = async (username) => created(await api(a, 'POST', '/api/v1/users', {
    username, email: `${username}@example.com`, display_name: username, password: `${username}-password-123`,
  }), username);
  const holder = await mk('holder');
  const erin = await mk('erin');
  const alex = await mk('alex');
  // A second approver, so that alex's own request is one someone else could approve (a
  // request no one but its requester could approve is refused up front).
  const bea = await mk('bea');
  created(await api(a, 'POST', '/api/v1/assignments', {
    principal_type: 'user', principal_id: holder.id, account_id: ACCOUNT, permission_set_id: ops.id,
  }), 'assignment');
  created(await api(a, 'POST', `/api/v1/permission-sets/${ops.id}/provision`, {}), 'provision');
  const approvers = created(await api(a, 'POST', '/api/v1/groups', { name: 'ops-approvers' }), 'group');
  created(await api(a, 'PUT', `/api/v1/groups/${approvers.id}/members/${alex.id}`), 'member');
  created(await api(a, 'PUT', `/api/v1/groups/${approvers.id}/members/${bea.id}`), 'member');
  // Both policies through the Access policies page: first an empty form, refused before it
  // is sent with the server's own rules, then the real ones.
  await a.getByRole('link', { name: 'Access policies' }).click();
  await a.getByText('No eligibility policies yet').waitFor();
  const eligibilityForm = a.getByRole('region', { name: 'Add an eligibility policy' });
  await eligibilityForm.getByRole('button', { name: 'Add eligibility policy' }).click();
  await eligibilityForm.getByText('Choose a user or group.').waitFor();
  for (const who of [erin, alex]) {
    await eligibilityForm.getByLabel('Name', { exact: true }).fill(`${who.username} may ask`);
    await eligibilityForm.getByLabel('Who may ask').selectOption('user');
    await eligibilityForm.getByLabel('User or group').selectOption({ label: who.username });
    await eligibilityForm.getByLabel(`Payments production (${ACCOUNT})`).check();
    await eligibilityForm.getByLabel('Ops-Admin').check();
    await eligibilityForm.getByLabel('Maximum duration (minutes)').fill('60');
    assert.equal(await eligibilityForm.getByLabel('Approval required').isChecked(), true);
    assert.equal(await eligibilityForm.getByLabel('Justification required').isChecked(), true);
    await eligibilityForm.getByRole('button', { name: 'Add eligibility policy' }).click();
    await a.getByText(`Added ${who.username} may ask.`).waitFor();
  }
  const eligibilityTable = a.getByRole('table', { name: 'Eligibility policies' });
  const erinRow = eligibilityTable.getByRole('row').filter({ hasText: 'erin may ask' });
  assert.match(await erinRow.innerText(), /user erin[\s\S]*Payments production[\s\S]*Ops-Admin[\s\S]*1 hour[\s\S]*approval, justification/);
  const approvalForm = a.getByRole('region', { name: 'Add an approval policy' });
  await approvalForm.getByLabel('Name', { exact: true }).fill('Ops approvals');
  await approvalForm.getByLabel('Account', { exact: true }).selectOption(ACCOUNT);
  await approvalForm.getByLabel('Permission set', { exact: true }).selectOption({ label: 'Ops-Admin' });
  await approvalForm.getByLabel('ops-approvers').check();
  await approvalForm.getByLabel('Approvals needed').fill('1');
  assert.equal(await approvalForm.getByLabel('Approvers must pass a fresh MFA check').isChecked(), true);
  await approvalForm.getByRole('button', { name: 'Add approval policy' }).click();
  await a.getByText('Added Ops approvals.').waitFor();
  const approvalRow = a.getByRole('table', { name: 'Approval policies' }).getByRole('row').filter({ hasText: 'Ops approvals' });
  assert.match(await approvalRow.innerText(), /group ops-approvers[\s\S]*1 approval\(s\)[\s\S]*MFA required[\s\S]*3 hours/);
  // Saved, but it says why it cannot work yet: neither approver has an authenticator.
  await a.getByRole('table', { name: 'Approval policies' }).getByRole('note', { name: 'Warnings' })
    .getByText('A fresh MFA check is required, but alex, bea have no authenticator').waitFor();
  await screenshot(a, 'requests-access-policies');
  // What the page wrote is what the API holds.
  const policies = created(await api(a, 'GET', '/api/v1/approval-policies'), 'approval policies');
  assert.deepEqual(policies.map((p) => [p.account_id, p.permission_set_id, p.approver_group_ids, p.approvals_needed, p.mfa_required]),
    [[ACCOUNT, ops.id, [approvers.id], 1, true]]);
  await admin.context.close();

  // The approver enrols TOTP (through the API) in their own browser context.
  const approver = await newPage(browser, { baseURL: server.url });
  await signIn(approver.page, 'alex', 'alex-password-123');
  const enrolment = created(await api(approver.page, 'POST', '/api/v1/me/mfa/totp', {}), 'totp');
  const first = codeNow(enrolment.secret_base32);
  created(await api(approver.page, 'POST', '/api/v1/me/mfa/totp/confirm', { code: first.code }), 'confirm');

  // The employee asks, seeing the limits before sending.
  const employee = await newPage(browser, { baseURL: server.url });
  const e = employee.page;
  await signIn(e, 'erin', 'erin-password-123');
  await e.getByRole('link', { name: 'Requests' }).click();
  await e.getByRole('heading', { name: 'Ask for access' }).waitFor();
  const limits = await e.getByRole('note', { name: 'Limits' }).innerText();
  assert.match(limits, /At most 1 hour/);
  assert.match(limits, /1 approval\(s\) needed/);
  // Client-side validation with the server's rules: too long, no justification.
  await e.getByLabel('Duration (minutes)').fill('120');
  await e.getByRole('button', { name: 'Send request' }).click();
  await e.getByText('Say why you need this access.').waitFor();
  await e.getByLabel('Duration (minutes)').fill('30');
  await e.getByLabel('Justification').fill('INC-42: restart the payment workers');
  await e.getByRole('button', { name: 'Send request' }).click();
  await e.getByRole('table', { name: 'My requests' }).getByText('Pending approval').waitFor();

  // The approver's inbox: approving asks for a fresh TOTP code, then succeeds. Their MFA
  // from enrolment is made stale by waiting for the next step and asking for a code anyway.
  const p = approver.page;
  await p.getByRole('link', { name: 'Approvals' }).click();
  await p.getByRole('heading', { name: /\(erin\) asks for Ops-Admin/ }).waitFor();
  await p.getByLabel('Comment').fill('Go ahead');
  await p.getByRole('button', { name: 'Approve' }).click();
  // Enrolment just confirmed a code, so MFA may still be fresh; if asked, give a new code.
  const asked = await Promise.race([
    p.getByLabel('Authenticator code').waitFor().then(() => true),
    p.getByText(/Approved the request of erin/).waitFor().then(() => false),
  ]);
  if (asked) {
    await screenshot(p, 'requests-approver-totp');
    const next = await freshCode(enrolment.secret_base32, { usedStep: first.step });
    await p.getByLabel('Authenticator code').fill(next.code);
    await p.getByRole('button', { name: 'Verify and continue' }).click();
    await p.getByText(/Approved the request of erin/).waitFor();
  }
  await p.getByText('Nothing is waiting for your approval.').waitFor();

  // The employee sees the grant in the portal with a countdown and gets credentials.
  await e.getByRole('link', { name: 'Portal' }).click();
  const grant = e.getByRole('group', { name: /Ops-Admin in Payments production/ });
  await grant.getByText('Temporary grant').waitFor();
  const left = await grant.getByRole('timer', { name: 'Grant ends in' }).innerText();
  assert.match(left, /^(29|30):\d\d$/);
  await grant.getByRole('button', { name: /Get credentials/ }).click();
  await e.getByText(/STS\./).first().waitFor();
  await screenshot(e, 'requests-grant-countdown');

  // Ending the grant early is asked once more, then done.
  await e.getByRole('link', { name: 'Requests' }).click();
  const mine = e.getByRole('table', { name: 'My requests' });
  await mine.getByRole('button', { name: 'End now' }).click();
  await mine.getByText('End the grant now? Its credentials stop working.').waitFor();
  await mine.getByRole('button', { name: 'Keep it' }).click();
  await mine.getByRole('button', { name: 'End now' }).click();
  await mine.getByRole('button', { name: 'Yes, end now' }).click();
  await e.getByText('Ended the grant.').waitFor();
  await mine.getByText('Ended').first().waitFor();

  // The approver asks for the same access: their own request has no approve button, and
  // forcing the call is refused.
  const own = created(await api(p, 'POST', '/api/v1/requests', {
    account_id: ACCOUNT, permission_set_id: ops.id, duration_secs: 900, justification: 'my own',
  }), 'own request');
  assert.equal(own.can_approve, false);
  await p.goto('/approvals');
  await p.getByText('Nothing is waiting for your approval.').waitFor();
  assert.equal(await p.getByRole('button', { name: 'Approve' }).count(), 0);
  const forced = await api(p, 'POST', `/api/v1/requests/${own.id}/approve`, { comment: 'me' });
  assert.equal(forced.status, 403);
  assert.equal(forced.body.error.code, 'self_approval');

  assert.deepEqual(employee.problems, []);
  assert.deepEqual(approver.problems, []);
});
