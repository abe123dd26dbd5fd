/**
 * The checkout saga end to end: every service as its own process, real Postgres, RabbitMQ
 * (a virtual host of this file's own) and a real SMTP server catching the emails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { cutDatabasesOff, queueMessageCounts } from '@scaleshop/platform/testing';
import { shopTools, startTestShop, type TestShop } from './test-shop.ts';
import { callGateway, type GatewayCall } from './gateway-client.ts';

const run = promisify(execFile);
let shop: TestShop;
let adminToken: string;

const call = (method: string, path: string, options?: GatewayCall) => callGateway(shop.gatewayUrl, method, path, options);
const shopper = (name: string) => shopTools(shop).shopper(name);
const untilFinal = (orderId: string, token: string, timeoutMs?: number) => shopTools(shop).untilFinal(orderId, token, timeoutMs);
const newProduct = (stock: number, price?: string) => shopTools(shop).newProduct(adminToken, stock, price);
const caughtMail = (subjectPart: string, timeoutMs?: number) => shopTools(shop).caughtMail(subjectPart, timeoutMs);
const countRows = (service: 'payment' | 'email', query: string, values: unknown[]) => shopTools(shop).countRows(service, query, values);

before(async () => {
  shop = await startTestShop('checkout', {
    environment: { PAYMENT_LATENCY_MS: '300', EMAIL_LATENCY_MS: '50', RETRY_DELAYS_MS: '200,500,1000,2000', OUTBOX_POLL_INTERVAL_MS: '200' },
  });
  const admin = await call('POST', '/api/auth/login', { body: { email: 'admin@example.com', password: 'admin123' } });
  adminToken = admin.body.access_token;
});

after(async () => {
  await shop?.stop();
});

describe('checkout', () => {
  test('goes pending → stock_reserved → paid → completed, empties the cart, takes the stock and sends one email', async () => {
    const { token, email } = await shopper('happy');
    const product = await newProduct(10, '12.34');
    await call('POST', '/api/cart/items', { token, body: { product_id: product.id, quantity: 3 } });

    const checkout = await call('POST', '/api/orders/checkout', { token });
    assert.equal(checkout.status, 202);
    assert.equal(checkout.body.status, 'pending');
    assert.equal(checkout.body.total_amount, '37.02');
    assert.equal(typeof checkout.body.processing_duration_ms, 'number');

    const order = await untilFinal(checkout.body.id, token);
    assert.equal(order.status, 'completed');
    assert.deepEqual(order.history.map((entry: { status: string }) => entry.status), ['pending', 'stock_reserved', 'paid', 'completed']);
    const times = order.history.map((entry: { at: string }) => Date.parse(entry.at));
    assert.deepEqual([...times].sort((a, b) => a - b), times);

    assert.deepEqual((await call('GET', '/api/cart', { token })).body, { items: [], total: '0.00' });
    assert.equal((await call('GET', `/api/products/${product.id}`)).body.stock, 7);
    const mails = await caughtMail(checkout.body.id);
    assert.equal(mails.length, 1);
    assert.equal(mails[0]!.to.includes(email), true);

    const list = await call('GET', '/api/orders', { token });
    assert.equal(list.body.total, 1);
    assert.equal(list.body.items[0].id, checkout.body.id);
  });

  test('an empty cart cannot be checked out, and nobody sees another user\'s order', async () => {
    const alice = await shopper('alice');
    const bob = await shopper('bob');
    const empty = await call('POST', '/api/orders/checkout', { token: alice.token });
    assert.equal(empty.status, 400);
    assert.equal((await call('GET', '/api/orders', { token: alice.token })).body.total, 0);

    const product = await newProduct(5);
    await call('POST', '/api/cart/items', { token: alice.token, body: { product_id: product.id, quantity: 1 } });
    const order = await call('POST', '/api/orders/checkout', { token: alice.token });
    assert.equal((await call('GET', `/api/orders/${order.body.id}`, { token: bob.token })).status, 404);
    assert.equal((await call('GET', `/api/orders/${order.body.id}`)).status, 401);
  });

  test('a declined payment ends as payment_failed, gives the stock back and sends the could-not-complete email', async () => {
    const { token } = await shopper('big-spender');
    const product = await newProduct(20, '4000.00');
    await call('POST', '/api/cart/items', { token, body: { product_id: product.id, quantity: 3 } });
    const checkout = await call('POST', '/api/orders/checkout', { token });
    const order = await untilFinal(checkout.body.id, token);
    assert.equal(order.status, 'payment_failed');
    assert.deepEqual(order.history.map((entry: { status: string }) => entry.status), ['pending', 'stock_reserved', 'payment_failed']);
    let stock = 0;
    for (let i = 0; i < 100 && stock !== 20; i++) {
      stock = (await call('GET', `/api/products/${product.id}`)).body.stock;
      await sleep(50);
    }
    assert.equal(stock, 20);
    assert.equal((await caughtMail(checkout.body.id)).length, 1);
  });

  test('never oversells: 12 shoppers race for the last 4 units, exactly 4 orders complete', async () => {
    const product = await newProduct(4);
    const shoppers = await Promise.all(Array.from({ length: 12 }, (_, i) => shopper(`racer${i}`)));
    for (const { token } of shoppers) assert.equal((await call('POST', '/api/cart/items', { token, body: { product_id: product.id, quantity: 1 } })).status, 201);
    const checkouts = await Promise.all(shoppers.map(({ token }) => call('POST', '/api/orders/checkout', { token })));
    assert.ok(checkouts.every((checkout) => checkout.status === 202));
    const orders = await Promise.all(checkouts.map((checkout, i) => untilFinal(checkout.body.id, shoppers[i]!.token)));
    const statuses = orders.map((order) => order.status).sort();
    assert.deepEqual(statuses, [...Array(4).fill('completed'), ...Array(8).fill('rejected')]);
    assert.equal((await call('GET', `/api/products/${product.id}`)).body.stock, 0);
  });

  test('sync mode answers only at the final status, as the monolith did', async () => {
    const { token } = await shopper('patient');
    const product = await newProduct(5);
    await call('POST', '/api/cart/items', { token, body: { product_id: product.id, quantity: 1 } });
    const response = await call('POST', '/api/orders/checkout?mode=sync', { token });
    assert.equal(response.status, 200);
    assert.equal(response.body.status, 'completed');
    assert.ok(response.body.processing_duration_ms >= 350, `took ${response.body.processing_duration_ms} ms with 300 + 50 ms of simulated latency`);
  });

  test('a payment process killed mid-payment loses nothing and charges once', async () => {
    const { token } = await shopper('unlucky');
    const product = await newProduct(5);
    await call('POST', '/api/cart/items', { token, body: { product_id: product.id, quantity: 1 } });
    const checkout = await call('POST', '/api/orders/checkout', { token });
    for (let i = 0; i < 200; i++) {
      if ((await call('GET', `/api/orders/${checkout.body.id}`, { token })).body.status === 'stock_reserved') break;
      await sleep(10);
    }
    shop.services.payment.kill('SIGKILL');
    await sleep(100);
    await shop.services.payment.restart();
    const order = await untilFinal(checkout.body.id, token);
    assert.equal(order.status, 'completed');
    assert.equal(await countRows('payment', 'select count(*)::int as n from payments where order_id = $1', [checkout.body.id]), 1);
    assert.equal(await countRows('email', 'select count(*)::int as n from emails where order_id = $1', [checkout.body.id]), 1);
    assert.equal((await caughtMail(checkout.body.id)).length, 1);
  });

  test('with every database cut off as in a restart, requests answer 503, and an order in flight completes once they are back, charged and mailed once', async () => {
    const { token } = await shopper('restart');
    const product = await newProduct(5);
    await call('POST', '/api/cart/items', { token, body: { product_id: product.id, quantity: 1 } });
    const checkout = await call('POST', '/api/orders/checkout', { token });
    assert.equal(checkout.status, 202);
    const reopen = await cutDatabasesOff(Object.values(shop.databaseUrls));
    try {
      const during = await call('GET', `/api/orders/${checkout.body.id}`, { token });
      assert.equal(during.status, 503);
      assert.equal(during.body.error.code, 'DATABASE_UNAVAILABLE');
      // Longer than all the retries (0.2 + 0.5 + 1 + 2 s): waiting out an outage must not use them up.
      await sleep(5_000);
    } finally {
      await reopen();
    }
    const order = await untilFinal(checkout.body.id, token, 60_000);
    assert.equal(order.status, 'completed');
    assert.equal(await countRows('payment', 'select count(*)::int as n from payments where order_id = $1', [checkout.body.id]), 1);
    assert.equal(await countRows('email', 'select count(*)::int as n from emails where order_id = $1', [checkout.body.id]), 1);
    assert.equal((await caughtMail(checkout.body.id)).length, 1);
    assert.equal((await call('GET', `/api/products/${product.id}`)).body.stock, 4);
    const deadLetters = [...(await queueMessageCounts(shop.vhost.name))].filter(([name]) => name.endsWith('.dlq'));
    assert.ok(deadLetters.length > 0, 'the dead-letter queues exist');
    assert.deepEqual(deadLetters.filter(([, count]) => count !== 0), [], 'nothing dead-lettered');
  });

  test('with the broker unreachable, checkouts still answer 202 and complete once it is back', async () => {
    const { token } = await shopper('outage');
    const product = await newProduct(5);
    await call('POST', '/api/cart/items', { token, body: { product_id: product.id, quantity: 2 } });
    // An outage of this file's virtual host only: no one may connect, and everyone is cut off.
    await run('rabbitmqctl', ['-q', 'clear_permissions', '-p', shop.vhost.name, 'guest']);
    await run('rabbitmqctl', ['-q', 'close_all_connections', '-p', shop.vhost.name, 'test outage']);
    try {
      const checkout = await call('POST', '/api/orders/checkout', { token });
      assert.equal(checkout.status, 202);
      await sleep(1_000);
      assert.equal((await call('GET', `/api/orders/${checkout.body.id}`, { token })).body.status, 'pending');
      await run('rabbitmqctl', ['-q', 'set_permissions', '-p', shop.vhost.name, 'guest', '.*', '.*', '.*']);
      const order = await untilFinal(checkout.body.id, token, 60_000);
      assert.equal(order.status, 'completed');
      assert.equal((await caughtMail(checkout.body.id)).length, 1);
    } finally {
      await run('rabbitmqctl', ['-q', 'set_permissions', '-p', shop.vhost.name, 'guest', '.*', '.*', '.*']);
    }
  });
});
