// A real (emulated) Alibaba Cloud account in a real browser (issue 14): an administrator adds
// an Alibaba Cloud account, opens its setup kit and downloads it; the account's owner runs the
// kit's steps with the official SDK against the Alibaba Cloud emulator (e2e/alibaba); the
// administrator creates a permission set, assigns it and provisions it for real (the role is
// created in the emulator's RAM); the employee signs in and "Console ↗" on the portal opens a
// new tab that signs in to the emulator's console through SAML as the provisioned role.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, BOOTSTRAP_PASSWORD, repoRoot } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';
import { api } from '../lib/api.mjs';

const ACCOUNT = '1111222233334444';
const ACCOUNT_NAME = 'Cloud production';
const PERMISSION_SET = 'Ecs-Reader';
const PYTHON = join(repoRoot, 'e2e', 'sdk', '.venv', 'bin', 'python');
const run = promisify(execFile);

/** The emulator on a free loopback port; resolves to { port, url, stop() }. */
async function startEmulator() {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-alibaba-'));
  const ready = join(dir, 'ready.json');
  const child = spawn(PYTHON, [join(repoRoot, 'e2e', 'alibaba', 'emulator.py'), '--port', '0', '--ready-file', ready, '--quiet'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((res) => child.once('exit', res));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (existsSync(ready)) {
      try {
        const { port } = JSON.parse(readFileSync(ready, 'utf8'));
        if (port) return { port, url: `http://127.0.0.1:${port}`, logs: () => err, stop };
      } catch {
        // not complete yet
      }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the emulator did not start:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function expectPath(page, expected) {
  await page.waitForURL((u) => u.pathname + u.search === expected, { timeout: 10_000 });
}

async function signIn(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('an Alibaba Cloud account: setup kit, provisioning for real, console sign-in through SAML', { timeout: 300_000 }, async (t) => {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const rootKey = await (await fetch(`${emu.url}/_emulator/accounts`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ account_id: ACCOUNT }),
  })).json();
  assert.ok(rootKey.access_key_id && rootKey.access_key_secret, JSON.stringify(rootKey));

  const server = await startServer({
    env: {
      GATEHOUSE_ALIBABA_STS_ENDPOINT: emu.url,
      GATEHOUSE_ALIBABA_RAM_ENDPOINT: emu.url,
      GATEHOUSE_ALIBABA_SIGNIN_URL: `${emu.url}/saml-role/sso`,
    },
  });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());

  // 1. The administrator adds the account, provider "Alibaba Cloud".
  const admin = await newPage(browser, { baseURL: server.url });
  const { page } = admin;
  await page.goto('/admin/accounts');
  await expectPath(page, '/login?next=%2Fadmin%2Faccounts');
  await signIn(page, 'admin', BOOTSTRAP_PASSWORD);
  await expectPath(page, '/admin/accounts');
  await page.getByLabel('Account ID').fill(ACCOUNT);
  await page.getByLabel('Account name').fill(ACCOUNT_NAME);
  await page.getByLabel('Environment').fill('production');
  await page.getByLabel('Provider', { exact: true }).selectOption({ label: 'Alibaba Cloud' });
  await page.getByLabel('Alibaba Cloud site').waitFor();
  await page.getByRole('button', { name: 'Add account' }).click();
  const added = page.getByRole('status').filter({ hasText: `Added account ${ACCOUNT_NAME} (${ACCOUNT})` });
  await added.waitFor();
  await page.getByRole('table', { name: 'Accounts' }).getByRole('row').filter({ hasText: ACCOUNT }).getByText('Alibaba Cloud').waitFor();

  // 2. Its setup kit: what it creates, the steps, and files to download.
  await added.getByRole('link', { name: 'open the setup kit' }).click();
  await expectPath(page, `/admin/accounts/${ACCOUNT}/setup`);
  await page.getByRole('heading', { name: `Setup kit for ${ACCOUNT_NAME} (${ACCOUNT})`, level: 1 }).waitFor();
  await page.getByText(`acs:ram::${ACCOUNT}:saml-provider/`).first().waitFor();
  await page.getByText(`acs:ram::${ACCOUNT}:role/`).first().waitFor();
  for (const action of ['IMS CreateSAMLProvider', 'RAM CreatePolicy', 'RAM CreateRole', 'RAM AttachPolicyToRole']) {
    await page.locator('ol.steps').getByText(new RegExp(`^${action} \\(`)).waitFor();
  }
  const [cliDownload] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download aliyun CLI commands as gatehouse-setup.sh' }).click(),
  ]);
  assert.equal(cliDownload.suggestedFilename(), 'gatehouse-setup.sh');
  const cli = readFileSync(await cliDownload.path(), 'utf8');
  assert.match(cli, /aliyun ims CreateSAMLProvider/);
  assert.match(cli, /aliyun ram CreateRole --RoleName GatehouseProvisioner/);
  const [metadataDownload] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download IdP metadata as gatehouse-idp-metadata.xml' }).click(),
  ]);
  assert.match(readFileSync(await metadataDownload.path(), 'utf8'), /EntityDescriptor/);
  const kitShot = await screenshot(page, 'alibaba-setup-kit');

  // 3. The account's owner runs the kit's steps with the official SDK and the root key.
  const kit = await api(page, 'GET', `/api/v1/accounts/${ACCOUNT}/setup-kit`);
  assert.equal(kit.status, 200, JSON.stringify(kit.body));
  assert.equal(kit.body.steps.length, 4);
  for (const step of kit.body.steps) {
    const params = JSON.stringify(Object.fromEntries(step.parameters));
    const { stdout } = await run(PYTHON, [
      join(repoRoot, 'e2e', 'alibaba', 'sdk_client.py'), step.product, step.action, '--params', params,
      '--endpoint', `127.0.0.1:${emu.port}`, `--ak=${rootKey.access_key_id}`, `--sk=${rootKey.access_key_secret}`,
    ], { maxBuffer: 10 * 1024 * 1024 });
    const out = JSON.parse(stdout.trim());
    assert.equal(out.ok, true, `${step.product} ${step.action}: ${stdout}`);
  }

  // 4. An employee (through the API), and a permission set made, assigned and provisioned on the pages.
  const user = await api(page, 'POST', '/api/v1/users', {
    username: 'erin', email: 'erin@example.com', display_name: 'Erin Engineer', password: 'erin-password-123',
  });
  assert.equal(user.status, 201, JSON.stringify(user.body));
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Permission sets' }).click();
  await page.getByRole('heading', { name: 'Permission sets', level: 1 }).waitFor();
  const create = page.getByRole('region', { name: 'Create a permission set' });
  await create.getByLabel('Permission set name').fill(PERMISSION_SET);
  await create.getByLabel('Description', { exact: true }).fill('Read ECS');
  await create.getByLabel('Relay state URL').fill('https://ecs.console.aliyun.com/');
  await create.getByPlaceholder('Filter system policies').fill('ecs');
  await create.getByLabel('AliyunECSReadOnlyAccess', { exact: true }).check();
  await create.getByRole('button', { name: 'Create permission set' }).click();
  await page.getByRole('status').filter({ hasText: `Created permission set ${PERMISSION_SET}.` }).waitFor();
  await page.getByRole('table', { name: 'Permission sets' }).getByRole('link', { name: PERMISSION_SET }).click();
  await page.getByRole('heading', { name: `Permission set ${PERMISSION_SET}` }).waitFor();

  const assignments = page.getByRole('region', { name: 'Assignments' });
  await assignments.getByRole('button', { name: 'Assign' }).click();
  await assignments.getByLabel('Assign to').selectOption('user');
  await assignments.getByLabel('User', { exact: true }).selectOption({ label: 'Erin Engineer (erin)' });
  await assignments.getByLabel('Account', { exact: true }).selectOption({ label: `${ACCOUNT_NAME} (${ACCOUNT})` });
  await assignments.getByRole('button', { name: 'Assign' }).click();
  await page.getByRole('status').filter({ hasText: `Assigned to erin on account ${ACCOUNT}` }).waitFor();

  const roles = page.getByRole('region', { name: 'Provisioning' });
  const roleRow = roles.getByRole('table', { name: 'Roles in accounts' }).getByRole('row').filter({ hasText: ACCOUNT });
  await roleRow.getByText('not provisioned').waitFor();
  await roles.getByRole('button', { name: `Provision in account ${ACCOUNT}` }).click();
  await roleRow.getByText('provisioned', { exact: true }).waitFor({ timeout: 30_000 });
  // The role is real: it exists in the emulator's RAM.
  const state = await (await fetch(`${emu.url}/_emulator/state?account=${ACCOUNT}`)).json();
  const roleNames = state.roles.map((r) => r.RoleName.toLowerCase());
  assert.ok(roleNames.includes(`gatehousesso-${PERMISSION_SET.toLowerCase()}`), JSON.stringify(roleNames));
  await admin.context.close();

  // 5. The employee opens the console from the portal: a new tab signs in through SAML.
  const erin = await newPage(browser, { baseURL: server.url });
  await erin.page.goto('/');
  await signIn(erin.page, 'erin', 'erin-password-123');
  await expectPath(erin.page, '/portal');
  const card = erin.page.getByRole('region', { name: ACCOUNT_NAME, exact: true });
  const row = card.getByRole('group', { name: `${PERMISSION_SET} in ${ACCOUNT_NAME}` });
  const [tab] = await Promise.all([
    erin.context.waitForEvent('page'),
    row.getByRole('button', { name: `Open the console as ${PERMISSION_SET} in ${ACCOUNT_NAME} (new tab)` }).click(),
  ]);
  await tab.waitForURL((u) => u.href.startsWith(`${emu.url}/`), { timeout: 20_000 });
  const signedInAs = tab.locator('#signed-in-as');
  await signedInAs.waitFor({ timeout: 20_000 });
  const text = await signedInAs.innerText();
  assert.match(text, new RegExp(`acs:ram::${ACCOUNT}:.*gatehousesso-`));
  assert.match(text, /gatehousesso-ecs-reader/);
  assert.equal(await tab.locator('#relay-state').innerText(), 'https://ecs.console.aliyun.com/');
  const landingShot = await screenshot(tab, 'alibaba-console-landing');
  assert.equal(await row.getByRole('alert').count(), 0, 'no console error on the portal');
  await erin.context.close();

  t.diagnostic(`screenshots: ${kitShot} ${landingShot}`);
  assert.deepEqual(admin.problems, [], 'the browser reported no errors (administrator)');
  assert.deepEqual(erin.problems, [], 'the browser reported no errors (employee)');
});
