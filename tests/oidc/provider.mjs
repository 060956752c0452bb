// A real OpenID Provider (npm `oidc-provider`) on loopback that behaves as Google, Microsoft or
// Apple do where relying parties go wrong (OP_MODE):
// - google: issuer https-style root, client_secret_post, email_verified as a boolean;
// - microsoft: the `common` metadata names its issuer as a template
//   (`<base>/{tenantid}/v2.0`) while tokens carry the tenant's own issuer and a `tid` claim
//   (OP_TID may disagree with the issuer's tenant, to test the check);
// - apple: `response_mode=form_post`, the client secret is an ES256 JWT signed with the team's
//   key (checked here against OP_APPLE_PUBLIC_KEY), `email_verified`/`is_private_email` are
//   strings, a private-relay email, and the user's name is posted (`user`) on the first
//   authorization only.
// The account signing in is the `login_hint` of the authorization request (no login page).
// Test-only: POST /__test/sign signs arbitrary claims with the provider's key, an unknown key,
// HS256 or `none`. Prints `listening <base>` once ready (after `apple_private_key <base64 PEM>`
// in Apple mode).
import Provider from 'oidc-provider';
import * as jose from 'jose';
import http from 'node:http';

const mode = process.env.OP_MODE || 'google';
const clientId = process.env.OP_CLIENT_ID || 'client';
const clientSecret = process.env.OP_CLIENT_SECRET || 'secret';
const tenant = process.env.OP_TENANT || '9188040d-6c67-4c5b-b112-36a304b66dad';
const tid = process.env.OP_TID || tenant;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
// Each provider lives under a path of its own: a later provider on a port an earlier one used
// is another issuer, never mistaken for it by a cache.
const origin = `http://127.0.0.1:${server.address().port}`;
const root = `/op-${crypto.randomUUID().slice(0, 8)}`;
const base = `${origin}${root}`;
const prefix = mode === 'microsoft' ? `/${tenant}/v2.0` : '';
const issuer = `${base}${prefix}`;

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'op-key-1', alg: 'RS256', use: 'sig' };

// Apple: the team's .p8 key. Generated here unless given, and printed for the service to sign
// its client secrets with.
let applePublicPem = process.env.OP_APPLE_PUBLIC_KEY;
let applePrivatePem = null;
if (mode === 'apple' && !applePublicPem) {
  const pair = await jose.generateKeyPair('ES256', { extractable: true });
  applePublicPem = await jose.exportSPKI(pair.publicKey);
  applePrivatePem = await jose.exportPKCS8(pair.privateKey);
}

const named = new Set();
let nameToPost = null;

function claimsFor(id) {
  const claims = { sub: id, name: `Test ${id}` };
  if (mode === 'apple') {
    Object.assign(claims, {
      email: `${id}@privaterelay.appleid.com`,
      email_verified: 'true',
      is_private_email: 'true',
    });
  } else if (mode === 'microsoft') {
    // Entra ID puts an email it has not verified, and no email_verified claim.
    claims.email = `${id}@example.com`;
  } else {
    Object.assign(claims, { email: `${id}@example.com`, email_verified: true });
  }
  if (mode === 'microsoft') claims.tid = tid;
  return claims;
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: ['http://127.0.0.1/registered-at-runtime'],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  jwks: { keys: [signingJwk] },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => claimsFor(id) }),
  claims: {
    openid: ['sub', 'tid'],
    email: ['email', 'email_verified', 'is_private_email'],
    profile: ['name'],
  },
  scopes: ['openid', 'email', 'profile', 'name', 'offline_access'],
  // Google, Microsoft and Apple put the requested claims in the ID token itself.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `${root}/interaction/${interaction.uid}` },
  cookies: { keys: ['oidc-test-cookie-key'] },
  responseTypes: ['code'],
  ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
});
// Every redirect URI the tests use is allowed (the stack's port is only known later); our
// service is what this test checks, not the provider's registration.
provider.Client.prototype.redirectUriAllowed = function allowed() { return true; };
const callback = provider.callback();

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

