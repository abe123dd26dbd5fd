/**
 * End to end through the gateway, with every service running as its own process against
 * real Postgres: register → log in → browse → cart, and the ways each step can be refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eventually } from '@scaleshop/platform/testing';
import { startTestShop, type TestShop } from './test-shop.ts';
import { callGateway, type GatewayCall } from './gateway-client.ts';

let shop: TestShop;

const call = (method: string, path: string, options?: GatewayCall) => callGateway(shop.gatewayUrl, method, path, options);

async function registerAndLogIn(name: string): Promise<{ token: string; id: string; email: string }> {
  const email = `${name}-${randomBytes(3).toString('hex')}@example.com`;
  const registered = await call('POST', '/api/auth/register', { body: { email, password: 'correct horse', name } });
  assert.equal(registered.status, 201);
  const login = await call('POST', '/api/auth/login', { body: { email, password: 'correct horse' } });
  assert.equal(login.status, 200);
  return { token: login.body.access_token, id: registered.body.id, email };
}

before(async () => {
  shop = await startTestShop('e2e');

});

after(async () => {
  await shop?.stop();
});

describe('the shop through the gateway', () => {
  test('reports every service ready, and the broker connected', async () => {
    // Readiness does not wait for the broker: the services may still be connecting to it.
    const health = await eventually(() => call('GET', '/health'), (answer) => answer.body.broker === 'connected');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, {
      status: 'ok',
      services: { user: 'ready', product: 'ready', cart: 'ready', order: 'ready', payment: 'ready', email: 'ready', storefront: 'ready' },
      broker: 'connected',
    });
  });

  test('registers, logs in and shows the current user', async () => {
    const email = `Shopper-${randomBytes(3).toString('hex')}@Example.com`;
    const registered = await call('POST', '/api/auth/register', { body: { email, password: 'password123', name: 'Shopper' } });
    assert.equal(registered.status, 201);
    assert.deepEqual(Object.keys(registered.body).sort(), ['email', 'id', 'name']);
    assert.equal(registered.body.email, email.toLowerCase());

    const again = await call('POST', '/api/auth/register', { body: { email: email.toUpperCase(), password: 'password123', name: 'Copy' } });
    assert.equal(again.status, 409);

    const login = await call('POST', '/api/auth/login', { body: { email, password: 'password123' } });
    assert.equal(login.status, 200);
    assert.equal(login.body.token_type, 'bearer');
    assert.ok(login.body.expires_in > 0 && login.body.expires_in <= 900);

    const me = await call('GET', '/api/auth/me', { token: login.body.access_token });
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, { id: registered.body.id, email: email.toLowerCase(), name: 'Shopper', role: 'customer' });
  });

  test('refuses bad registrations and logins with a clear 4xx', async () => {
    const badEmail = await call('POST', '/api/auth/register', { body: { email: 'not-an-email', password: 'password123', name: 'X' } });
    assert.equal(badEmail.status, 400);
    assert.match(badEmail.body.error.message, /email/);
    const shortPassword = await call('POST', '/api/auth/register', { body: { email: 'short@example.com', password: 'short', name: 'X' } });
    assert.equal(shortPassword.status, 400);
    assert.match(shortPassword.body.error.message, /password/);
    const missingName = await call('POST', '/api/auth/register', { body: { email: 'noname@example.com', password: 'password123' } });
    assert.equal(missingName.status, 400);
    assert.match(missingName.body.error.message, /name/);
    const nulName = await call('POST', '/api/auth/register', { body: { email: 'nul@example.com', password: 'password123', name: 'a\u0000b' } });
    assert.equal(nulName.status, 400);
    assert.match(nulName.body.error.message, /^body\/name must not contain the NUL character/);

    const wrongPassword = await call('POST', '/api/auth/login', { body: { email: 'paintest@example.com', password: 'not-the-password' } });
    const unknownEmail = await call('POST', '/api/auth/login', { body: { email: 'nobody@example.com', password: 'password123' } });
    assert.equal(wrongPassword.status, 401);
    assert.deepEqual(unknownEmail, wrongPassword);
  });

  test('browses the catalog without a token', async () => {
    const all = await call('GET', '/api/products?limit=100');
    assert.equal(all.status, 200);
    assert.ok(all.body.total >= 10);
    const laptop = all.body.items.find((p: { name: string }) => p.name === 'Gaming Laptop');
    assert.equal(laptop.price, '1299.99');
    assert.equal(laptop.category, 'Electronics');

    const one = await call('GET', `/api/products/${laptop.id}`);
    assert.deepEqual(one.body, laptop);

    const electronics = await call('GET', '/api/products?category=Electronics&limit=2&offset=0');
    assert.equal(electronics.body.items.length, 2);
    assert.ok(electronics.body.total >= 2);

    assert.equal((await call('GET', '/api/products/999999')).status, 404);
    const badLimit = await call('GET', '/api/products?limit=-1');
    assert.equal(badLimit.status, 400);
    assert.match(badLimit.body.error.message, /limit/);
  });

  test('fills, changes and empties a cart with exact totals', async () => {
    const { token } = await registerAndLogIn('carter');
    const products = (await call('GET', '/api/products?limit=100')).body.items as Array<{ id: number; name: string; price: string; stock: number }>;
    const laptop = products.find((p) => p.name === 'Gaming Laptop')!;
    const pens = products.find((p) => p.name === 'Gel Pen Pack')!;

    assert.deepEqual((await call('GET', '/api/cart', { token })).body, { items: [], total: '0.00' });

    const added = await call('POST', '/api/cart/items', { token, body: { product_id: laptop.id, quantity: 1 } });
    assert.equal(added.status, 201);
    await call('POST', '/api/cart/items', { token, body: { product_id: pens.id, quantity: 3 } });
    const cart = (await call('GET', '/api/cart', { token })).body;
    assert.deepEqual(cart, {
      items: [
        { product_id: laptop.id, name: 'Gaming Laptop', price: '1299.99', quantity: 1, line_total: '1299.99' },
        { product_id: pens.id, name: 'Gel Pen Pack', price: '8.49', quantity: 3, line_total: '25.47' },
      ],
      total: '1325.46',
    });

    const changed = await call('PATCH', `/api/cart/items/${pens.id}`, { token, body: { quantity: 10 } });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.total, '1384.89');

    const removed = await call('DELETE', `/api/cart/items/${laptop.id}`, { token });
    assert.equal(removed.status, 200);
    assert.deepEqual(removed.body.items.map((item: { product_id: number }) => item.product_id), [pens.id]);
    assert.equal(removed.body.total, '84.90');
  });

  test('refuses bad cart changes with 400, 404 and 409, leaving the cart as it was', async () => {
    const { token } = await registerAndLogIn('careful');
    const laptop = (await call('GET', '/api/products/1')).body;
    await call('POST', '/api/cart/items', { token, body: { product_id: laptop.id, quantity: 1 } });
    const before = (await call('GET', '/api/cart', { token })).body;

    const zero = await call('POST', '/api/cart/items', { token, body: { product_id: laptop.id, quantity: 0 } });
    assert.equal(zero.status, 400);
    assert.match(zero.body.error.message, /quantity/);
    const missing = await call('POST', '/api/cart/items', { token, body: { quantity: 1 } });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /product_id/);
    const unknown = await call('POST', '/api/cart/items', { token, body: { product_id: 999999, quantity: 1 } });
    assert.equal(unknown.status, 404);
    const tooMany = await call('POST', '/api/cart/items', { token, body: { product_id: laptop.id, quantity: laptop.stock } });
    assert.equal(tooMany.status, 409);
    const notInCart = await call('PATCH', '/api/cart/items/2', { token, body: { quantity: 1 } });
    assert.equal(notInCart.status, 404);

    assert.deepEqual((await call('GET', '/api/cart', { token })).body, before);
  });

  test('answers 401 without a valid token and keeps every user to their own cart', async () => {
    assert.equal((await call('GET', '/api/cart')).status, 401);
    assert.equal((await call('GET', '/api/auth/me')).status, 401);
    assert.equal((await call('POST', '/api/cart/items', { body: { product_id: 1, quantity: 1 } })).status, 401);
    assert.equal((await call('GET', '/api/cart', { token: 'not.a.token' })).status, 401);

    const alice = await registerAndLogIn('alice');
    const bob = await registerAndLogIn('bob');
    await call('POST', '/api/cart/items', { token: alice.token, body: { product_id: 2, quantity: 2 } });

    assert.deepEqual((await call('GET', '/api/cart', { token: bob.token })).body, { items: [], total: '0.00' });
    // Bob claims to be Alice in the headers the gateway uses internally: it must not work.
    const spoofed = await call('GET', '/api/cart', { token: bob.token, headers: { 'x-user-id': alice.id, 'x-user-email': alice.email } });
    assert.deepEqual(spoofed.body, { items: [], total: '0.00' });
    assert.equal((await call('DELETE', '/api/cart/items/2', { token: bob.token })).status, 404);
    assert.equal((await call('GET', '/api/cart', { token: alice.token })).body.items[0].quantity, 2);
  });

  test('lets only an admin change the catalog', async () => {
    const customer = await registerAndLogIn('customer');
    const newProduct = { name: `Test Lamp ${randomBytes(3).toString('hex')}`, description: 'A lamp', price: '19.90', stock: 5, category: 'Furniture' };
    const refused = await call('POST', '/api/products', { token: customer.token, body: newProduct });
    assert.equal(refused.status, 403);
    assert.equal((await call('PATCH', '/api/products/1/stock', { token: customer.token, body: { stock: 1 } })).status, 403);

    const admin = await call('POST', '/api/auth/login', { body: { email: 'admin@example.com', password: 'admin123' } });
    assert.equal(admin.status, 200);
    const created = await call('POST', '/api/products', { token: admin.body.access_token, body: newProduct });
    assert.equal(created.status, 201);
    assert.equal(created.body.price, '19.90');
    const restocked = await call('PATCH', `/api/products/${created.body.id}/stock`, { token: admin.body.access_token, body: { stock: 9 } });
    assert.equal(restocked.status, 200);
    assert.equal((await call('GET', `/api/products/${created.body.id}`)).body.stock, 9);
  });

  test('documents the whole public API at /docs', async () => {
    const page = await fetch(`${shop.gatewayUrl}/docs`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /swagger-ui/);
    const document = (await call('GET', '/docs/openapi.json')).body;
    for (const path of ['/api/auth/register', '/api/auth/login', '/api/auth/me', '/api/products', '/api/products/{id}', '/api/products/{id}/stock', '/api/cart', '/api/cart/items', '/api/cart/items/{product_id}', '/api/orders', '/api/orders/checkout', '/api/orders/{id}']) {
      assert.ok(document.paths[path], `missing ${path}`);
    }
  });

  test('a killed service makes /health name it, and it answers again once restarted', async () => {
    const { token } = await registerAndLogIn('patient');
    shop.services.cart.kill('SIGKILL');
    await new Promise((resolve) => shop.services.cart.process().once('exit', resolve));
    const health = await call('GET', '/health');
    assert.equal(health.status, 503);
    assert.deepEqual(health.body.not_ready, ['cart']);
    const unavailable = await call('GET', '/api/cart', { token });
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.body.error.code, 'UPSTREAM_UNAVAILABLE');
    await shop.services.cart.restart();
    assert.equal((await call('GET', '/api/cart', { token })).status, 200);
  });
});
