// Federated sign-in in a real browser (issue 6, journey 1): the administrator sets up an
// OpenID Connect IdP (a real npm oidc-provider), an account, a provisioned permission set and
// an assignment for a group the IdP asserts; the employee clicks "Sign in with …" on
// Gatehouse's sign-in page, signs in on the provider's own login page, lands in the portal
// signed in, gets STS credentials, and "My account" says how they signed in. A refused
// sign-in comes back to the sign-in page with a readable message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startServer, BOOTSTRAP_PASSWORD, repoRoot } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';
import { api } from '../lib/api.mjs';

const ACCOUNT = '2345678901234567';
const CLIENT_SECRET = 'gatehouse-test-client-secret-0123456789';

/** Starts e2e/oidc/provider.mjs for `redirectUri`; resolves to { issuer, stop() }. */
async function startProvider(redirectUri) {
  const child = spawn(process.execPath, [join(repoRoot, 'e2e', 'oidc', 'provider.mjs'), '--redirect-uri', redirectUri], {
    cwd: join(repoRoot, 'e2e'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((res) => child.once('exit', res));
  const started = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`oidc-provider did not start within 30 s:\n${err}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) { clearTimeout(timer); res(JSON.parse(line)); }
    });
    exited.then((code) => { clearTimeout(timer); rej(new Error(`oidc-provider exited (${code}):\n${err}`)); });
  });
  return {
    issuer: started.issuer,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

async function expectPath(page, expected) {
  await page.waitForURL((u) => u.pathname + u.search === expected, { timeout: 15_000 });
}

function created(r, what) {
  assert.ok(r.status === 201 || r.status === 200, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

test('an employee signs in with an OpenID Connect IdP and gets STS credentials', { timeout: 240_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());

  // The administrator: the IdP first (its redirect URI is needed to register the client),
  // then the provider, then the IdP pointed at it.
  const admin = await newPage(browser, { baseURL: server.url });
  await admin.page.goto('/login');
  await admin.page.getByLabel('Username').fill('admin');
  await admin.page.getByLabel('Password').fill(BOOTSTRAP_PASSWORD);
  await admin.page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expectPath(admin.page, '/portal');
  const idp = created(await api(admin.page, 'POST', '/api/v1/idps', {
    name: 'Example Corp', kind: 'oidc', jit_create: true,
    oidc: { issuer: 'http://127.0.0.1:1', client_id: 'gatehouse', client_secret: CLIENT_SECRET, scopes: ['groups'] },
  }), 'IdP');
  assert.equal(idp.sp.redirect_uri, `${server.url}/auth/oidc/${idp.id}/callback`);
  const provider = await startProvider(idp.sp.redirect_uri);
  t.after(() => provider.stop());
  created(await api(admin.page, 'PATCH', `/api/v1/idps/${idp.id}`, {
    oidc: { issuer: provider.issuer, client_id: 'gatehouse', scopes: ['groups'] },
  }), 'IdP issuer');
  const group = created(await api(admin.page, 'POST', '/api/v1/groups', { name: 'engineers' }), 'group');
  created(await api(admin.page, 'POST', '/api/v1/accounts', { id: ACCOUNT, name: 'Data platform', environment: 'production' }), 'account');
  const set = created(await api(admin.page, 'POST', '/api/v1/permission-sets', {
    name: 'Eng-ReadOnly', description: 'Read ECS', system_policies: ['AliyunECSReadOnlyAccess'],
  }), 'permission set');
  created(await api(admin.page, 'POST', '/api/v1/assignments', {
    principal_type: 'group', principal_id: group.id, account_id: ACCOUNT, permission_set_id: set.id,
  }), 'assignment');
  assert.equal((await api(admin.page, 'POST', `/api/v1/permission-sets/${set.id}/provision`, {})).status, 200);
  await admin.context.close();

  // 1. The sign-in page offers the IdP, carrying the path the person was going to.
  const { page, problems, context } = await newPage(browser, { baseURL: server.url });
  await page.goto('/portal');
  await expectPath(page, '/login?next=%2Fportal');
  const button = page.getByRole('link', { name: 'Sign in with Example Corp' });
  await button.waitFor();
  assert.equal(await button.getAttribute('href'), `/auth/oidc/${idp.id}/login?return_to=%2Fportal`);
  await page.getByLabel('Username').waitFor(); // local sign-in is still offered
  await screenshot(page, 'oidc-signin-page');
  assert.deepEqual(problems, [], 'the sign-in page reported no errors');

  // 2. On the provider's own login page (its stylesheet imports a web font this offline
  // machine cannot fetch, so its "load" never comes and what the browser says there is not
  // Gatehouse's: wait for navigation commits, and judge problems only on Gatehouse's pages).
  await button.click();
  await page.waitForURL((u) => u.origin === provider.issuer, { timeout: 15_000, waitUntil: 'commit' });
  await page.locator('input[name="login"]').fill('alice');
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  // No consent screen for this first-party client; if one shows, continue.
  const back = page.waitForURL((u) => u.origin === server.url, { timeout: 15_000, waitUntil: 'commit' }).then(() => 'back', () => 'timeout');
  const consent = page.getByRole('button', { name: 'Continue' }).waitFor({ timeout: 15_000 }).then(() => 'consent', () => 'timeout');
  if ((await Promise.race([back, consent])) === 'consent') {
    await page.getByRole('button', { name: 'Continue' }).click();
  }
  await expectPath(page, '/portal');
  problems.length = 0;

  // 3. Signed in, in the portal, with the group's assignment.
  await page.getByRole('heading', { name: 'Access portal' }).waitFor();
  const card = page.getByRole('region', { name: 'Data platform', exact: true });
  await card.getByText(ACCOUNT).waitFor();
  const row = card.getByRole('group', { name: 'Eng-ReadOnly in Data platform' });
  await row.getByRole('button', { name: 'Get credentials' }).click();
  const panel = row.getByRole('region', { name: 'Credentials for Eng-ReadOnly in Data platform' });
  await panel.getByRole('timer').waitFor();
  const exports = await panel.getByText(/^export ALIBABA_CLOUD_ACCESS_KEY_ID=/).innerText();
  assert.match(exports, /ALIBABA_CLOUD_ACCESS_KEY_ID='?STS\./);
  assert.match(exports, /ALIBABA_CLOUD_SECURITY_TOKEN=/);
  await screenshot(page, 'oidc-portal-credentials');

  // 4. Who am I: the JIT-created account, its group from the IdP, and how the session began.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My account' }).click();
  await expectPath(page, '/me');
  await page.getByText('alice@example.com').waitFor();
  await page.getByText('Single sign-on (OpenID Connect').waitFor();
  await page.getByText('engineers').first().waitFor();
  await screenshot(page, 'oidc-me');
  assert.deepEqual(problems, [], 'the browser reported no errors after the IdP sign-in');
  await context.close();

  // 5. A refusal (an unknown IdP here) is a server page that leads back to the sign-in page,
  // which explains it.
  const other = await newPage(browser, { baseURL: server.url });
  const refused = await other.page.goto('/auth/oidc/no-such-idp/login');
  assert.equal(refused.status(), 404);
  await other.page.getByRole('heading', { name: 'You were not signed in' }).waitFor();
  await other.page.getByRole('link', { name: 'Back to sign-in' }).click();
  await expectPath(other.page, '/login?error=idp_unknown');
  await other.page.getByRole('alert').filter({ hasText: 'That sign-in option does not exist.' }).waitFor();
  await other.page.getByRole('alert').filter({ hasText: 'idp_unknown' }).waitFor();
  await screenshot(other.page, 'oidc-refused');
  // The 404 of the refusal page itself is the expected answer.
  assert.deepEqual(other.problems.filter((p) => !/404/.test(p)), [], 'the browser reported no errors (refusal)');
  await other.context.close();
});

test('an administrator adds and manages an OpenID Connect IdP on the identity providers page', { timeout: 240_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const { page, problems, context } = await newPage(browser, { baseURL: server.url });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await page.goto('/login');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(BOOTSTRAP_PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expectPath(page, '/portal');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Identity providers' }).click();
  await expectPath(page, '/admin/idps');
  await page.getByText('No identity providers yet.').waitFor();

  // Client-side checks use the server's rules: nothing is sent while the form is wrong.
  const add = page.getByRole('region', { name: 'Add an identity provider' });
  await add.getByLabel('Name').fill('Example Corp');
  await add.getByLabel('Issuer URL').fill('not a url');
  await add.getByRole('button', { name: 'Add identity provider' }).click();
  await add.getByText('The issuer URL starts with https:// (or http://).').waitFor();
  await add.getByText('Enter the client secret.').waitFor();

  // Added with a placeholder issuer: the redirect URI is needed to register the client.
  await add.getByLabel('Issuer URL').fill('http://127.0.0.1:1');
  await add.getByLabel('Client ID').fill('gatehouse');
  await add.getByLabel('Client secret').fill(CLIENT_SECRET);
  await add.getByLabel('Extra scopes').fill('groups');
  await add.getByRole('button', { name: 'Add identity provider' }).click();
  const detail = page.getByRole('region', { name: 'Example Corp' });
  await detail.getByText('Redirect URI').waitFor();
  const redirectUri = (await detail.locator('#sp-redirect-uri').innerText()).trim();
  assert.match(redirectUri, new RegExp(`^${server.url.replace(/[.]/g, '\\.')}/auth/oidc/[^/]+/callback$`));
  await detail.getByRole('button', { name: 'Copy Redirect URI', exact: true }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), redirectUri);
  const table = page.getByRole('table', { name: 'Identity providers' });
  await table.getByRole('row').filter({ hasText: 'Example Corp' }).getByText('enabled').waitFor();
  // The secret is write-only: only "set" is said.
  await detail.getByText('A secret is set.').waitFor();
  assert.equal(await detail.getByLabel('New client secret').inputValue(), '');

  // Pointed at the real provider, with the Keycloak preset and JIT creation.
  const provider = await startProvider(redirectUri);
  t.after(() => provider.stop());
  await detail.getByLabel('Issuer URL').fill(provider.issuer);
  await detail.getByRole('button', { name: 'Keycloak' }).click();
  assert.equal(await detail.getByLabel('Username').inputValue(), 'preferred_username');
  await detail.getByLabel('Create an account on first sign-in (JIT)').check();
  await detail.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved Example Corp.' }).waitFor();
  await table.getByRole('row').filter({ hasText: 'Example Corp' }).getByText('created on first sign-in (JIT)').waitFor();
  await screenshot(page, 'idps-admin');

  // The sign-in page offers it, and the journey works through the provider.
  const other = await newPage(browser, { baseURL: server.url });
  await other.page.goto('/login');
  await other.page.getByRole('link', { name: 'Sign in with Example Corp' }).click();
  await other.page.waitForURL((u) => u.origin === provider.issuer, { timeout: 15_000, waitUntil: 'commit' });
  await other.page.locator('input[name="login"]').fill('bob');
  await other.page.locator('input[name="password"]').fill('any password');
  await other.page.getByRole('button', { name: 'Sign-in' }).click();
  await expectPath(other.page, '/portal');
  await other.context.close();

  // Disabled: gone from the sign-in page. Then deleted, after a confirmation.
  await page.getByRole('button', { name: 'Manage Example Corp' }).click();
  await detail.getByRole('button', { name: 'Disable' }).click();
  await page.getByRole('status').filter({ hasText: 'Disabled Example Corp.' }).waitFor();
  await table.getByRole('row').filter({ hasText: 'Example Corp' }).getByText('disabled').waitFor();
  const publicList = await page.evaluate(async () => (await fetch('/api/v1/auth/idps')).json());
  assert.deepEqual(publicList, []);
  await page.getByRole('button', { name: 'Manage Example Corp' }).click();
  await detail.getByRole('button', { name: 'Delete Example Corp' }).click();
  await detail.getByRole('button', { name: 'Yes, delete Example Corp' }).click();
  await page.getByRole('status').filter({ hasText: 'Deleted Example Corp.' }).waitFor();
  await page.getByText('No identity providers yet.').waitFor();
  assert.deepEqual(problems, [], 'the browser reported no errors');
  await context.close();
});