async function sign({ claims, key = 'op', alg }) {
  const now = Math.floor(Date.now() / 1000);
  const body = { iss: issuer, aud: clientId, iat: now, exp: now + 600, jti: crypto.randomUUID(), ...claims };
  if (key === 'none') return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(body)}.`;
  if (key === 'hs256') {
    return new jose.SignJWT(body).setProtectedHeader({ alg: 'HS256', kid: 'op-key-1' })
      .sign(new TextEncoder().encode(clientSecret));
  }
  if (key === 'unknown') {
    const other = await jose.generateKeyPair('RS256');
    return new jose.SignJWT(body).setProtectedHeader({ alg: 'RS256', kid: 'unknown-kid' })
      .sign(other.privateKey);
  }
  return new jose.SignJWT(body).setProtectedHeader({ alg: alg || 'RS256', kid: 'op-key-1' })
    .sign(privateKey);
}

async function appleClientSecretOk(secret) {
  try {
    const key = await jose.importSPKI(applePublicPem, 'ES256');
    const { payload, protectedHeader } = await jose.jwtVerify(secret, key, {
      algorithms: ['ES256'],
      issuer: process.env.OP_APPLE_TEAM_ID,
      subject: clientId,
      audience: issuer,
    });
    return protectedHeader.kid === process.env.OP_APPLE_KEY_ID
      && payload.exp - payload.iat <= 15777000;
  } catch (e) {
    process.stderr.write(`apple client secret refused: ${e}\n`);
    return false;
  }
}

server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, origin);
    if (!url.pathname.startsWith(`${root}/`)) return json(res, 404, { error: 'not_found' });
    const path = url.pathname.slice(root.length);
    if (path === '/__test/sign' && req.method === 'POST') {
      return json(res, 200, { token: await sign(JSON.parse(await readBody(req))) });
    }
    if (mode === 'microsoft' && path === '/common/v2.0/.well-known/openid-configuration') {
      const own = await fetch(`${issuer}/.well-known/openid-configuration`).then((r) => r.json());
      return json(res, 200, { ...own, issuer: `${base}/{tenantid}/v2.0` });
    }
    if (path.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(req, res);
      const accountId = details.params.login_hint || 'alice';
      const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      if (mode === 'apple' && !named.has(accountId)) {
        named.add(accountId);
        nameToPost = { name: { firstName: 'Test', lastName: accountId }, email: claimsFor(accountId).email };
      }
      return provider.interactionFinished(req, res, {
        login: { accountId },
        consent: { grantId },
      }, { mergeWithLastSubmission: false });
    }
    if (!path.startsWith(prefix)) return json(res, 404, { error: 'not_found' });
    // Mounted below root (and the tenant's path): the provider builds its URLs from this.
    req.originalUrl = req.url;
    req.url = req.url.slice(root.length + prefix.length) || '/';
    if (mode === 'apple' && req.method === 'POST' && req.url.split('?')[0] === '/token') {
      const params = new URLSearchParams(await readBody(req));
      if (!(await appleClientSecretOk(params.get('client_secret') || ''))) {
        return json(res, 400, { error: 'invalid_client' });
      }
      params.set('client_secret', clientSecret);
      req.body = Object.fromEntries(params);
    }
    if (mode === 'apple' && nameToPost) {
      // Apple posts the user's name with the code, the first time only.
      const user = JSON.stringify(nameToPost);
      const end = res.end.bind(res);
      res.end = (chunk, ...rest) => {
        if (typeof chunk === 'string' && chunk.includes('<form method="post"')) {
          nameToPost = null;
          const input = `<input type="hidden" name="user" value="${user.replaceAll('"', '&quot;')}"/>`;
          chunk = chunk.replace('<noscript>', `${input}\n    <noscript>`);
          res.setHeader('content-length', Buffer.byteLength(chunk));
        }
        return end(chunk, ...rest);
      };
    }
    return callback(req, res);
  } catch (e) {
    process.stderr.write(`${e.stack}\n`);
    if (!res.headersSent) json(res, 500, { error: 'server_error', message: String(e) });
  }
});

if (applePrivatePem) {
  process.stdout.write(`apple_private_key ${Buffer.from(applePrivatePem).toString('base64')}\n`);
}
process.stdout.write(`listening ${base}\n`);
