// Break-glass in a real browser (issue 6, journey 3): a requester asks for an account's root
// credential; one password custodian and one MFA custodian approve in their own browsers with
// a TOTP step-up; the requester reveals the root password and a 6-digit code inside the
// window; the vault shows "rotation required"; a custodian records the rotation. Then
// (journey 4) an auditor follows that request on its timeline, exports the trail as CSV and
// sees the chain verified.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import { startServer, BOOTSTRAP_PASSWORD } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';
import { freshCode, codeNow } from '../lib/totp.mjs';
import { api } from '../lib/api.mjs';

const ACCOUNT = '1234567890123456';
const ROOT_PASSWORD = 'r00t-password-for-the-journey';
const ROOT_SEED = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

async function signIn(page, username, password) {
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/portal', { timeout: 10_000 });
}

function ok(r, what) {
  assert.ok(r.status === 200 || r.status === 201 || r.status === 204, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Enrols TOTP for the page's user; returns { secret, step } (the step the enrolment used). */
async function enrolTotp(page) {
  const e = ok(await api(page, 'POST', '/api/v1/me/mfa/totp', {}), 'enrol');
  const { code, step } = codeNow(e.secret_base32);
  ok(await api(page, 'POST', '/api/v1/me/mfa/totp/confirm', { code }), 'confirm');
  return { secret: e.secret_base32, step };
}

test('break-glass: ask, split-custody approval, reveal, rotation', { timeout: 300_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());

  // The administrator's set-up, through the API: the account, three people, two custodian
  // groups and the sealed root credential.
  const admin = await newPage(browser, { baseURL: server.url });
  await signIn(admin.page, 'admin', BOOTSTRAP_PASSWORD);
  ok(await api(admin.page, 'POST', '/api/v1/accounts', { id: ACCOUNT, name: 'Payments production', environment: 'production' }), 'account');
  const users = {};
  for (const name of ['rita', 'pam', 'max', 'aude']) {
    users[name] = ok(await api(admin.page, 'POST', '/api/v1/users', {
      username: name, email: `${name}@example.com`, display_name: name, password: `${name}-password-123`,
    }), name);
  }
  const pwGroup = ok(await api(admin.page, 'POST', '/api/v1/groups', { name: 'root-password-custodians' }), 'group');
  const mfaGroup = ok(await api(admin.page, 'POST', '/api/v1/groups', { name: 'root-mfa-custodians' }), 'group');
  ok(await api(admin.page, 'PUT', `/api/v1/groups/${pwGroup.id}/members/${users.pam.id}`), 'pam joins');
  ok(await api(admin.page, 'PUT', `/api/v1/groups/${mfaGroup.id}/members/${users.max.id}`), 'max joins');
  const auditors = ok(await api(admin.page, 'POST', '/api/v1/groups', { name: 'auditors', roles: ['auditor'] }), 'auditors');
  ok(await api(admin.page, 'PUT', `/api/v1/groups/${auditors.id}/members/${users.aude.id}`), 'aude joins');
  ok(await api(admin.page, 'POST', '/api/v1/break-glass/vault', {
    account_id: ACCOUNT, password: ROOT_PASSWORD, totp_seed: ROOT_SEED,
    password_group_id: pwGroup.id, mfa_group_id: mfaGroup.id,
  }), 'vault entry');
  await admin.context.close();

  // The custodians sign in and set up their authenticators.
  const pam = await newPage(browser, { baseURL: server.url });
  await signIn(pam.page, 'pam', 'pam-password-123');
  const pamTotp = await enrolTotp(pam.page);
  const max = await newPage(browser, { baseURL: server.url });
  await signIn(max.page, 'max', 'max-password-123');
  const maxTotp = await enrolTotp(max.page);

  // 1. Rita asks. She has an authenticator too: using the window takes a fresh step-up of
  // her own (enrolling counts as one).
  const rita = await newPage(browser, { baseURL: server.url });
  await signIn(rita.page, 'rita', 'rita-password-123');
  await enrolTotp(rita.page);
  await rita.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Break-glass' }).click();
  await rita.page.getByRole('heading', { name: 'Ask for root access' }).waitFor();
  await rita.page.getByLabel('Justification').fill('Root MFA device lost; the account is locked out (INC-77)');
  await rita.page.getByRole('button', { name: 'Request break-glass' }).click();
  // Truthful: with no e-mail or webhook set up, it says whom to ask instead.
  await rita.page.getByText(/^Requested\. No e-mail or webhook is set up, so no one was told: ask .+ to decide it\.$/).waitFor();
  const table = rita.page.getByRole('table', { name: 'Break-glass requests' });
  await table.getByText('pending').waitFor();
  await table.getByRole('link', { name: 'Open' }).click();
  await rita.page.waitForURL(/\/break-glass\/[0-9a-f-]+$/);
  const detailPath = new URL(rita.page.url()).pathname;
  await rita.page.getByRole('heading', { name: 'Root access to Payments production' }).waitFor();
  assert.equal(await rita.page.getByRole('button', { name: 'Approve' }).count(), 0, 'no approve button on one\'s own request');

  // 2. The request waits in each custodian's approvals inbox (counted in the navigation);
  // one password custodian and one MFA custodian approve, each with a fresh code.
  await pam.page.goto('/approvals');
  const nav = pam.page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: /Approvals/ }).getByLabel('1 waiting').waitFor();
  const waitingCard = pam.page.getByRole('region', { name: /asks for the root credential of Payments production/ });
  await waitingCard.getByText('Root MFA device lost; the account is locked out (INC-77)').waitFor();
  await screenshot(pam.page, 'breakglass-in-approvals');
  await waitingCard.getByRole('link', { name: 'Open to decide' }).click();
  await pam.page.waitForURL((u) => u.pathname === detailPath);
  for (const [who, totp, group] of [[pam, pamTotp, 'Password custodians'], [max, maxTotp, 'MFA custodians']]) {
    await who.page.goto(detailPath);
    await who.page.getByRole('heading', { name: 'Your decision' }).waitFor();
    const { code } = await freshCode(totp.secret, { usedStep: totp.step });
    await who.page.getByLabel('Authenticator code').fill(code);
    await who.page.getByLabel('Comment').fill('Confirmed with the incident commander');
    await who.page.getByRole('button', { name: 'Approve' }).click();
    await who.page.getByRole('region', { name: group }).getByText('1 of 1').waitFor();
  }

  // 3. Rita's window is open: she reveals the password and the current code.
  await rita.page.reload();
  await rita.page.getByRole('heading', { name: 'Your window is open' }).waitFor();
  assert.match(await rita.page.getByRole('timer').innerText(), /^Closes in 1[45]:\d\d$/);
  await rita.page.getByRole('button', { name: 'Reveal root password' }).click();
  const shownPassword = (await rita.page.locator('#revealed-password').innerText()).trim();
  assert.equal(shownPassword, ROOT_PASSWORD);
  await rita.page.getByRole('button', { name: 'Reveal TOTP code' }).click();
  const shownCode = (await rita.page.locator('#revealed-totp').innerText()).trim();
  assert.match(shownCode, /^\d{6}$/);
  const root = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(ROOT_SEED), digits: 6, period: 30 });
  const now = Date.now();
  assert.ok([now, now - 30_000].map((ts) => root.generate({ timestamp: ts })).includes(shownCode), 'the code of the current step');
  await screenshot(rita.page, 'breakglass-reveal');

  // 4. The vault says "rotation required"; a custodian records the rotation.
  await rita.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Root vault' }).click();
  const vault = rita.page.getByRole('table', { name: 'Vault entries' });
  await vault.getByText('rotation required').waitFor();
  await pam.page.goto('/vault');
  await pam.page.getByRole('table', { name: 'Vault entries' }).getByText('rotation required').waitFor();
  await pam.page.getByRole('button', { name: 'Record rotation for Payments production' }).click();
  await pam.page.getByLabel('New root password').fill('a-brand-new-root-password');
  await pam.page.getByRole('button', { name: 'Save rotation' }).click();
  await pam.page.getByRole('table', { name: 'Vault entries' }).getByText('rotated').waitFor();
  assert.equal(await pam.page.getByText('rotation required').count(), 0);
  await screenshot(pam.page, 'breakglass-vault-rotated');

  // 5. Journey 4: Aude, an auditor, follows the request's story, exports it, verifies the chain.
  const requestId = detailPath.split('/').pop();
  const aude = await newPage(browser, { baseURL: server.url });
  await signIn(aude.page, 'aude', 'aude-password-123');
  await aude.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
  await aude.page.getByRole('heading', { name: 'Audit trail' }).waitFor();
  await aude.page.getByLabel('Target ID').fill(requestId);
  await aude.page.getByRole('button', { name: 'Search' }).click();
  const events = aude.page.getByRole('table', { name: 'Audit events, newest first' });
  await events.getByText('breakglass.reveal_totp').waitFor();
  await events.getByRole('link', { name: `Timeline of ${requestId}` }).first().click();
  await aude.page.waitForURL((u) => u.pathname === `/audit/timeline/${requestId}`);
  const story = aude.page.getByRole('list', { name: 'Timeline' });
  await story.getByText('breakglass.reveal_password').waitFor();
  const actions = await story.locator('.timeline-head code').allInnerTexts();
  const order = ['breakglass.create', 'breakglass.approve', 'breakglass.approved', 'breakglass.reveal_password', 'breakglass.reveal_totp'];
  const positions = order.map((a) => actions.indexOf(a));
  assert.ok(positions.every((p) => p >= 0), `the story has every step: ${actions.join(', ')}`);
  assert.deepEqual([...positions].sort((a, b) => a - b), positions, `in order: ${actions.join(', ')}`);
  assert.equal(actions.filter((a) => a === 'breakglass.approve').length, 2, 'one approval per custodian');
  await screenshot(aude.page, 'audit-timeline');

  // Export what the search shows as CSV: a real download with the request's events in it.
  await aude.page.goBack();
  await aude.page.getByLabel('Target ID').fill(requestId);
  await aude.page.getByRole('button', { name: 'Search' }).click();
  await events.getByText('breakglass.reveal_totp').waitFor();
  // The link is what the browser downloads; fetch it as the page would (Chromium's download
  // manager cancels downloads in this headless set-up) and check the file.
  const exportLink = aude.page.getByRole('link', { name: 'Export CSV' });
  assert.equal(await exportLink.getAttribute('download'), '');
  const href = await exportLink.getAttribute('href');
  const file = await aude.page.evaluate(async (href) => {
    const r = await fetch(href);
    return { status: r.status, disposition: r.headers.get('content-disposition'), body: await r.text() };
  }, href);
  assert.equal(file.status, 200);
  assert.match(file.disposition, /^attachment; filename="gatehouse-audit-\d+\.csv"$/);
  const csv = file.body;
  const lines = csv.trim().split('\n');
  assert.ok(lines[0].startsWith('seq,occurred_at,actor_id,actor_name'), lines[0]);
  assert.ok(csv.includes('breakglass.reveal_password') && csv.includes(requestId));
  assert.ok(!csv.includes(ROOT_PASSWORD) && !csv.includes(ROOT_SEED), 'no secret in the trail');

  // The chain, verified and said plainly.
  await aude.page.getByRole('button', { name: 'Verify chain' }).click();
  await aude.page.getByRole('status').filter({ hasText: /^Chain intact: \d+ events/ }).waitFor();
  await screenshot(aude.page, 'audit-verified');

  for (const who of [rita, pam, max, aude]) {
    assert.deepEqual(who.problems, []);
  }
});
