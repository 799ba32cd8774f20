// Logs in through the demo application of a running authbridge stack in headless Chromium,
// driven by playwright-core, and prints what the application's result page shows.
//
// Usage: [SCREENSHOT=path.png] [CHROMIUM=/usr/bin/chromium] node browser-login.mjs APP_URL
//   APP_URL     the demo application, e.g. http://localhost:8080/
//   SCREENSHOT  where to save a PNG of the last page, on success and on failure
//
// The browser clicks the application's login link (#login), signs in as the demo account on
// the provider's page, and waits for the result page (#id-token-claims). The browser is the
// system's Chromium (Debian package `chromium`), because playwright's own browser downloads are
// not used here. It runs with a fresh profile directory, removed afterwards, and every request
// to a host other than a loopback host is aborted.
//
// Prints one JSON line {subject, id_token_claims, access_token_claims, app_metadata, url} and
// exits 0. On failure it prints the error, the current page URL and text, and exits 1. Every
// wait times out after 30 s.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const LOGIN_ID = 'ada@example.com';
const PASSWORD = 'Passw0rd!';
const WAIT_TIMEOUT_MS = 30_000;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function isLoopback(url) {
  try {
    const { protocol, hostname } = new URL(url);
    return (protocol === 'http:' || protocol === 'https:') && LOOPBACK_HOSTS.has(hostname);
  } catch {
    return false;
  }
}

// Parses the JSON a <pre> of the result page shows, naming the element when it is invalid.
function parseShownJson(selector, text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${selector} does not contain JSON (${error.message}): ${text.slice(0, 500)}`);
  }
}

async function logIn(context, appUrl) {
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLoopback(url) || url.startsWith('data:')) {
      return route.continue();
    }
    return route.abort('blockedbyclient');
  });

  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(WAIT_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(WAIT_TIMEOUT_MS);
  try {
    await page.goto(appUrl, { waitUntil: 'load' });
    await page.click('#login');

    await page.waitForSelector('input[name="loginID"]');
    await page.fill('input[name="loginID"]', LOGIN_ID);
    await page.fill('input[name="password"]', PASSWORD);
    await Promise.all([
      page.waitForURL((url) => !url.pathname.includes('/oidc/op/')),
      page.click('form [type="submit"]'),
    ]);

    // The demo application shows #error instead of the claims when the login failed.
    await page.waitForSelector('#id-token-claims, #error');
    if ((await page.$('#error')) !== null) {
      const error = await page.textContent('#error');
      const description = await page.textContent('#error-description');
      throw new Error(`the demo application shows a failed login: ${error}: ${description}`);
    }

    if (process.env.SCREENSHOT) {
      await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    }
    return {
      subject: (await page.textContent('#subject'))?.trim(),
      id_token_claims: parseShownJson('#id-token-claims', await page.textContent('#id-token-claims')),
      access_token_claims: parseShownJson(
        '#access-token-claims',
        await page.textContent('#access-token-claims'),
      ),
      app_metadata: parseShownJson('#app-metadata', await page.textContent('#app-metadata')),
      url: page.url(),
    };
  } catch (error) {
    if (process.env.SCREENSHOT) {
      await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true }).catch(() => {});
    }
    const text = await page
      .evaluate(() => document.body?.innerText ?? '')
      .catch(() => '(page text not available)');
    error.message += `\npage URL: ${page.url()}\npage text: ${text.slice(0, 1000)}`;
    throw error;
  }
}

async function main(appUrl) {
  if (!isLoopback(appUrl)) {
    throw new Error(`APP_URL ${appUrl} is not an http URL on a loopback host`);
  }
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium was not found at ${executablePath}. Install it (apt-get install chromium) or set CHROMIUM.`,
    );
  }

  const profileDir = await mkdtemp(join(tmpdir(), 'authbridge-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: WAIT_TIMEOUT_MS,
    });
    const result = await logIn(context, appUrl);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await context?.close().catch(() => {});
    await rm(profileDir, { recursive: true, force: true });
  }
}

const [appUrl] = process.argv.slice(2);
if (!appUrl) {
  console.error('usage: node browser-login.mjs APP_URL');
  process.exit(2);
}
try {
  await main(appUrl);
} catch (error) {
  console.error(`browser login failed: ${error?.stack ?? error}`);
  process.exit(1);
}
