/**
 * The storefront in a real browser: Debian's Chromium driven by playwright-core (Playwright's
 * own browser download cannot work here), against a test shop with every service, the
 * storefront included, behind one gateway origin. Screenshots go to test-results/storefront/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureStorefrontBuild } from '../services/storefront/src/build.ts';
import { openApiSnapshotPath, renderOpenApiSnapshot } from '../services/storefront/src/api-types.ts';
import { repositoryRoot } from '../scripts/local-shop.ts';
import { startTestShop, type TestShop } from './test-shop.ts';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const screenshots = join(repositoryRoot, 'test-results', 'storefront');
// What keeps Chromium off this machine's closed network, and runs it as root in a container.
const chromiumFlags = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('the storefront in Chromium', { skip: existsSync(chromiumPath) ? false : `no Chromium at ${chromiumPath} (apt-get install chromium)` }, () => {
  let shop: TestShop;
  let browser: Browser;
  let page: Page;

  before(async () => {
    await ensureStorefrontBuild({ quiet: true });
    mkdirSync(screenshots, { recursive: true });
    [shop, browser] = await Promise.all([startTestShop('storefront'), chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumFlags })]);
    page = await browser.newPage({ baseURL: shop.gatewayUrl.replace('127.0.0.1', 'localhost') });
    page.setDefaultTimeout(15_000);
  });
  after(async () => {
    await browser?.close();
    await shop?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });

  test('the OpenAPI snapshot the API types come from is what the shop serves', async () => {
    const served = await (await fetch(`${shop.gatewayUrl}/docs/openapi.json`)).json();
    assert.ok(renderOpenApiSnapshot(served) === readFileSync(join(repositoryRoot, openApiSnapshotPath), 'utf8'), `${openApiSnapshotPath} is stale: run npm run api -w services/storefront`);
  });

  test('log in, browse, add to cart, check out (async), and the order reaches "completed" on the page', async () => {
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') failures.push(message.text());
    });

    await page.goto('/');
    await page.getByRole('heading', { name: 'Products' }).waitFor();
    await page.getByRole('button', { name: 'Add Gaming Laptop to cart' }).waitFor();
    await shot('catalog');

    // An account page without a session: log in, then back to it.
    await page.getByRole('link', { name: 'Orders' }).click();
    await page.waitForURL(/\/login\?next=%2Forders/);
    await page.getByLabel('Email').fill('paintest@example.com');
    await page.getByLabel('Password').fill('password123');
    await shot('login');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/orders$/);

    await page.getByRole('link', { name: 'Products' }).click();
    await page.getByLabel('Category').selectOption('Electronics');
    await page.waitForURL(/category=Electronics/);
    await page.getByRole('button', { name: 'Add Gaming Laptop to cart' }).click();
    await page.getByRole('link', { name: /Cart/ }).getByText('1').waitFor();

    await page.getByRole('link', { name: /Cart/ }).click();
    await page.getByRole('button', { name: 'Check out' }).waitFor();
    await shot('cart');
    const started = Date.now();
    await page.getByRole('button', { name: 'Check out' }).click();
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
    await page.getByTestId('order-status').getByText('completed', { exact: true }).waitFor({ timeout: 20_000 });
    const tookMs = Date.now() - started;
    await shot('order');
    // The saga emptied the cart: the badge goes.
    await page.getByRole('link', { name: 'Cart', exact: true }).waitFor();
    assert.match(await page.getByTestId('answered-in').innerText(), /^\d+ ms \(event-driven\)$/);
    assert.ok(tookMs < 20_000);
    assert.deepEqual(failures, []);
  });
});
