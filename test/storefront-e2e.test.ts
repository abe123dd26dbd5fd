/**
 * The storefront in a real browser: Debian's Chromium driven by playwright-core (Playwright's
 * own browser download cannot work here), against test shops with every service, the
 * storefront included, behind one gateway origin. Screenshots go to test-results/storefront/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureStorefrontBuild } from '../services/storefront/src/build.ts';
import { openApiSnapshotPath, renderOpenApiSnapshot } from '../services/storefront/src/api-types.ts';
import { repositoryRoot } from '../scripts/local-shop.ts';
import { shopTools, startTestShop, type TestShop } from './test-shop.ts';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const screenshots = join(repositoryRoot, 'test-results', 'storefront');
// What keeps Chromium off this machine's closed network, and runs it as root in a container.
const chromiumFlags = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const skip = existsSync(chromiumPath) ? false : `no Chromium at ${chromiumPath} (apt-get install chromium)`;

let browser: Browser;
before(async () => {
  if (skip) return;
  mkdirSync(screenshots, { recursive: true });
  await ensureStorefrontBuild({ quiet: true });
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumFlags });
});
after(async () => {
  await browser?.close();
});

/** A new tab of its own (a new session: the token lives in the page's memory), failing on any error the page logs. */
async function newPage(shop: TestShop): Promise<{ page: Page; failures: string[] }> {
  const context = await browser.newContext({ baseURL: shop.gatewayUrl.replace('127.0.0.1', 'localhost') });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') failures.push(message.text());
  });
  return { page, failures };
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });

