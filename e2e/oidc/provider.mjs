// A real OpenID Provider for Gatehouse's tests: npm `oidc-provider` on 127.0.0.1 with test
// users (and a `groups` claim), one confidential client with PKCE required, and its own
// login page. Beside it, on a second port, a small misbehaving IdP that signs with the same
// key (or deliberately not) for the negative tests: bad signature, wrong aud / iss, expired,
// future iat, missing / wrong nonce, alg none, HMAC keyed with the public key, unknown kid,
// userinfo sub mismatch, a wrong RFC 9207 `iss` parameter.
//
// Usage: node oidc/provider.mjs --redirect-uri URI [--port N] [--fake-port N]
//          [--client-id ID] [--client-secret S]
// Prints one JSON line {"issuer", "fake_issuer"} on stdout once both listen.

import http from 'node:http';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'fake-port': { type: 'string', default: '0' },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    'client-id': { type: 'string', default: 'gatehouse' },
    'client-secret': { type: 'string', default: 'gatehouse-test-client-secret-0123456789' },
  },
});

// name → claims. `groups` names Gatehouse groups (some exist there, some do not).
export const USERS = {
  alice: { email: 'alice@example.com', name: 'Alice Liddell', groups: ['engineers', 'not-in-gatehouse'], amr: ['pwd', 'otp'] },
  bob: { email: 'bob@example.com', name: 'Bob Builder', groups: [], amr: ['pwd'] },
  carol: { email: 'carol@example.com', name: 'Carol Danvers', groups: ['gatehouse-admins'], amr: ['pwd'] },
};

const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
const privateJwk = { ...(await jose.exportJWK(privateKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const publicJwk = { ...(await jose.exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const other = await jose.generateKeyPair('RS256', { extractable: true });

function listen(server, port) {
  return new Promise((resolve) => server.listen(Number(port), '127.0.0.1', () => resolve(server.address().port)));
}

// --- the real provider --------------------------------------------------------------------

const realServer = http.createServer();
const realPort = await listen(realServer, args.port);
const issuer = `http://127.0.0.1:${realPort}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    redirect_uris: args['redirect-uri'].length ? args['redirect-uri'] : ['http://127.0.0.1/unused'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  jwks: { keys: [privateJwk] },
  cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, sub) {
    const u = USERS[sub];
    if (!u) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, email: u.email, email_verified: true, name: u.name, preferred_username: sub, groups: u.groups };
      },
    };
  },
  // First-party client: grant the requested scopes without a consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error', err));
realServer.on('request', provider.callback());

// --- the misbehaving IdP ------------------------------------------------------------------

let mode = 'ok';
const codes = new Map();
const fakeServer = http.createServer(async (req, res) => {
  try {
    await fake(req, res);
  } catch (e) {
    console.error('fake idp error', e);
    res.writeHead(500).end();
  }
});
const fakePort = await listen(fakeServer, args['fake-port']);
const fakeIssuer = `http://127.0.0.1:${fakePort}`;

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

function b64url(s) {
  return Buffer.from(s).toString('base64url');
}

async function idToken(entry) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: fakeIssuer, sub: 'fake-alice', aud: args['client-id'], iat: now, exp: now + 300,
    nonce: entry.nonce, email: 'fake-alice@example.com', email_verified: true, name: 'Fake Alice',
    preferred_username: 'fake-alice', groups: ['engineers'], amr: ['pwd', 'otp'],
  };
  switch (mode) {
    case 'wrong_aud': claims.aud = 'someone-else'; break;
    case 'wrong_iss': claims.iss = 'http://127.0.0.1:1/evil'; break;
    case 'expired': claims.iat = now - 3600; claims.exp = now - 1800; break;
    case 'future_iat': claims.iat = now + 3600; claims.exp = now + 7200; break;
    case 'no_nonce': delete claims.nonce; break;
    case 'wrong_nonce': claims.nonce = 'not-the-nonce'; break;
    default: break;
  }
  if (mode === 'alg_none') {
    return `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}.`;
  }
  if (mode === 'hs256_pubkey') {
    // The classic confusion: HMAC keyed with the provider's public key.
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    return new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(secret);
  }
  if (mode === 'bad_signature') {
    return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(other.privateKey);
  }
  if (mode === 'unknown_kid') {
    return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k-unknown' }).sign(other.privateKey);
  }
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey);
}

async function fake(req, res) {
  const url = new URL(req.url, fakeIssuer);
  if (url.pathname === '/.well-known/openid-configuration') {
    return json(res, 200, {
      issuer: fakeIssuer,
      authorization_endpoint: `${fakeIssuer}/auth`,
      token_endpoint: `${fakeIssuer}/token`,
      userinfo_endpoint: `${fakeIssuer}/userinfo`,
      jwks_uri: `${fakeIssuer}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      authorization_response_iss_parameter_supported: true,
    });
  }
  if (url.pathname === '/jwks') return json(res, 200, { keys: [publicJwk] });
  if (url.pathname === '/__mode' && req.method === 'POST') {
    mode = url.searchParams.get('m') || 'ok';
    return json(res, 200, { mode });
  }
  if (url.pathname === '/auth') {
    const p = url.searchParams;
    const code = crypto.randomBytes(16).toString('hex');
    codes.set(code, { nonce: p.get('nonce'), challenge: p.get('code_challenge') });
    const back = new URL(p.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', p.get('state'));
    back.searchParams.set('iss', mode === 'wrong_iss_param' ? 'http://127.0.0.1:1/evil' : fakeIssuer);
    res.writeHead(302, { location: back.toString() });
    return res.end();
  }
  if (url.pathname === '/token' && req.method === 'POST') {
    const form = new URLSearchParams(await readBody(req));
    const entry = codes.get(form.get('code'));
    codes.delete(form.get('code'));
    if (!entry) return json(res, 400, { error: 'invalid_grant', error_description: 'unknown or used code' });
    const expected = crypto.createHash('sha256').update(form.get('code_verifier') || '').digest('base64url');
    if (expected !== entry.challenge) return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
    return json(res, 200, { access_token: 'fake-access-token', token_type: 'Bearer', expires_in: 300, id_token: await idToken(entry) });
  }
  if (url.pathname === '/userinfo') {
    return json(res, 200, {
      sub: mode === 'userinfo_sub' ? 'someone-else' : 'fake-alice',
      email: 'fake-alice@example.com', email_verified: true, groups: ['engineers'],
    });
  }
  res.writeHead(404).end();
}

process.stdout.write(`${JSON.stringify({ issuer, fake_issuer: fakeIssuer })}\n`);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
