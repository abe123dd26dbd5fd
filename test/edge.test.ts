/**
 * The public edge of a running shop (every service its own process, real Postgres), probed as
 * an attacker and a careless client would: each reproduction of the edge review, then
 * generated requests that must never give a 5xx or show an internal route.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { rawRequest, sendRawRequest } from '@scaleshop/platform/testing';
import { aimsAtServices, edgeRequests, looksInternal } from '../services/gateway/test/edge-requests.ts';
import { ensureStorefrontBuild } from '../services/storefront/src/build.ts';
import { startTestShop, type TestShop } from './test-shop.ts';
import { callGateway, type GatewayCall } from './gateway-client.ts';

let shop: TestShop;
let gatewayPort: number;

const call = (method: string, path: string, options?: GatewayCall) => callGateway(shop.gatewayUrl, method, path, options);
const send = (method: string, target: string, headers: Record<string, string> = {}, body = '') => sendRawRequest(gatewayPort, [rawRequest(method, target, headers, body)]);
const errorCode = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code;

async function shopper(): Promise<{ email: string; token: string }> {
  const email = `edge-${randomBytes(4).toString('hex')}@example.com`;
  assert.equal((await call('POST', '/api/auth/register', { body: { email, password: 'correct horse', name: 'Edge' } })).status, 201);
  const login = await call('POST', '/api/auth/login', { body: { email, password: 'correct horse' } });
  assert.equal(login.status, 200);
  return { email, token: login.body.access_token };
}

before(async () => {
  // Generated paths include the storefront's pages, which answer 503 until it is built.
  await ensureStorefrontBuild({ quiet: true });
  shop = await startTestShop('edge');
  gatewayPort = shop.services.gateway.port;
});

after(async () => {
  await shop?.stop();
});

describe('the edge review, reproduced against a running shop', () => {
  test('1. backslash traversal reaches no service internals', async () => {
    const { token } = await shopper();
    for (const target of ['/api/products/1\\..\\..\\metrics', '/api/products/1\\..\\..\\health\\ready', '/api/products/1\\..\\..\\openapi.json']) {
      const response = await send('GET', target);
      assert.equal(response.status, 400, target);
      assert.ok(!looksInternal(response.body));
    }
    const withToken = await send('GET', '/api/cart/1\\..\\..\\metrics', { authorization: `Bearer ${token}` });
    assert.equal(withToken.status, 400);
  });

  test('2. an absolute-form request line is authenticated like any other', async () => {
    const garbage = await send('GET', 'http://x/api/orders/x', { authorization: 'Bearer garbage' });
    assert.equal(garbage.status, 401);
    assert.equal(errorCode(garbage.body), 'INVALID_TOKEN');
    const traversal = await send('GET', 'http://x/api/auth/1\\..\\..\\..\\..\\metrics');
    assert.equal(traversal.status, 400);
    assert.ok(!looksInternal(traversal.body));
  });

  test('3. failed logins for one account from one address are throttled, without locking the owner out elsewhere', async () => {
    const { email } = await shopper();
    const statuses: number[] = [];
    let throttled: Awaited<ReturnType<typeof send>> | undefined;
    for (let attempt = 0; attempt < 15; attempt++) {
      const response = await send('POST', '/api/auth/login', { 'content-type': 'application/json' }, JSON.stringify({ email, password: 'wrong guess' }));
      statuses.push(response.status);
      if (response.status === 429) throttled ??= response;
    }
    assert.deepEqual(statuses, [...Array(10).fill(401), ...Array(5).fill(429)]);
    assert.equal(errorCode(throttled!.body), 'TOO_MANY_ATTEMPTS');
    const retryAfter = Number(throttled!.headers['retry-after']);
    assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`);
    // The right password from the throttled address waits too; from another address it works.
    assert.equal((await call('POST', '/api/auth/login', { body: { email, password: 'correct horse' } })).status, 429);
    const elsewhere = await fetch(`${shop.services.user.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-client-address': '198.51.100.7' },
      body: JSON.stringify({ email, password: 'correct horse' }),
    });
    assert.equal(elsewhere.status, 200);
  });

  test('5, 6, 7. bad encoding, ids past int4 and deep JSON are 400s, not 500s', async () => {
    const encoding = await send('GET', '/api/products?category=%FF');
    assert.equal(encoding.status, 400);
    const ids = await send('GET', '/api/products?ids=2147483648');
    assert.equal(ids.status, 400);
    assert.match(JSON.parse(ids.body).error.message, /ids/);
    assert.equal((await send('GET', '/api/products?ids=2147483647')).status, 200);
    const deep = '['.repeat(5_000) + ']'.repeat(5_000);
    for (const path of ['/api/auth/login', '/api/auth/register']) {
      const response = await send('POST', path, { 'content-type': 'application/json' }, deep);
      assert.equal(response.status, 400, path);
      assert.equal(errorCode(response.body), 'VALIDATION_ERROR');
    }
  });

  test("8. the gateway's /metrics is on its own port, not the public one", async () => {
    const publicMetrics = await send('GET', '/metrics');
    assert.equal(publicMetrics.status, 404);
    const metrics = await fetch(shop.gatewayMetricsUrl);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /http_server_request_duration_seconds_count\{[^}]*route="\/api\/products/);
  });

  test('9. a cart line holds at most 1,000 units, however they were added', async () => {
    const { token } = await shopper();
    const admin = (await call('POST', '/api/auth/login', { body: { email: 'admin@example.com', password: 'admin123' } })).body.access_token;
    const product = await call('POST', '/api/products', { token: admin, body: { name: `Bulk ${randomBytes(3).toString('hex')}`, price: '1.00', stock: 100_000, category: 'Bulk' } });
    assert.equal(product.status, 201);
    assert.equal((await call('POST', '/api/cart/items', { token, body: { product_id: product.body.id, quantity: 1_000 } })).status, 201);
    const over = await call('POST', '/api/cart/items', { token, body: { product_id: product.body.id, quantity: 1 } });
    assert.equal(over.status, 409);
    assert.equal(over.body.error.code, 'LINE_LIMIT_EXCEEDED');
    assert.equal((await call('PATCH', `/api/cart/items/${product.body.id}`, { token, body: { quantity: 2_000 } })).status, 400);
    const cart = await call('GET', '/api/cart', { token });
    assert.deepEqual(cart.body.items.map((item: { quantity: number }) => item.quantity), [1_000]);
  });

  test('10. no-store on auth answers, nosniff on all, plain request ids only, any query data', async () => {
    const login = await send('POST', '/api/auth/login', { 'content-type': 'application/json' }, JSON.stringify({ email: 'paintest@example.com', password: 'password123' }));
    assert.equal(login.status, 200);
    assert.equal(login.headers['cache-control'], 'no-store');
    assert.equal(login.headers['x-content-type-options'], 'nosniff');
    const long = await send('GET', '/api/products/1', { 'x-request-id': 'a'.repeat(5_000) });
    assert.equal(long.status, 200);
    assert.ok(long.headers['x-request-id']!.length <= 64);
    const dots = await send('GET', '/api/products?category=../etc');
    assert.equal(dots.status, 200);
    assert.deepEqual(JSON.parse(dots.body).items, []);
  });
});

describe('generated requests against the running shop', () => {
  test('never get a 5xx and never show an internal route', async () => {
    const { token } = await shopper();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(edgeRequests(token), async (request) => {
        sent++;
        const response = await sendRawRequest(gatewayPort, [rawRequest(request.method, request.target, request.headers, request.body)]);
        assert.ok(response.status >= 200 && response.status < 500, `${request.method} ${request.target} → ${response.status} ${response.body}`);
        if (aimsAtServices(request.target)) assert.ok(!looksInternal(response.body), response.body);
      }),
      { numRuns: 1_500, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    );
    assert.ok(sent >= 1_500);
  });
});
