// SAML 2.0 sign-in in a real browser against a real IdP (pysaml2 signing with xmlsec1, run
// by e2e/saml/idp.py): the administrator adds the IdP on the identity providers page from
// its metadata URL; an employee clicks "Sign in with …", the IdP answers the AuthnRequest
// with a page that posts the signed Response to the ACS, and the employee lands in the
// portal, signed in as the JIT-created account with the group the assertion names, and gets
// STS credentials. Then a certificate rollover on the page: the IdP's next certificate is
// added (both trusted), the current one removed (its signatures are refused), and the
// metadata imported again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, BOOTSTRAP_PASSWORD, repoRoot } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';
import { api } from '../lib/api.mjs';

const ACCOUNT = '3456789012345678';
const PYTHON = join(repoRoot, 'e2e', 'saml', '.venv', 'bin', 'python');
const IDP = join(repoRoot, 'e2e', 'saml', 'idp.py');
const ENTITY = 'https://idp.example.test/saml';

/** Starts the pysaml2 IdP in HTTP mode with fresh keys; resolves to { url, stop() }. */
async function startIdp() {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-saml-idp-'));
  execFileSync(PYTHON, [IDP, 'keys', dir], { stdio: 'pipe' });
  const child = spawn(PYTHON, [IDP, 'serve', dir, '0', ENTITY], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((res) => child.once('exit', res));
  const started = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`the SAML IdP did not start within 30 s:\n${err}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) { clearTimeout(timer); res(JSON.parse(line)); }
    });
    exited.then((code) => { clearTimeout(timer); rej(new Error(`the SAML IdP exited (${code}):\n${err}`)); });
  });
  return {
    url: started.listening,
    dir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function created(r, what) {
  assert.ok(r.status === 201 || r.status === 200, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

test('an administrator adds a SAML IdP from its metadata URL and an employee signs in through it', { timeout: 240_000 }, async (t) => {
  const idp = await startIdp();
  t.after(() => idp.stop());
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());

  // The administrator: a group the IdP asserts, with an assignment; then the IdP on its page.
  const admin = await newPage(browser, { baseURL: server.url });
  const a = admin.page;
  await a.goto('/login');
  await a.getByLabel('Username').fill('admin');
  await a.getByLabel('Password').fill(BOOTSTRAP_PASSWORD);
  await a.getByRole('button', { name: 'Sign in', exact: true }).click();
  await a.waitForURL((u) => u.pathname === '/portal');
  const group = created(await api(a, 'POST', '/api/v1/groups', { name: 'engineers' }), 'group');
  created(await api(a, 'POST', '/api/v1/accounts', { id: ACCOUNT, name: 'Analytics', environment: 'production' }), 'account');
  const set = created(await api(a, 'POST', '/api/v1/permission-sets', {
    name: 'Eng-ReadOnly', description: 'Read ECS', system_policies: ['AliyunECSReadOnlyAccess'],
  }), 'permission set');
  created(await api(a, 'POST', '/api/v1/assignments', {
    principal_type: 'group', principal_id: group.id, account_id: ACCOUNT, permission_set_id: set.id,
  }), 'assignment');
  assert.equal((await api(a, 'POST', `/api/v1/permission-sets/${set.id}/provision`, {})).status, 200);

  await a.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Identity providers' }).click();
  await a.getByText('No identity providers yet.').waitFor();
  const add = a.getByRole('region', { name: 'Add an identity provider' });
  await add.getByLabel('Kind').selectOption('saml');
  await add.getByLabel('Name').fill('Example SAML');
  await add.getByLabel('…or metadata URL').fill(`${idp.url}/metadata`);
  await add.getByLabel('Create an account on first sign-in (JIT)').check();
  await add.getByRole('button', { name: 'Add identity provider' }).click();
  const detail = a.getByRole('region', { name: 'Example SAML' });
  // What the IdP's administrator needs: the ACS URL and the SP metadata, from this server.
  const acs = (await detail.locator('#sp-acs-url').innerText()).trim();
  assert.match(acs, new RegExp(`^${server.url.replace(/[.]/g, '\\.')}/auth/saml/[^/]+/acs$`));
  const table = a.getByRole('table', { name: 'Identity providers' });
  const row = table.getByRole('row').filter({ hasText: 'Example SAML' });
  await row.getByText('enabled').waitFor();
  assert.match(await row.innerText(), /SAML/);
  // What is trusted: one certificate, the IdP's, by its SHA-256 fingerprint; it cannot be
  // removed while it is the only one.
  const pem = (name) => readFileSync(join(idp.dir, name), 'utf8');
  const print = (name) => new X509Certificate(pem(name)).fingerprint256;
  const certs = detail.getByRole('list', { name: 'Signing certificates' });
  await certs.getByLabel('Fingerprint of certificate 1').filter({ hasText: print('idp.crt') }).waitFor();
  assert.equal(await certs.getByRole('listitem').count(), 1);
  assert.equal(await certs.getByRole('button', { name: 'Remove certificate 1' }).isDisabled(), true);
  // Rollover, step 1: the IdP's next certificate is added; both are trusted.
  await detail.getByLabel('Add a signing certificate (rollover)').fill(pem('other.crt'));
  await detail.getByRole('button', { name: 'Add certificate' }).click();
  await a.getByRole('status').filter({ hasText: 'now trusts 2 signing certificates' }).waitFor();
  await certs.getByLabel('Fingerprint of certificate 2').filter({ hasText: print('other.crt') }).waitFor();
  await screenshot(a, 'saml-idp-added');

  // The employee: from the sign-in page through the IdP's auto-posting page to the portal.
  const { page, problems, context } = await newPage(browser, { baseURL: server.url });
  await page.goto('/portal');
  await page.waitForURL((u) => u.pathname === '/login');
  await page.getByRole('link', { name: 'Sign in with Example SAML' }).click();
  await page.waitForURL((u) => u.origin === server.url && u.pathname === '/portal', { timeout: 20_000 });
  await page.getByRole('heading', { name: 'Access portal' }).waitFor();
  const card = page.getByRole('region', { name: 'Analytics', exact: true });
  const entry = card.getByRole('group', { name: 'Eng-ReadOnly in Analytics' });
  await entry.getByRole('button', { name: 'Get credentials' }).click();
  const panel = entry.getByRole('region', { name: 'Credentials for Eng-ReadOnly in Analytics' });
  const exports = await panel.getByText(/^export ALIBABA_CLOUD_ACCESS_KEY_ID=/).innerText();
  assert.match(exports, /ALIBABA_CLOUD_ACCESS_KEY_ID='?STS\./);
  await screenshot(page, 'saml-portal-credentials');

  // Who am I: the JIT account from the assertion's attributes, and how the session began.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My account' }).click();
  await page.getByText('alice@example.com').first().waitFor();
  await page.getByText('Single sign-on (SAML, Example SAML)').waitFor();
  await page.getByText('engineers').first().waitFor();
  // No Gatehouse password to change: the page says where it lives instead of a form.
  const password = page.getByRole('region', { name: 'Password' });
  await password.getByText('You sign in through your identity provider').waitFor();
  assert.equal(await password.getByLabel('Current password').count(), 0, 'no password form');
  await page.getByText('Set one up to confirm approvals, break-glass and other sensitive actions').waitFor();
  await screenshot(page, 'saml-my-account');
  assert.deepEqual(problems, [], 'the browser reported no errors');
  await context.close();

  // Rollover, step 2, done too early: with the IdP's current certificate removed, its
  // signatures are refused.
  await certs.getByRole('button', { name: 'Remove certificate 1' }).click();
  await a.getByRole('status').filter({ hasText: 'Removed certificate 1 of Example SAML.' }).waitFor();
  await certs.getByLabel('Fingerprint of certificate 1').filter({ hasText: print('other.crt') }).waitFor();
  const refused = await newPage(browser, { baseURL: server.url });
  await refused.page.goto('/login');
  await refused.page.getByRole('link', { name: 'Sign in with Example SAML' }).click();
  await refused.page.getByRole('heading', { name: 'You were not signed in' }).waitFor();
  await refused.context.close();
  // Importing the metadata again trusts exactly what the IdP publishes.
  await detail.getByLabel('…or from the metadata URL').fill(`${idp.url}/metadata`);
  await detail.getByRole('button', { name: 'Replace from metadata' }).click();
  await a.getByRole('status').filter({ hasText: '(1 signing certificate(s))' }).waitFor();
  await certs.getByLabel('Fingerprint of certificate 1').filter({ hasText: print('idp.crt') }).waitFor();
  assert.equal(await certs.getByRole('listitem').count(), 1);
  assert.deepEqual(admin.problems.filter((p) => !/403|401/.test(p)), [], 'the administrator\'s browser reported no errors');
  await admin.context.close();
});
