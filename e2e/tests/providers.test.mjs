// One account of each provider in one Gatehouse (issue 15): `local` (Gatehouse's own STS),
// `alibaba` (the strict Alibaba Cloud emulator, e2e/alibaba, its setup kit applied with the
// official SDK) and `aws` (moto with access control on, e2e/aws, its setup kit applied with
// boto3). One permission set is assigned to an employee on all three and provisioned from its
// page; a second is eligible for just-in-time access on all three with one approver. In the
// browser the employee's portal shows the three accounts with their provider and gives
// credentials for each, which work in that cloud with its own SDK (Gatehouse's STS through
// the Alibaba Cloud SDK, the emulator's STS through the Alibaba Cloud SDK, moto's STS through
// boto3, also from the shell lines and the credentials URL the page shows for AWS); the
// employee asks for access on the AWS account, the approver approves, and the grant's
// credentials work in moto; an auditor's audit page shows the credential events of the three
// accounts alike.

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

const SDK_PYTHON = join(repoRoot, 'e2e', 'sdk', '.venv', 'bin', 'python');
const AWS_PYTHON = join(repoRoot, 'e2e', 'aws', '.venv', 'bin', 'python');
const run = promisify(execFile);

// Names that do not give the provider away: the page has to.
const ACCOUNTS = {
  local: { id: '9100000000000001', name: 'Payments sandbox', environment: 'development', provider: 'local', label: 'Local (Gatehouse STS)' },
  alibaba: { id: '1111222233334444', name: 'Payments Hangzhou', environment: 'production', provider: 'alibaba', label: 'Alibaba Cloud' },
  // moto's default account: its bootstrap calls land there.
  aws: { id: '123456789012', name: 'Payments Virginia', environment: 'production', provider: 'aws', label: 'AWS' },
};
const ALL = [ACCOUNTS.local, ACCOUNTS.alibaba, ACCOUNTS.aws];
const READER = 'Reader';
const OPS = 'Ops-Admin';
const IAM_READ = 'arn:aws:iam::aws:policy/IAMReadOnlyAccess';

/** Runs a Python client that prints one JSON line; resolves to that line, parsed. */
async function json(python, script, args, { env } = {}) {
  const { stdout, stderr } = await run(python, [script, ...args], { maxBuffer: 10 * 1024 * 1024, env });
  try {
    return JSON.parse(stdout.trim());
  } catch {
    throw new Error(`${script} ${args[0]}: ${stdout}\n${stderr}`);
  }
}

/**
 * A Python server writing {"port": P} to its ready file once it listens; resolves to
 * { port, url, stop() }.
 */
async function startPython(what, python, script, args) {
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-${what}-`));
  const ready = join(dir, 'ready.json');
  const child = spawn(python, [script, ...args, '--ready-file', ready, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
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
        if (port) return { port, url: `http://127.0.0.1:${port}`, stop };
      } catch {
        // not complete yet
      }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${what} did not start:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The Alibaba Cloud emulator, with the account and its owner's root AccessKey. */
async function alibabaCloud() {
  const emu = await startPython('alibaba', SDK_PYTHON, join(repoRoot, 'e2e', 'alibaba', 'emulator.py'), ['--port', '0']);
  const r = await fetch(`${emu.url}/_emulator/accounts`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ account_id: ACCOUNTS.alibaba.id }),
  });
  const root = await r.json();
  assert.ok(root.access_key_id && root.access_key_secret, JSON.stringify(root));
  const sdk = (mode, action, { params, keys } = {}) => json(SDK_PYTHON, join(repoRoot, 'e2e', 'alibaba', 'sdk_client.py'), [
    mode, ...(action ? [action] : []), '--endpoint', `127.0.0.1:${emu.port}`,
    ...(params ? ['--params', JSON.stringify(params)] : []),
    `--ak=${keys.ak}`, `--sk=${keys.sk}`, ...(keys.token ? [`--token=${keys.token}`] : []),
  ]);
  return { ...emu, root: { ak: root.access_key_id, sk: root.access_key_secret }, sdk };
}

