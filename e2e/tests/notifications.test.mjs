// Notifications in a real browser: an administrator adds a webhook endpoint that points at a
// small receiver started here, copies the signing secret shown once, clicks "Send test", and
// watches the delivery log turn "delivered"; the receiver checks the signature with that secret.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { startServer, BOOTSTRAP_PASSWORD } from '../lib/server.mjs';
import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';

/** A webhook receiver on 127.0.0.1:0 that keeps every request. */
async function startReceiver() {
  const got = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('thanks');
    });
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/gatehouse`, got, close: () => new Promise((res) => server.close(res)) };
}

/** The check docs/API.md tells receivers to make. */
function verify(secret, headers, body) {
  const ts = headers['x-gatehouse-timestamp'];
  const expected = 'sha256=' + createHmac('sha256', secret).update(`${ts}.`).update(body).digest('hex');
  const given = String(headers['x-gatehouse-signature'] || '');
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected))
    && Math.abs(Date.now() / 1000 - Number(ts)) < 300;
}

test('an administrator adds a webhook endpoint, sends a test and sees it delivered', { timeout: 120_000 }, async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const server = await startServer({ env: { GATEHOUSE_JOBS_INTERVAL_SECS: '1' } });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const { page, problems, context } = await newPage(browser, { baseURL: server.url });

  await page.goto('/admin/notifications');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(BOOTSTRAP_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Notifications', exact: true }).waitFor();
  await screenshot(page, 'notifications-empty');
  await page.getByText('No webhook endpoints yet.').waitFor();
  await page.getByText('E-mail is off: no SMTP server is configured.').waitFor();

  // The shared rules speak before anything is sent.
  const form = page.getByRole('region', { name: 'Add a webhook endpoint' });
  await form.getByLabel('Name').fill('Security chat');
  await form.getByLabel('URL', { exact: true }).fill('ftp://example.com/');
  await form.getByRole('button', { name: 'Add endpoint' }).click();
  await form.getByText('The URL must start with http:// or https://.').waitFor();
  await form.getByLabel('URL', { exact: true }).fill(receiver.url);
  await form.getByLabel('access_request.create').check();
  await form.getByLabel('breakglass.create').check();
  await form.getByRole('button', { name: 'Add endpoint' }).click();

  // The secret is shown once, with a copy button.
  const once = page.getByRole('region', { name: 'Signing secret for Security chat' });
  await once.waitFor();
  const secret = (await once.locator('#endpoint-secret').innerText()).trim();
  assert.match(secret, /^whsec_[A-Za-z0-9_-]{40,}$/);
  await once.getByRole('button', { name: /Copy/ }).waitFor();
  const table = page.getByRole('table', { name: 'Webhook endpoints' });
  await table.getByText('access_request.create, breakglass.create').waitFor();
  await once.getByRole('button', { name: 'I have stored it' }).click();
  await once.waitFor({ state: 'detached' });

  // Send test: the log shows it delivered, with its attempt.
  await table.getByRole('button', { name: 'Send test to Security chat' }).click();
  await page.getByRole('status').filter({ hasText: 'Test sent to Security chat' }).waitFor();
  const log = page.getByRole('table', { name: 'Deliveries' });
  await log.getByText('notification.test').waitFor({ timeout: 20_000 });
  await log.locator('.badge', { hasText: 'delivered' }).waitFor({ timeout: 30_000 });
  await log.getByText(/#1 ok: HTTP 200: thanks/).waitFor();
  await screenshot(page, 'notifications-delivered');

  assert.equal(receiver.got.length, 1);
  const [hit] = receiver.got;
  assert.equal(hit.headers['x-gatehouse-event'], 'notification.test');
  assert.ok(verify(secret, hit.headers, hit.body), 'the signature verifies with the secret shown once');
  assert.ok(!verify(secret + 'x', hit.headers, hit.body), 'and not with another');
  const body = JSON.parse(hit.body.toString());
  assert.equal(body.type, 'notification.test');
  assert.equal(body.id, hit.headers['x-gatehouse-delivery']);

  // The secret is never shown again.
  await page.reload();
  await table.waitFor();
  assert.equal(await page.getByText(secret).count(), 0);

  await context.close();
  assert.deepEqual(problems, [], 'the browser reported no errors');
});
