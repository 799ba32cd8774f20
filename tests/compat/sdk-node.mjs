// Drives the broker's Management API with the official `auth0` npm package (node-auth0, major
// version 7) and prints what the SDK returned.
//
// Usage: NODE_EXTRA_CA_CERTS=CA node sdk-node.mjs DOMAIN USER_ID
//   DOMAIN   the broker's host and port as the SDK takes it, e.g. localhost:3000 (HTTPS only)
//   USER_ID  a user that logged in through connection Cencora, e.g. oidc|Cencora|4a6f...
//
// With the demo machine-to-machine client's full grant, the script gets the user by id, lists
// users with two search_engine=v3 queries, sets app_metadata.sdk_checked = true and reads the
// user back. It then requests a token narrowed to `read:users` with a plain client_credentials
// POST and gets the user again through a ManagementClient built on that token.
//
// Prints one JSON line of findings and exits 0. The findings are not judged here; the caller
// asserts on them. Any failed call prints the error (with the HTTP status and body for a
// Management API error) and exits 1.

import { readFile } from 'node:fs/promises';
import { ManagementClient } from 'auth0';

const M2M_CLIENT_ID = 'demo-m2m';
const M2M_CLIENT_SECRET = 'demo-m2m-secret';
const CONNECTION = 'Cencora';
const DEMO_EMAIL = 'ada@example.com';
const NARROWED_SCOPE = 'read:users';
const UPSTREAM_TOKEN_KEYS = ['access_token', 'refresh_token', 'expires_in'];
const REQUEST_TIMEOUT_MS = 30_000;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function usage(message) {
  console.error(`${message}\nusage: node sdk-node.mjs DOMAIN USER_ID (e.g. localhost:3000 'oidc|Cencora|...')`);
  process.exit(2);
}

// Rejects a domain that is not a loopback host, so the script never sends credentials elsewhere.
function checkedDomain(domain) {
  let url;
  try {
    url = new URL(`https://${domain}/`);
  } catch {
    usage(`invalid DOMAIN ${JSON.stringify(domain)}`);
  }
  if (!LOOPBACK_HOSTS.has(url.hostname) || url.pathname !== '/') {
    usage(`DOMAIN ${JSON.stringify(domain)} is not a loopback host with an optional port`);
  }
  return url.host;
}

async function sdkVersion() {
  const manifest = new URL('./node_modules/auth0/package.json', import.meta.url);
  return JSON.parse(await readFile(manifest, 'utf8')).version;
}

// Returns the identity of `user` from connection Cencora, or throws when it has none.
function cencoraIdentity(user, label) {
  const identity = (user.identities ?? []).find((candidate) => candidate.connection === CONNECTION);
  if (!identity) {
    throw new Error(`${label}: user ${user.user_id} has no ${CONNECTION} identity: ${JSON.stringify(user.identities)}`);
  }
  return identity;
}

// Returns the JSON type name of a decoded value: string, number, boolean, null, object or array.
function jsonType(value) {
  if (value === null) {
    return 'null';
  }
  return Array.isArray(value) ? 'array' : typeof value;
}

// Reports which upstream token keys an identity has and the JSON type of each value. `type` is
// null for an absent key, so a missing key differs from a key set to null.
function upstreamTokenKeys(identity) {
  return Object.fromEntries(
    UPSTREAM_TOKEN_KEYS.map((key) => {
      const present = Object.hasOwn(identity, key);
      return [key, { present, type: present ? jsonType(identity[key]) : null }];
    }),
  );
}

// Runs one SDK call and names it in the error when it fails.
async function step(label, call) {
  try {
    return await call();
  } catch (error) {
    throw new Error(`${label} failed`, { cause: error });
  }
}

async function listUserIds(management, q) {
  const page = await step(`users.list(q=${q}, search_engine=v3)`, () =>
    management.users.list({ q, search_engine: 'v3' }),
  );
  return {
    q,
    user_ids: page.data.map((user) => user.user_id),
    total: page.response?.total ?? null,
  };
}