/** moto (IAM, STS) with access control on after the owner's three bootstrap calls. */
async function awsCloud() {
  const moto = await startPython('moto', AWS_PYTHON, join(repoRoot, 'e2e', 'aws', 'moto_gatehouse.py'), ['--no-auth-count', '3']);
  const script = join(repoRoot, 'e2e', 'aws', 'boto_client.py');
  const keyArgs = (keys) => (keys ? [`--ak=${keys.ak}`, `--sk=${keys.sk}`, ...(keys.token ? [`--token=${keys.token}`] : [])] : []);
  const boto = (args, keys) => json(AWS_PYTHON, script, [...args, '--endpoint', moto.url, ...keyArgs(keys)]);
  // An environment with nothing of the caller's in it: an empty HOME, no instance metadata.
  const home = mkdtempSync(join(tmpdir(), 'gatehouse-aws-home-'));
  const bare = { PATH: process.env.PATH, HOME: home, AWS_EC2_METADATA_DISABLED: 'true' };
  /** GetCallerIdentity with what boto3's default chain finds in an environment of only `env`. */
  const chain = (env) => json(AWS_PYTHON, script, ['chain-identity', '--endpoint', moto.url], { env: { ...bare, ...env } });
  const stop = async () => {
    await moto.stop();
    rmSync(home, { recursive: true, force: true });
  };
  const owner = await boto(['bootstrap']);
  assert.equal(owner.ok, true, JSON.stringify(owner));
  return { ...moto, stop, bare, owner: { ak: owner.ak, sk: owner.sk }, boto, chain };
}

async function signIn(page, username, password) {
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/portal', { timeout: 10_000 });
}