async function logIn(page: Page, email = 'paintest@example.com', password = 'password123') {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function expectNoSeriousViolations(page: Page, where: string) {
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze();
  const serious = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  assert.deepEqual(
    serious.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`),
    [],
    `axe on ${where}`,
  );
}

const nav = (page: Page, name: string | RegExp) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
const orderStatus = (page: Page, status: string) => page.getByTestId('order-status').getByText(status, { exact: true });

describe('the storefront in Chromium', { skip }, () => {
  let shop: TestShop;
  before(async () => {
    shop = await startTestShop('storefront');
  });
  after(async () => {
    await shop?.stop();
  });

  test('the OpenAPI snapshot the API types come from is what the shop serves', async () => {
    const served = await (await fetch(`${shop.gatewayUrl}/docs/openapi.json`)).json();
    assert.ok(renderOpenApiSnapshot(served) === readFileSync(join(repositoryRoot, openApiSnapshotPath), 'utf8'), `${openApiSnapshotPath} is stale: run npm run api -w services/storefront`);
  });

  test('log in, browse, add to cart, check out (async), and the order reaches "completed" on the page', async () => {
    const { page, failures } = await newPage(shop);
    await page.goto('/');
    await page.getByRole('button', { name: 'Add Gaming Laptop to cart' }).waitFor();
    await shot(page, 'catalog');
    await expectNoSeriousViolations(page, 'the catalog');
    await page.getByRole('link', { name: 'Gaming Laptop' }).click();
    await page.getByRole('heading', { name: 'Gaming Laptop' }).waitFor();
    await shot(page, 'product');
    await expectNoSeriousViolations(page, 'the product page');
    await page.goto('/register');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Use 8 to 128 characters.').waitFor();
    await shot(page, 'register');
    await expectNoSeriousViolations(page, 'the register page');
    await nav(page, 'Products').click();

    // An account page without a session: log in, then back to it.
    await nav(page, 'Orders').click();
    await page.waitForURL(/\/login\?next=%2Forders/);
    await shot(page, 'login');
    await expectNoSeriousViolations(page, 'the login page');
    await logIn(page);
    await page.waitForURL(/\/orders$/);
    await page.getByRole('heading', { name: 'Orders' }).waitFor();

    await nav(page, 'Products').click();
    await page.getByLabel('Category').selectOption('Electronics');
    await page.waitForURL(/category=Electronics/);
    await page.getByRole('button', { name: 'Add Gaming Laptop to cart' }).click();
    await nav(page, /Cart/).getByText('1').waitFor();

    await nav(page, /Cart/).click();
    await page.getByRole('button', { name: 'Check out' }).waitFor();
    await shot(page, 'cart');
    await expectNoSeriousViolations(page, 'the cart');
    await page.getByRole('button', { name: 'Check out' }).click();
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
    await orderStatus(page, 'completed').waitFor({ timeout: 20_000 });
    await shot(page, 'order');
    await expectNoSeriousViolations(page, 'the order page');
    assert.match(await page.getByTestId('answered-in').innerText(), /^\d+ ms \(event-driven\)$/);
    // The saga emptied the cart: the badge goes.
    await nav(page, 'Cart').waitFor();

    await nav(page, 'Orders').click();
    await page.getByRole('cell', { name: 'completed' }).first().waitFor();
    await shot(page, 'orders');
    await expectNoSeriousViolations(page, 'the order history');
    await page.getByRole('link', { name: 'Gaming Laptop' }).count();
    assert.deepEqual(failures, []);
    await page.context().close();
  });

  test('sync mode: the live timer runs while the request is open, and the answer is the final order', async () => {
    const { page, failures } = await newPage(shop);
    await page.goto('/login?next=%2Fproducts%2F2');
    await logIn(page);
    await page.getByRole('button', { name: 'Add Wireless Mouse to cart' }).click();
    await nav(page, /Cart/).getByText('1').waitFor();
    await nav(page, /Cart/).click();
    await page.getByLabel(/Monolith-style/).check();
    await page.getByRole('button', { name: 'Check out' }).click();
    await page.getByText(/Waiting for the answer… [1-9]\.\d s/).waitFor();
    await shot(page, 'checkout-sync-timer');
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/, { timeout: 20_000 });
    // The monolith answers only once the order is final: nothing left to follow.
    assert.equal(await page.getByTestId('order-status').innerText(), 'completed');
    const answeredMs = Number((await page.getByTestId('answered-in').innerText()).split(' ')[0]);
    assert.ok(answeredMs >= 2_000, `answered in ${answeredMs} ms: payment and email take 3 s`);
    await page.getByRole('heading', { name: 'The lesson, side by side' }).waitFor();
    assert.deepEqual(failures, []);
    await page.context().close();
  });

  test('an invalid token leads to the login page, and back', async () => {
    const { page } = await newPage(shop);
    await page.goto('/login?next=%2Fproducts');
    await logIn(page);
    await page.getByRole('button', { name: 'Add Gaming Laptop to cart' }).waitFor();
    // The next call carries a token the gateway does not accept, as an expired one.
    await page.route('**/api/orders?*', (route) => route.continue({ headers: { ...route.request().headers(), authorization: 'Bearer not-a-valid-token' } }), { times: 1 });
    await nav(page, 'Orders').click();
    await page.waitForURL(/\/login\?next=%2Forders$/);
    await page.getByText('Your session has ended. Log in again to go on.').waitFor();
    await logIn(page);
    await page.waitForURL(/\/orders$/);
    await page.getByRole('heading', { name: 'Orders' }).waitFor();
    await page.context().close();
  });

  test('the admin adds a product and sets its stock', async () => {
    const { page, failures } = await newPage(shop);
    await page.goto('/login?next=%2Fadmin');
    await logIn(page, 'admin@example.com', 'admin123');
    await page.getByRole('heading', { name: 'Admin' }).waitFor();
    const name = `Lamp ${Date.now()}`;
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Description').fill('A lamp');
    await page.getByLabel(/^Price/).fill('12.50');
    await page.getByLabel('Stock', { exact: true }).fill('3');
    await page.getByLabel('Category').fill('Furniture');
    await page.getByRole('button', { name: 'Add product' }).click();
    await page.getByText(`Added ${name}`).waitFor();
    await shot(page, 'admin');
    await expectNoSeriousViolations(page, 'the admin page');
    const stock = page.getByRole('spinbutton', { name });
    await stock.fill('7');
    await stock.press('Tab');
    const stockOf = async () => ((await shopTools(shop).call('GET', '/api/products?category=Furniture&limit=100')).body.items as Array<{ name: string; stock: number }>).find((item) => item.name === name)?.stock;
    for (let tries = 0; tries < 50 && (await stockOf()) !== 7; tries++) await page.waitForTimeout(100);
    assert.equal(await stockOf(), 7);
    assert.deepEqual(failures, []);
    await page.context().close();
  });

  test('Enter in the password field logs in, and the session stays', async () => {
    const { page, failures } = await newPage(shop);
    const documents: string[] = [];
    page.on('request', (request) => {
      if (request.resourceType() === 'document') documents.push(request.url());
    });
    await page.goto('/login?next=%2Fproducts');
    await page.getByLabel('Email').fill('paintest@example.com');
    await page.getByLabel('Password').fill('password123');
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.waitForTimeout(1_000);
    // One page load: the form never submitted natively (which would put the password in a URL).
    assert.equal(documents.length, 1);
    assert.match(page.url(), /\/products$/);
    await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 1_000 });
    assert.deepEqual(failures, []);
    await page.context().close();
  });

  test('a whole checkout with the keyboard only', async () => {
    const { page, failures } = await newPage(shop);
    /** Tab until the focused element has this accessible name, as a keyboard user would. */
    const tabTo = async (name: RegExp) => {
      const seen: string[] = [];
      for (let presses = 0; presses < 80; presses++) {
        await page.keyboard.press('Tab');
        // A string, run in the page: this file is typed for Node, without the DOM.
        const focused = await page.evaluate<string>(
          "(() => { const e = document.activeElement; return e ? (e.getAttribute('aria-label') ?? ((e.labels && e.labels[0] && e.labels[0].textContent) || e.textContent) ?? '').trim() : ''; })()",
        );
        if (name.test(focused)) return;
        seen.push(`${focused.slice(0, 40)}@${new URL(page.url()).pathname}`);
      }
      await shot(page, 'keyboard-failure');
      throw new Error(`no focusable element named ${name} at ${page.url()}; focused in turn: ${[...new Set(seen)].join(' | ')}`);
    };
    await page.goto('/login?next=%2Fproducts');
    await tabTo(/^Email$/);
    await page.keyboard.type('paintest@example.com');
    await tabTo(/^Password$/);
    await page.keyboard.type('password123');
    await tabTo(/^Log in$/);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.getByRole('button', { name: 'Add Mechanical Keyboard to cart' }).waitFor();
    await tabTo(/^Add Mechanical Keyboard to cart$/);
    await page.keyboard.press('Enter');
    await nav(page, /Cart/).getByText('1').waitFor();
    await tabTo(/^Cart/);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Check out' }).waitFor();
    await tabTo(/^Check out$/);
    await page.keyboard.press('Enter');
    await orderStatus(page, 'completed').waitFor({ timeout: 20_000 });
    assert.deepEqual(failures, []);
    await page.context().close();
  });
});

describe('the storefront in Chromium, with every payment declined', { skip }, () => {
  let shop: TestShop;
  before(async () => {
    shop = await startTestShop('storefront_declined', { serviceEnvironment: { payment: { PAYMENT_FAILURE_RATE: '1' } } });
  });
  after(async () => {
    await shop?.stop();
  });

  test('the order shows payment_failed with its reason, and the stock comes back', async () => {
    const tools = shopTools(shop);
    const stockOf = async () => (await tools.call('GET', '/api/products/4')).body.stock as number;
    const before = await stockOf();
    const { page, failures } = await newPage(shop);
    await page.goto('/login?next=%2Fproducts%2F4');
    await logIn(page);
    await page.getByRole('button', { name: 'Add 4K Monitor to cart' }).click();
    await nav(page, /Cart/).getByText('1').waitFor();
    await nav(page, /Cart/).click();
    await page.getByRole('button', { name: 'Check out' }).click();
    await orderStatus(page, 'payment_failed').waitFor({ timeout: 20_000 });
    await page.getByText(/^Reason: /).waitFor();
    await shot(page, 'order-payment-failed');
    assert.equal(await stockOf(), before);
    await page.goto('/products/4');
    await page.getByText(`${before} in stock`).waitFor();
    assert.deepEqual(failures, []);
    await page.context().close();
  });
});