// Requests a Management API token with only `scope` through a plain client_credentials POST,
// because ManagementClient's own client_credentials request takes no scope.
async function narrowedToken(domain, scope) {
  const response = await fetch(`https://${domain}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: M2M_CLIENT_ID,
      client_secret: M2M_CLIENT_SECRET,
      audience: `https://${domain}/api/v2/`,
      scope,
    }),
    redirect: 'manual',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await response.text();
  if (response.status !== 200) {
    throw new Error(`POST /oauth/token with scope=${scope} returned HTTP ${response.status}: ${body}`);
  }
  const grant = JSON.parse(body);
  if (typeof grant.access_token !== 'string') {
    throw new Error(`POST /oauth/token with scope=${scope} returned no access_token: ${body}`);
  }
  return grant;
}

async function withFullGrant(domain, userId) {
  const management = new ManagementClient({
    domain,
    clientId: M2M_CLIENT_ID,
    clientSecret: M2M_CLIENT_SECRET,
    timeoutInSeconds: REQUEST_TIMEOUT_MS / 1000,
  });

  const user = await step('users.get with the full grant', () => management.users.get(userId));
  const identity = cencoraIdentity(user, 'users.get with the full grant');

  const byConnection = await listUserIds(management, `identities.connection:"${CONNECTION}"`);
  const byEmail = await listUserIds(management, `email:"${DEMO_EMAIL}"`);

  const updated = await step('users.update of app_metadata', () =>
    management.users.update(userId, { app_metadata: { sdk_checked: true } }),
  );
  const reread = await step('users.get after users.update', () => management.users.get(userId));

  return {
    user_id: user.user_id,
    identity_connection: identity.connection,
    identity_keys: Object.keys(identity).sort(),
    upstream_token_keys: upstreamTokenKeys(identity),
    list_by_connection: byConnection,
    list_by_email: byEmail,
    update_response_app_metadata: updated.app_metadata ?? null,
    reread_app_metadata: reread.app_metadata ?? null,
  };
}

async function withNarrowedToken(domain, userId) {
  const grant = await narrowedToken(domain, NARROWED_SCOPE);
  const management = new ManagementClient({
    domain,
    token: grant.access_token,
    timeoutInSeconds: REQUEST_TIMEOUT_MS / 1000,
  });

  const label = `users.get with a ${NARROWED_SCOPE} token`;
  const user = await step(label, () => management.users.get(userId));
  const identity = cencoraIdentity(user, label);
  return {
    granted_scope: grant.scope ?? null,
    user_id: user.user_id,
    identity_keys: Object.keys(identity).sort(),
    upstream_token_keys: upstreamTokenKeys(identity),
  };
}

// Describes an error and its causes. The SDK's ManagementError carries statusCode and body.
function describe(error) {
  const parts = [];
  for (let current = error; current; current = current.cause) {
    parts.push(current.stack ?? String(current));
    if (current.statusCode !== undefined) {
      parts.push(`HTTP status: ${current.statusCode}`);
    }
    if (current.body !== undefined) {
      parts.push(`body: ${JSON.stringify(current.body)}`);
    }
  }
  return parts.join('\n');
}

async function main() {
  const [domainArgument, userId] = process.argv.slice(2);
  if (!domainArgument || !userId) {
    usage('expected two arguments');
  }
  const domain = checkedDomain(domainArgument);

  const findings = {
    sdk: { name: 'auth0', version: await sdkVersion() },
    full_grant: await withFullGrant(domain, userId),
    narrowed: await withNarrowedToken(domain, userId),
  };
  console.log(JSON.stringify(findings));
}

try {
  await main();
} catch (error) {
  console.error(`sdk-node.mjs failed: ${describe(error)}`);
  process.exit(1);
}