function ok(r, what) {
  assert.ok(r.status >= 200 && r.status < 300, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The owner runs the account's setup kit, step by step, with the cloud's own SDK. */
async function applySetupKit(page, account, call) {
  const kit = ok(await api(page, 'GET', `/api/v1/accounts/${account.id}/setup-kit`), `${account.provider} setup kit`);
  assert.equal(kit.provider, account.provider);
  for (const step of kit.steps) {
    const out = await call(step);
    assert.equal(out.ok, true, `${account.provider}: ${step.product} ${step.action}: ${JSON.stringify(out)}`);
  }
  return kit.steps.length;
}

/** The keys a credentials panel shows, from its credential_process JSON (the same shape for every provider). */
async function panelKeys(panel) {
  const doc = JSON.parse(await panel.getByLabel('credential_process JSON', { exact: true }).innerText());
  assert.equal(doc.Version, 1);
  return { ak: doc.AccessKeyId, sk: doc.SecretAccessKey, token: doc.SessionToken };
}

test('one account of each provider: portal, credentials, a just-in-time grant and the audit trail treat them alike', { timeout: 180_000 }, async (t) => {
  const started = Date.now();
  const lap = (what) => t.diagnostic(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // The two clouds, then Gatehouse pointed at them, and the browser, side by side.
  const [ali, aws, browser] = await Promise.all([alibabaCloud(), awsCloud(), launchBrowser()]);
  t.after(() => ali.stop());
  t.after(() => aws.stop());
  t.after(() => browser.close());
  const server = await startServer({
    env: {
      GATEHOUSE_ALIBABA_STS_ENDPOINT: ali.url,
      GATEHOUSE_ALIBABA_RAM_ENDPOINT: ali.url,
      GATEHOUSE_ALIBABA_SIGNIN_URL: `${ali.url}/saml-role/sso`,
      GATEHOUSE_AWS_STS_ENDPOINT: aws.url,
      GATEHOUSE_AWS_IAM_ENDPOINT: aws.url,
    },
  });
  t.after(() => server.stop());
  lap('clouds, Gatehouse and the browser started');

  // 1. Three accounts, one per provider; each cloud's owner runs its setup kit with its SDK.
  const admin = await newPage(browser, { baseURL: server.url });
  const a = admin.page;
  await signIn(a, 'admin', BOOTSTRAP_PASSWORD);
  for (const acc of ALL) {
    ok(await api(a, 'POST', '/api/v1/accounts', { id: acc.id, name: acc.name, environment: acc.environment, provider: acc.provider }), `account ${acc.provider}`);
  }
  const [aliSteps, awsSteps] = await Promise.all([
    applySetupKit(a, ACCOUNTS.alibaba, (step) => ali.sdk(step.product, step.action, {
      params: Object.fromEntries(step.parameters), keys: ali.root,
    })),
    applySetupKit(a, ACCOUNTS.aws, (step) => aws.boto([
      'call', step.product, step.action, '--params', JSON.stringify(Object.fromEntries(step.parameters)),
    ], aws.owner)),
  ]);
  assert.equal(aliSteps, 4);
  assert.ok(awsSteps >= 3, `${awsSteps} AWS steps`);
  lap('setup kits applied');

  // People: the employee, the approver, someone holding the elevated set (so that its roles
  // exist), an auditor.
  const mk = async (username, display) => ok(await api(a, 'POST', '/api/v1/users', {
    username, email: `${username}@example.com`, display_name: display, password: `${username}-password-123`,
  }), username);
  const erin = await mk('erin', 'Erin Engineer');
  const alex = await mk('alex', 'Alex Approver');
  const holder = await mk('holder', 'On-call Holder');
  const aude = await mk('aude', 'Aude Auditor');
  const auditors = ok(await api(a, 'POST', '/api/v1/groups', { name: 'auditors', roles: ['auditor'] }), 'auditors');
  ok(await api(a, 'PUT', `/api/v1/groups/${auditors.id}/members/${aude.id}`), 'aude joins auditors');

  // 2. Two permission sets, each with an Alibaba Cloud and an AWS system policy: a RAM role
  // attaches the one, an IAM role the other. Reader is assigned to Erin on all three.
  const reader = ok(await api(a, 'POST', '/api/v1/permission-sets', {
    name: READER, description: 'Read-only, everywhere', system_policies: ['AliyunECSReadOnlyAccess', IAM_READ],
  }), READER);
  const ops = ok(await api(a, 'POST', '/api/v1/permission-sets', {
    name: OPS, description: 'Elevated, just in time', system_policies: ['AliyunRAMReadOnlyAccess', IAM_READ], session_duration_secs: 3600,
  }), OPS);
  for (const acc of ALL) {
    ok(await api(a, 'POST', '/api/v1/assignments', { principal_type: 'user', principal_id: erin.id, account_id: acc.id, permission_set_id: reader.id }), `Reader on ${acc.provider}`);
    ok(await api(a, 'POST', '/api/v1/assignments', { principal_type: 'user', principal_id: holder.id, account_id: acc.id, permission_set_id: ops.id }), `Ops on ${acc.provider}`);
  }
  ok(await api(a, 'POST', '/api/v1/eligibility-policies', {
    name: 'erin may ask', principal_type: 'user', principal_id: erin.id, account_ids: ALL.map((acc) => acc.id),
    permission_set_ids: [ops.id], max_duration_secs: 3600, approval_required: true, justification_required: true,
  }), 'eligibility');
  ok(await api(a, 'POST', '/api/v1/approval-policies', {
    name: 'alex approves', account_id: '*', permission_set_id: ops.id, approver_user_ids: [alex.id], approvals_needed: 1, mfa_required: false,
  }), 'approval policy');

  // Ops-Admin through the API; Reader on its page, where the three roles show their provider
  // and become provisioned.
  await a.goto(`/admin/permission-sets/${reader.id}`);
  await a.getByRole('heading', { name: `Permission set ${READER}` }).waitFor();
  // (From the page, now that it stays put: an evaluate does not survive a navigation.)
  const opsProvisioning = api(a, 'POST', `/api/v1/permission-sets/${ops.id}/provision`, {});
  const roles = a.getByRole('region', { name: 'Provisioning' });
  await roles.getByRole('button', { name: 'Provision all accounts' }).click();
  const roleTable = roles.getByRole('table', { name: 'Roles in accounts' });
  for (const acc of ALL) {
    const row = roleTable.getByRole('row').filter({ hasText: acc.id });
    await row.getByText(acc.label, { exact: true }).waitFor();
    await row.getByText('provisioned', { exact: true }).waitFor({ timeout: 30_000 });
  }
  const provisionedShot = await screenshot(a, 'providers-provisioned');
  ok(await opsProvisioning, 'provision Ops-Admin');
  for (let deadline = Date.now() + 30_000; ;) {
    const list = ok(await api(a, 'GET', `/api/v1/permission-sets/${ops.id}/roles`), 'Ops-Admin roles');
    if (list.length === 3 && list.every((r) => r.status === 'provisioned')) break;
    assert.ok(Date.now() < deadline, `Ops-Admin not provisioned: ${JSON.stringify(list)}`);
    assert.ok(!list.some((r) => r.status === 'failed'), `Ops-Admin failed: ${JSON.stringify(list)}`);
    await a.waitForTimeout(200);
  }
  // The roles are real in both clouds.
  const emulated = await (await fetch(`${ali.url}/_emulator/state?account=${ACCOUNTS.alibaba.id}`)).json();
  const ramRoles = emulated.roles.map((r) => r.RoleName);
  for (const name of [`GatehouseSSO-${READER}`, `GatehouseSSO-${OPS}`]) {
    assert.ok(ramRoles.some((n) => n.toLowerCase() === name.toLowerCase()), `${name} in RAM: ${ramRoles}`);
    const iam = await aws.boto(['role', name], aws.owner);
    assert.equal(iam.ok, true, JSON.stringify(iam));
    assert.deepEqual(iam.attached, [IAM_READ], `${name} attaches only the AWS policy`);
  }
  await admin.context.close();
  lap('provisioned in the three accounts');

  // 3. Erin's portal: three accounts, each saying where it is.
  const employee = await newPage(browser, { baseURL: server.url });
  const e = employee.page;
  await signIn(e, 'erin', 'erin-password-123');
  const card = (acc) => e.getByRole('region', { name: acc.name, exact: true });
  for (const acc of ALL) {
    await card(acc).getByText(acc.id, { exact: true }).waitFor();
    await card(acc).getByText(acc.label, { exact: true }).waitFor();
  }
  assert.equal(await e.locator('section.account-card').count(), 3);
  const portalShot = await screenshot(e, 'providers-portal');

  // Credentials for each, in the browser.
  const readerIn = (acc) => card(acc).getByRole('group', { name: `${READER} in ${acc.name}` });
  const panelOf = (acc, ps = READER) => card(acc).getByRole('region', { name: `Credentials for ${ps} in ${acc.name}` });
  const keys = {};
  for (const acc of ALL) {
    await readerIn(acc).getByRole('button', { name: 'Get credentials' }).click();
    await panelOf(acc).getByRole('timer').waitFor();
    keys[acc.provider] = await panelKeys(panelOf(acc));
  }
  // Each panel speaks its cloud's language: the AWS one AWS's names and CLI, the others Alibaba Cloud's.
  const awsPanel = panelOf(ACCOUNTS.aws);
  const awsShell = await awsPanel.getByLabel('Shell (export lines)', { exact: true }).innerText();
  assert.match(awsShell, /^export AWS_ACCESS_KEY_ID=/m);
  assert.match(awsShell, /^export AWS_SESSION_TOKEN=/m);
  assert.match(await awsPanel.getByLabel('AWS CLI', { exact: true }).innerText(), /credential_process = gatehouse credentials --uri/);
  assert.equal(await awsPanel.getByRole('button', { name: 'Copy AWS_SECRET_ACCESS_KEY', exact: true }).count(), 1);
  await awsPanel.getByText(`arn:aws:sts::${ACCOUNTS.aws.id}:assumed-role/GatehouseSSO-${READER}/erin.`).waitFor();
  for (const acc of [ACCOUNTS.local, ACCOUNTS.alibaba]) {
    const panel = panelOf(acc);
    assert.match(await panel.getByLabel('Shell (export lines)', { exact: true }).innerText(), /^export ALIBABA_CLOUD_ACCESS_KEY_ID=/m);
    assert.match(await panel.getByLabel('Alibaba Cloud CLI', { exact: true }).innerText(), /^aliyun configure set --profile/m);
    assert.equal(await panel.getByLabel('AWS CLI', { exact: true }).count(), 0);
  }
  assert.match(keys.local.ak, /^STS\./);
  assert.match(keys.alibaba.ak, /^STS\./);
  assert.match(keys.aws.ak, /^ASIA/);
  const credentialsShot = await screenshot(e, 'providers-credentials');

  // ... and each works in its cloud, through that cloud's SDK.
  const [local, alibaba, awsWho, awsShellWho] = await Promise.all([
    // Gatehouse's own STS, through the official Alibaba Cloud SDK.
    json(SDK_PYTHON, join(repoRoot, 'e2e', 'sdk', 'client.py'), [
      'tea-v3', '--endpoint', server.url.replace(/^http:\/\//, ''), `--ak=${keys.local.ak}`, `--sk=${keys.local.sk}`, `--token=${keys.local.token}`,
    ]),
    ali.sdk('caller-identity', null, { keys: keys.alibaba }),
    aws.boto(['caller-identity'], keys.aws),
    // The shell lines as the page shows them, run by sh: boto3 finds them in its environment.
    run('sh', ['-c', `${awsShell}\nexec "$0" "$@"`, AWS_PYTHON, join(repoRoot, 'e2e', 'aws', 'boto_client.py'), 'chain-identity', '--endpoint', aws.url], {
      env: aws.bare,
    }).then(({ stdout }) => JSON.parse(stdout.trim())),
  ]);
  assert.equal(local.ok, true, JSON.stringify(local));
  assert.match(local.arn, new RegExp(`^acs:ram::${ACCOUNTS.local.id}:assumed-role/GatehouseSSO-${READER}/erin`, 'i'));
  assert.equal(alibaba.ok, true, JSON.stringify(alibaba));
  assert.match(alibaba.arn, new RegExp(`^acs:ram::${ACCOUNTS.alibaba.id}:assumed-role/GatehouseSSO-${READER}/erin\\.`, 'i'));
  assert.equal(awsWho.ok, true, JSON.stringify(awsWho));
  assert.match(awsWho.arn, new RegExp(`^arn:aws:sts::${ACCOUNTS.aws.id}:assumed-role/GatehouseSSO-${READER}/erin\\.`));
  assert.equal(awsShellWho.ok, true, JSON.stringify(awsShellWho));
  assert.equal(awsShellWho.method, 'env');
  assert.equal(awsShellWho.arn, awsWho.arn);

  // A credentials URL for the AWS account: the variable the page tells one to set is the one
  // AWS's SDKs read, and with it boto3 gets credentials of the role.
  await readerIn(ACCOUNTS.aws).getByRole('button', { name: 'Create credentials URI' }).click();
  const uriPanel = readerIn(ACCOUNTS.aws).getByRole('region', { name: `credentials URI for ${READER}` });
  const envLine = (await uriPanel.getByLabel('Environment variable', { exact: true }).innerText()).trim();
  const m = envLine.match(/^([A-Z_]+)=(\S+)$/);
  assert.ok(m, envLine);
  assert.equal(m[1], 'AWS_CONTAINER_CREDENTIALS_FULL_URI');
  const viaUrl = await aws.chain({ [m[1]]: m[2] });
  assert.equal(viaUrl.ok, true, JSON.stringify(viaUrl));
  assert.equal(viaUrl.method, 'container-role');
  assert.match(viaUrl.arn, new RegExp(`^arn:aws:sts::${ACCOUNTS.aws.id}:assumed-role/GatehouseSSO-${READER}/erin\\.`));
  const uriShot = await screenshot(e, 'providers-credentials-uri');
  await uriPanel.getByRole('button', { name: 'Done' }).click();
  lap('credentials work in the three clouds');

  // 4. Erin asks for Ops-Admin on the AWS account; Alex approves it.
  await e.getByRole('link', { name: 'Requests' }).click();
  await e.getByRole('heading', { name: 'Ask for access' }).waitFor();
  const choices = await e.getByLabel('Permission set and account').locator('option').allInnerTexts();
  for (const acc of ALL) {
    assert.ok(choices.some((c) => c.includes(acc.name) && c.includes(acc.id)), `${acc.provider} is offered: ${choices}`);
  }
  await e.getByLabel('Permission set and account').selectOption({ label: `${OPS} on ${ACCOUNTS.aws.name} (${ACCOUNTS.aws.id})` });
  await e.getByRole('note', { name: 'Limits' }).getByText(/1 approval\(s\) needed/).waitFor();
  await e.getByLabel('Duration (minutes)').fill('30');
  await e.getByLabel('Justification').fill('INC-77: read the IAM roles in Virginia');
  await e.getByRole('button', { name: 'Send request' }).click();
  const myRequests = e.getByRole('table', { name: 'My requests' });
  await myRequests.getByRole('row').filter({ hasText: ACCOUNTS.aws.name }).getByText('Pending approval').waitFor();
  const requestShot = await screenshot(e, 'providers-request');

  const approver = await newPage(browser, { baseURL: server.url });
  const p = approver.page;
  await signIn(p, 'alex', 'alex-password-123');
  await p.getByRole('link', { name: 'Approvals' }).click();
  await p.getByRole('heading', { name: `Erin Engineer (erin) asks for ${OPS} on ${ACCOUNTS.aws.name}` }).waitFor();
  const approvalShot = await screenshot(p, 'providers-approval');
  await p.getByLabel('Comment').fill('Go ahead');
  await p.getByRole('button', { name: 'Approve' }).click();
  await p.getByText(/Approved the request of/).waitFor();
  await p.getByText('Nothing is waiting for your approval.').waitFor();

  // The grant is in Erin's portal, on the AWS account only, and its credentials work in moto.
  await e.getByRole('link', { name: 'Portal' }).click();
  const grant = card(ACCOUNTS.aws).getByRole('group', { name: `${OPS} in ${ACCOUNTS.aws.name}` });
  await grant.getByText('Temporary grant').waitFor();
  for (const acc of [ACCOUNTS.local, ACCOUNTS.alibaba]) {
    assert.equal(await card(acc).getByRole('group', { name: `${OPS} in ${acc.name}` }).count(), 0, `no grant on ${acc.provider}`);
  }
  await grant.getByRole('button', { name: 'Get credentials' }).click();
  const grantPanel = panelOf(ACCOUNTS.aws, OPS);
  await grantPanel.getByRole('timer').waitFor();
  const grantKeys = await panelKeys(grantPanel);
  const [grantWho, grantRead, grantWrite] = await Promise.all([
    aws.boto(['caller-identity'], grantKeys),
    aws.boto(['call', 'iam', 'ListRoles'], grantKeys),
    aws.boto(['call', 'iam', 'CreateUser', '--params', JSON.stringify({ UserName: 'mallory' })], grantKeys),
  ]);
  assert.equal(grantWho.ok, true, JSON.stringify(grantWho));
  assert.match(grantWho.arn, new RegExp(`^arn:aws:sts::${ACCOUNTS.aws.id}:assumed-role/GatehouseSSO-${OPS}/erin\\.`));
  assert.equal(grantRead.ok, true, `the grant's role reads IAM: ${JSON.stringify(grantRead)}`);
  assert.equal(grantWrite.code, 'AccessDenied', `and no more: ${JSON.stringify(grantWrite)}`);
  const grantShot = await screenshot(e, 'providers-grant');
  lap('the AWS grant works in moto');

  // 5. The auditor sees the credentials of the three accounts recorded alike.
  const auditor = await newPage(browser, { baseURL: server.url });
  const u = auditor.page;
  await signIn(u, 'aude', 'aude-password-123');
  await u.goto('/audit');
  await u.getByLabel('Action', { exact: true }).fill('sts.credentials.issue');
  await u.getByRole('button', { name: 'Search' }).click();
  // Reader on each account, once more on AWS through the credentials URL, Ops-Admin on AWS.
  await u.getByRole('status').filter({ hasText: /^5 events\.$/ }).waitFor();
  const events = u.getByRole('table', { name: 'Audit events, newest first' }).getByRole('row');
  for (const acc of ALL) {
    const row = events.filter({ has: u.locator(`td[title^="${acc.id}/${reader.id}"]`) }).first();
    await row.waitFor();
    assert.match(await row.innerText(), /Erin Engineer|erin/);
    assert.match(await row.innerText(), /sts\.credentials\.issue[\s\S]*success/);
  }
  await events.filter({ has: u.locator(`td[title="${ACCOUNTS.aws.id}/${ops.id}"]`) }).first().waitFor();
  const auditShot = await screenshot(u, 'providers-audit');
  // The same through the API: one success per account for Reader, the grant's on AWS.
  const trail = ok(await api(u, 'GET', '/api/v1/audit/events?action=sts.credentials.issue'), 'audit search').events;
  for (const acc of ALL) {
    const mine = trail.filter((ev) => ev.target_id === `${acc.id}/${reader.id}` && ev.outcome === 'success' && ev.actor_id === erin.id);
    assert.ok(mine.length >= 1, `${acc.provider}: ${JSON.stringify(trail)}`);
    assert.equal(mine[0].target_type, 'role');
  }
  const viaUri = trail.filter((ev) => ev.details.credentials_uri_id);
  assert.deepEqual(viaUri.map((ev) => ev.target_id), [`${ACCOUNTS.aws.id}/${reader.id}`], 'the credentials URL is on its event');
  const granted = trail.filter((ev) => ev.target_id === `${ACCOUNTS.aws.id}/${ops.id}`);
  assert.equal(granted.length, 1, JSON.stringify(trail));
  assert.ok(granted[0].details.grant_id, 'the grant is on its credentials event');
  lap('audited alike');

  t.diagnostic(`screenshots: ${[provisionedShot, portalShot, credentialsShot, uriShot, requestShot, approvalShot, grantShot, auditShot].join(' ')}`);
  for (const [who, page] of [['administrator', admin], ['employee', employee], ['approver', approver], ['auditor', auditor]]) {
    assert.deepEqual(page.problems, [], `the browser reported no errors (${who})`);
  }
});
