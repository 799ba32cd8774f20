// Logs in to a running authbridge stack as the demo web client with openid-client, whose
// author certified it against OpenID Connect's Basic Relying Party conformance profile, and
// prints what it verified.
//
// Usage: node openid-client-login.mjs ISSUER APP_CALLBACK
//   ISSUER        the broker's issuer, e.g. http://localhost:3000/
//   APP_CALLBACK  the demo application's registered callback, e.g. http://localhost:8080/callback
//
// openid-client does discovery, builds the authorization URL (PKCE S256, state, nonce), redeems
// the code and validates the ID token: signature against the broker's JWKS (non-repudiation
// checks), iss, aud, exp, iat and nonce. openid-client 6.9 with oauth4webapi 3.8 does not check
// at_hash in the code flow, so this script checks it when the broker sends one. The login in
// between (authorize, the provider's login page, the credentials post, the broker's
// /login/callback) is driven with plain fetch and manual redirects. It stops at APP_CALLBACK,
// where a browser would arrive.
//
// Prints one JSON line {claims, userinfo, token_type, scope} and exits 0, or prints the error
// and exits 1. Every request goes to a loopback host only and times out after 30 s.

import { createHash } from 'node:crypto';
import * as client from 'openid-client';

const CLIENT_ID = 'demo-web';
const CLIENT_SECRET = 'demo-web-secret';
const AUDIENCE = 'https://api.authbridge.test/';
const LOGIN_ID = 'ada@example.com';
const PASSWORD = 'Passw0rd!';
const REQUEST_TIMEOUT_MS = 30_000;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function assertLoopback(url) {
  if (!LOOPBACK_HOSTS.has(url.hostname)) {
    throw new Error(`rejected a request to ${url.href}: the host is not a loopback host`);
  }
}

// Sends one request without following redirects.
async function send(url, init = {}) {
  assertLoopback(url);
  return fetch(url, {
    ...init,
    redirect: 'manual',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

// Requests `url` and returns the absolute URL of the 302 response's Location header.
async function expectRedirect(url, init, label) {
  const response = await send(url, init);
  if (response.status !== 302) {
    const body = await response.text();
    throw new Error(`${label} returned HTTP ${response.status} instead of 302: ${body.slice(0, 500)}`);
  }
  const location = response.headers.get('location');
  if (!location) {
    throw new Error(`${label} returned a 302 without a Location header`);
  }
  return new URL(location, url);
}

function decodeEntities(text) {
  return text
    .replaceAll('&quot;', '"')
    .replaceAll('&#x27;', "'")
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function attribute(tag, name) {
  const match = tag.match(new RegExp(`\\s${name}\\s*=\\s*"([^"]*)"`, 'i'));
  return match ? decodeEntities(match[1]) : undefined;
}

// Returns the login form's action and its hidden inputs, or throws when the page has none.
function parseLoginForm(html) {
  const formTag = html.match(/<form\b[^>]*>/i)?.[0];
  if (!formTag) {
    throw new Error('the provider login page has no <form>');
  }
  const action = attribute(formTag, 'action');
  if (action === undefined) {
    throw new Error(`the login form has no action attribute: ${formTag}`);
  }
  const hidden = {};
  for (const [tag] of html.matchAll(/<input\b[^>]*>/gi)) {
    if (attribute(tag, 'type')?.toLowerCase() !== 'hidden') {
      continue;
    }
    const name = attribute(tag, 'name');
    if (name !== undefined) {
      hidden[name] = attribute(tag, 'value') ?? '';
    }
  }
  if (hidden.context === undefined) {
    throw new Error('the login form has no hidden context input');
  }
  return { action, hidden };
}

// Returns the at_hash of an access token for an ID token signed with `alg`: the base64url of
// the left half of the access token's hash, with the SHA-2 size the algorithm names.
function accessTokenHash(accessToken, alg) {
  const size = alg?.match(/^(?:RS|PS|ES|HS)(256|384|512)$/)?.[1];
  if (size === undefined) {
    // NOTE: EdDSA and other algorithms without a SHA-2 size in their name are not handled.
    throw new Error(`checking at_hash of an ID token signed with ${alg} is not supported`);
  }
  const digest = createHash(`sha${size}`).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

// Returns the `alg` of a compact JWS's protected header.
function jwsAlgorithm(jws) {
  const header = JSON.parse(Buffer.from(jws.split('.')[0], 'base64url').toString('utf8'));
  return header.alg;
}

async function main(issuerArgument, appCallbackArgument) {
  const issuer = new URL(issuerArgument);
  const appCallback = new URL(appCallbackArgument);
  assertLoopback(issuer);
  assertLoopback(appCallback);

  const config = await client.discovery(
    issuer,
    CLIENT_ID,
    undefined,
    client.ClientSecretPost(CLIENT_SECRET),
    {
      execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
      timeout: REQUEST_TIMEOUT_MS / 1000,
    },
  );

  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: appCallback.href,
    scope: 'openid profile email',
    audience: AUDIENCE,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  const loginPageUrl = await expectRedirect(authorizationUrl, {}, 'the broker /authorize');
  const loginPage = await send(loginPageUrl);
  if (loginPage.status !== 200) {
    throw new Error(`the provider login page ${loginPageUrl.href} returned HTTP ${loginPage.status}`);
  }
  const form = parseLoginForm(await loginPage.text());
  const formAction = new URL(form.action, loginPageUrl);
  if (formAction.origin !== loginPageUrl.origin) {
    throw new Error(`the login form posts to another origin: ${formAction.href}`);
  }

  const credentials = new URLSearchParams({ ...form.hidden, loginID: LOGIN_ID, password: PASSWORD });
  const brokerCallback = await expectRedirect(
    formAction,
    { method: 'POST', body: credentials },
    'the provider credentials post',
  );
  const callbackUrl = await expectRedirect(brokerCallback, {}, 'the broker /login/callback');
  if (callbackUrl.origin !== appCallback.origin || callbackUrl.pathname !== appCallback.pathname) {
    throw new Error(`the broker redirected to ${callbackUrl.href}, not to ${appCallback.href}`);
  }

  const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  if (claims.at_hash !== undefined) {
    const expected = accessTokenHash(tokens.access_token, jwsAlgorithm(tokens.id_token));
    if (claims.at_hash !== expected) {
      throw new Error(`the ID token at_hash ${claims.at_hash} does not match ${expected}`);
    }
  }

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  process.stdout.write(
    `${JSON.stringify({ claims, userinfo, token_type: tokens.token_type, scope: tokens.scope })}\n`,
  );
}

const [issuerArgument, appCallbackArgument] = process.argv.slice(2);
if (!issuerArgument || !appCallbackArgument) {
  console.error('usage: node openid-client-login.mjs ISSUER APP_CALLBACK');
  process.exit(2);
}
try {
  await main(issuerArgument, appCallbackArgument);
} catch (error) {
  console.error(`openid-client login failed: ${error?.stack ?? error}`);
  if (error?.cause !== undefined) {
    console.error('cause:', error.cause);
  }
  process.exit(1);
}
