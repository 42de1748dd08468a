// Measures the SPA's first load in headless Chromium against the real binary on loopback:
// the bytes transferred (compressed, as served) and the largest contentful paint, for the
// sign-in page and, after signing in, the access portal; then the first load of each of the
// two configuration bundles (`/admin/users`, `/audit`), whose wasm the browser has not seen
// yet. Each run uses a fresh browser context (empty cache). Usage (after scripts/build-spa.sh and a release build):
//   GATEHOUSE_BIN=$TARGET_DIR/release/gatehouse node e2e/bench/first-load.mjs [runs]

import { startServer, BOOTSTRAP_PASSWORD } from '../lib/server.mjs';
import { launchBrowser } from '../lib/browser.mjs';

const runs = Number(process.argv[2] || 15);

/** The LCP of the page so far (buffered entries), in ms since navigation start. */
async function lcp(page) {
  return page.evaluate(() => new Promise((resolve) => {
    new PerformanceObserver((list) => {
      const entries = list.getEntries();
      resolve(entries[entries.length - 1].startTime);
    }).observe({ type: 'largest-contentful-paint', buffered: true });
  }));
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: at(0.5), p95: at(0.95), min: s[0], max: s[s.length - 1] };
}

const server = await startServer();
const browser = await launchBrowser();
const login = [];
const portal = [];
const bytes = [];
const directory = { lcp: [], bytes: [] };
const governance = { lcp: [], bytes: [] };
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    let transferred = 0;
    // A full load of `path` whose page shows `heading`: into `into`, its LCP and its bytes.
    const load = async (path, heading, into) => {
      transferred = 0;
      await page.goto(path, { waitUntil: 'networkidle' });
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      into.lcp.push(await lcp(page));
      into.bytes.push(transferred);
    };
    cdp.on('Network.loadingFinished', (e) => { transferred += e.encodedDataLength; });
    await page.goto('/login', { waitUntil: 'networkidle' });
    await page.getByLabel('Username').waitFor();
    login.push(await lcp(page));
    bytes.push(transferred);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(BOOTSTRAP_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/' || u.pathname === '/portal');
    // A full load of the portal with the session cookie: what a returning person sees.
    await page.goto('/portal', { waitUntil: 'networkidle' });
    await page.getByRole('heading', { name: 'Access portal' }).waitFor();
    portal.push(await lcp(page));
    await load('/admin/users', 'Users', directory);
    await load('/audit', 'Audit trail', governance);
    await context.close();
  }
} finally {
  await browser.close();
  await server.stop();
}
const fmt = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v * 10) / 10]));
console.log(JSON.stringify({
  runs,
  first_load_bytes_transferred: fmt(stats(bytes)),
  lcp_ms_login: fmt(stats(login)),
  lcp_ms_portal: fmt(stats(portal)),
  directory_bundle_bytes_transferred: fmt(stats(directory.bytes)),
  lcp_ms_admin_users: fmt(stats(directory.lcp)),
  governance_bundle_bytes_transferred: fmt(stats(governance.bytes)),
  lcp_ms_audit: fmt(stats(governance.lcp)),
}, null, 2));
