import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { generateTokenKeys, loadConfig, loadPrivateKey, signAccessToken, type App } from '@scaleshop/platform';
import { rawRequest, sendRawRequest, testLogger } from '@scaleshop/platform/testing';
import { createGateway } from '../src/app.ts';
import { gatewayConfig } from '../src/config.ts';

const keys = generateTokenKeys();
const tokenSettings = { issuer: 'scaleshop', audience: 'scaleshop-api', ttlSeconds: 60 };
const alice = { id: '11111111-1111-4111-8111-111111111111', email: 'alice@example.com', role: 'customer' as const };

/** What each upstream's /health/ready reports of its broker connection; services without one report nothing. */
const brokerConnected = new Map<string, boolean>(['product', 'cart', 'order', 'payment', 'email'].map((name) => [name, true]));

/** Calls each upstream answered with 503, by service. */
const unavailableCalls = new Map<string, number>();

/**
 * An upstream that answers with what it received, so the test sees exactly what the gateway
 * forwarded; a path ending in /unavailable answers 503, as a service whose database is down.
 */
async function echoUpstream(name: string): Promise<FastifyInstance> {
  const upstream = Fastify();
  upstream.get('/health/ready', async () => {
    const broker = brokerConnected.get(name);
    return { status: 'ready', checks: { database: true }, ...(broker === undefined ? {} : { optional: { broker } }) };
  });
  upstream.all('/*', async (request, reply) => {
    if (request.url.endsWith('/unavailable')) {
      unavailableCalls.set(name, (unavailableCalls.get(name) ?? 0) + 1);
      return reply.code(503).header('retry-after', '2').send({ error: { code: 'DATABASE_UNAVAILABLE', message: 'the database is unavailable; try again shortly' } });
    }
    return { service: name, method: request.method, url: request.url, headers: request.headers, body: request.body ?? null };
  });
  await upstream.listen({ host: '127.0.0.1', port: 0 });
  return upstream;
}

const urlOf = (server: FastifyInstance) => {
  const address = server.server.address();
  if (!address || typeof address === 'string') throw new Error('not listening');
  return `http://127.0.0.1:${address.port}`;
};

/** The gateway on a port of its own, for what only a real connection shows. */
async function listening(app: App): Promise<number> {
  if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as { port: number }).port;
}

describe('gateway', () => {
  let user: FastifyInstance;
  let product: FastifyInstance;
  let cart: FastifyInstance;
  let order: FastifyInstance;
  let payment: FastifyInstance;
  let email: FastifyInstance;
  let storefront: FastifyInstance;
  let gateway: App;
  let token: string;

  before(async () => {
    [user, product, cart, order, payment, email, storefront] = (await Promise.all(['user', 'product', 'cart', 'order', 'payment', 'email', 'storefront'].map(echoUpstream))) as [
      FastifyInstance, FastifyInstance, FastifyInstance, FastifyInstance, FastifyInstance, FastifyInstance, FastifyInstance,
    ];
    const config = loadConfig(gatewayConfig, {
      USER_URL: urlOf(user),
      PRODUCT_URL: urlOf(product),
      CART_URL: urlOf(cart),
      ORDER_URL: urlOf(order),
      PAYMENT_URL: urlOf(payment),
      EMAIL_URL: urlOf(email),
      STOREFRONT_URL: urlOf(storefront),
      JWT_PUBLIC_KEY: keys.publicKeyPem,
      RATE_LIMIT_MAX: '40',
      BODY_LIMIT_BYTES: '2048',
    });
    gateway = await createGateway(config, testLogger('gateway'));
    token = await signAccessToken(alice, loadPrivateKey(keys.privateKeyPem), tokenSettings);
  });
  after(async () => {
    await gateway.close();
    await Promise.all([user, product, cart, order, payment, email, storefront].map((server) => server.close()));
  });

  test('routes each /api prefix to its service with the service path', async () => {
    const products = (await gateway.inject({ url: '/api/products/7?x=1' })).json();
    assert.deepEqual([products.service, products.url], ['product', '/products/7?x=1']);
    const login = (await gateway.inject({ method: 'POST', url: '/api/auth/login', payload: { email: 'a@b.c', password: 'p' } })).json();
    assert.deepEqual([login.service, login.url, login.body], ['user', '/auth/login', { email: 'a@b.c', password: 'p' }]);
    const items = (await gateway.inject({ url: '/api/cart/items/3', method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).json();
    assert.deepEqual([items.service, items.method, items.url], ['cart', 'DELETE', '/cart/items/3']);
    const checkout = (await gateway.inject({ url: '/api/orders/checkout?mode=sync', method: 'POST', headers: { authorization: `Bearer ${token}` } })).json();
    assert.deepEqual([checkout.service, checkout.url], ['order', '/orders/checkout?mode=sync']);
  });

  test('requires a bearer token everywhere but register, login and product reads', async () => {
    for (const [method, url] of [['GET', '/api/cart'], ['GET', '/api/orders'], ['POST', '/api/orders/checkout'], ['GET', '/api/auth/me'], ['POST', '/api/products'], ['PATCH', '/api/products/1/stock'], ['POST', '/api/cart/items']] as const) {
      const response = await gateway.inject({ method, url, payload: method === 'GET' ? undefined : {} });
      assert.equal(response.statusCode, 401, `${method} ${url}`);
      assert.equal(response.json().error.code, 'UNAUTHORIZED');
    }
    for (const [method, url] of [['GET', '/api/products'], ['GET', '/api/products/1'], ['POST', '/api/auth/register'], ['POST', '/api/auth/login']] as const) {
      const response = await gateway.inject({ method, url, payload: method === 'GET' ? undefined : {} });
      assert.equal(response.statusCode, 200, `${method} ${url}`);
    }
  });

  test('refuses tokens that are forged, for another audience, or expired', async () => {
    const otherKeys = generateTokenKeys();
    const forged = await signAccessToken(alice, loadPrivateKey(otherKeys.privateKeyPem), tokenSettings);
    const otherAudience = await signAccessToken(alice, loadPrivateKey(keys.privateKeyPem), { ...tokenSettings, audience: 'someone-else' });
    const [header, payload] = token.split('.');
    const unsigned = `${header}.${payload}.`;
    const noneAlgorithm = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    for (const bad of [forged, otherAudience, unsigned, noneAlgorithm, 'garbage']) {
      const response = await gateway.inject({ url: '/api/cart', headers: { authorization: `Bearer ${bad}` } });
      assert.equal(response.statusCode, 401);
      assert.equal(response.json().error.code, 'INVALID_TOKEN');
    }
  });

  test('forwards the verified identity and drops identity headers a client made up', async () => {
    const response = await gateway.inject({
      url: '/api/cart',
      headers: { authorization: `Bearer ${token}`, 'x-user-id': 'someone-else', 'x-user-role': 'admin' },
    });
    const { headers } = response.json();
    assert.equal(headers['x-user-id'], alice.id);
    assert.equal(headers['x-user-email'], alice.email);
    assert.equal(headers['x-user-role'], 'customer');
    assert.equal(headers.authorization, undefined);
    assert.equal(headers['x-request-id'], response.headers['x-request-id']);

    const anonymous = (await gateway.inject({ url: '/api/products', headers: { 'x-user-id': alice.id, 'x-user-role': 'admin' } })).json();
    assert.equal(anonymous.headers['x-user-id'], undefined);
    assert.equal(anonymous.headers['x-user-role'], undefined);
  });

  test('refuses a body over the limit with 413 and malformed JSON with 400', async () => {
    const large = await gateway.inject({ method: 'POST', url: '/api/auth/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'x'.repeat(4096) }) });
    assert.equal(large.statusCode, 413);
    assert.equal(large.json().error.code, 'PAYLOAD_TOO_LARGE');
    const malformed = await gateway.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"email":' });
    assert.equal(malformed.statusCode, 400);
    assert.ok(malformed.json().error.message.length > 0);
  });

  test('answers 404 in the one error body for unknown paths', async () => {
    const response = await gateway.inject({ url: '/api/nothing' });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().error.code, 'NOT_FOUND');
  });

  test('sends pages and assets to the storefront, with no credentials, and nothing internal or of the API', async () => {
    for (const url of ['/', '/products?category=Books&page=2', '/orders/42', '/assets/index-Ab12_x.js']) {
      const page = await gateway.inject({ url, headers: { authorization: `Bearer ${token}`, cookie: 'a=b' } });
      assert.equal(page.statusCode, 200, url);
      assert.deepEqual([page.json().service, page.json().url], ['storefront', url]);
      assert.equal(page.json().headers.authorization, undefined);
      assert.equal(page.json().headers.cookie, undefined);
    }
    for (const url of ['/api/nothing', '/metrics', '/health/x', '/openapi.json', '/a/../metrics', '/a/%2e%2e/metrics', '/assets/a/b.js', '/docs/x']) {
      const refused = await gateway.inject({ url });
      assert.equal(refused.statusCode, 404, url);
      assert.equal(refused.json().error.code, 'NOT_FOUND', url);
    }
    const write = await gateway.inject({ method: 'POST', url: '/orders/42', payload: {} });
    assert.equal(write.statusCode, 404);
  });

  test('closes a connection its client asked to close, whichever service answered', async () => {
    // The upstreams keep their connections to the gateway alive and say so; that is not the client's.
    const port = await listening(gateway);
    for (const target of ['/', '/assets/index-Ab12_x.js', '/api/products/1']) {
      const response = await sendRawRequest(port, [rawRequest('GET', target, { authorization: `Bearer ${token}` })]);
      assert.equal(response.status, 200, target);
      assert.equal(response.headers.connection, 'close', target);
      assert.equal(response.headers['keep-alive'], undefined, target);
    }
  });

  test('says in /health, apart from readiness, that the broker is missing, what that means and how to start one', async () => {
    const connected = await gateway.inject({ url: '/health' });
    assert.equal(connected.statusCode, 200);
    assert.equal(connected.json().broker, 'connected');
    assert.equal(connected.json().warnings, undefined);
    brokerConnected.set('payment', false);
    try {
      const missing = await gateway.inject({ url: '/health' });
      assert.equal(missing.statusCode, 200, 'every service is still ready');
      assert.equal(missing.json().status, 'ok');
      assert.equal(missing.json().broker, 'unreachable');
      const [warning] = missing.json().warnings as string[];
      assert.match(warning!, /RabbitMQ/);
      assert.match(warning!, /checkouts answer 202/);
      assert.match(warning!, /stay pending/);
      assert.match(warning!, /docker compose up -d rabbitmq/);
    } finally {
      brokerConnected.set('payment', true);
    }
  });

  test('reports each service in /health and names the one that is down', async () => {
    const healthy = await gateway.inject({ url: '/health' });
    assert.equal(healthy.statusCode, 200);
    assert.deepEqual(Object.keys(healthy.json().services).sort(), ['cart', 'email', 'order', 'payment', 'product', 'storefront', 'user']);
    await cart.close();
    const degraded = await gateway.inject({ url: '/health' });
    assert.equal(degraded.statusCode, 503);
    assert.deepEqual(degraded.json().not_ready, ['cart']);
    const call = await gateway.inject({ url: '/api/cart', headers: { authorization: `Bearer ${token}` } });
    assert.equal(call.statusCode, 503);
    assert.deepEqual(call.json(), { error: { code: 'UPSTREAM_UNAVAILABLE', message: 'cart service is unavailable' } });
    assert.equal(call.headers['retry-after'], '1');
  });

  test("passes a service's 503 on as it is, retrying a read once but not ten times, and a write never", async () => {
    const read = await gateway.inject({ url: '/api/products/unavailable' });
    assert.equal(read.statusCode, 503);
    assert.equal(read.headers['retry-after'], '2');
    assert.equal(read.json().error.code, 'DATABASE_UNAVAILABLE');
    assert.equal(unavailableCalls.get('product'), 2);
    const write = await gateway.inject({ method: 'POST', url: '/api/orders/unavailable', headers: { authorization: `Bearer ${token}` }, payload: {} });
    assert.equal(write.statusCode, 503);
    assert.equal(unavailableCalls.get('order'), 1);
  });

  test('PUT /api/admin/faults: admins only, validated against the knobs\' bounds, passed to the service that owns each knob', async () => {
    const adminToken = await signAccessToken({ id: '22222222-2222-4222-8222-222222222222', email: 'admin@example.com', role: 'admin' }, loadPrivateKey(keys.privateKeyPem), tokenSettings);
    const put = (bearer: string | undefined, payload: unknown) =>
      gateway.inject({ method: 'PUT', url: '/api/admin/faults', headers: bearer ? { authorization: `Bearer ${bearer}` } : {}, payload: payload as object, remoteAddress: '10.8.8.8' });
    assert.equal((await put(undefined, { payment: { failure_rate: 0.5 } })).statusCode, 401);
    assert.equal((await put(token, { payment: { failure_rate: 0.5 } })).statusCode, 403);
    for (const invalid of [{ payment: { failure_rate: 2 } }, { email: { latency_ms: -1 } }, { email: { failure_rate: 0.5 } }, { payment: {} }, {}, { shipping: { latency_ms: 1 } }]) {
      const refused = await put(adminToken, invalid);
      assert.equal(refused.statusCode, 400, JSON.stringify(invalid));
      assert.equal(refused.json().error.code, 'VALIDATION_ERROR', JSON.stringify(invalid));
    }
    const changed = await put(adminToken, { payment: { failure_rate: 0.5, latency_ms: 3000 } });
    assert.equal(changed.statusCode, 200);
    // The upstreams echo what they were sent: the payment service got the change, with the admin as the caller.
    const { payment: toPayment, email: toEmail } = changed.json();
    assert.deepEqual([toPayment.service, toPayment.method, toPayment.url, toPayment.body], ['payment', 'PUT', '/admin/faults', { failure_rate: 0.5, latency_ms: 3000 }]);
    assert.equal(toPayment.headers['x-user-role'], 'admin');
    assert.equal(toPayment.headers['x-user-email'], 'admin@example.com');
    assert.deepEqual([toEmail.service, toEmail.method, toEmail.url], ['email', 'GET', '/admin/faults']);
  });

  test('limits the request rate per client with 429 in the one error body', async () => {
    let limited: Awaited<ReturnType<App['inject']>> | undefined;
    for (let i = 0; i < 60 && !limited; i++) {
      const response = await gateway.inject({ url: '/api/products', remoteAddress: '10.9.9.9' });
      if (response.statusCode === 429) limited = response;
    }
    assert.ok(limited, 'no 429 after 60 requests with a limit of 40');
    assert.equal(limited.json().error.code, 'RATE_LIMITED');
    assert.ok(limited.headers['retry-after']);
    const otherClient = await gateway.inject({ url: '/api/products', remoteAddress: '10.9.9.10' });
    assert.equal(otherClient.statusCode, 200);
  });
});

describe('gateway circuit breakers', () => {
  let hanging = true;
  const held: Array<() => void> = [];
  let product: FastifyInstance;
  let others: FastifyInstance[];
  let gateway: App;
  const productCalls = { count: 0 };

  before(async () => {
    product = Fastify();
    product.get('/health/ready', async () => ({ status: 'ready' }));
    product.get('/products/*', (request, reply) => {
      productCalls.count++;
      if (hanging) return void held.push(() => reply.raw.destroy());
      void reply.send({ id: 7 });
    });
    await product.listen({ host: '127.0.0.1', port: 0 });
    others = await Promise.all(['user', 'cart', 'order', 'payment', 'email', 'storefront'].map(echoUpstream));
    const [user, cart, order, payment, email, storefront] = others.map(urlOf) as [string, string, string, string, string, string];
    const config = loadConfig(gatewayConfig, {
      USER_URL: user,
      PRODUCT_URL: urlOf(product),
      CART_URL: cart,
      ORDER_URL: order,
      PAYMENT_URL: payment,
      EMAIL_URL: email,
      STOREFRONT_URL: storefront,
      JWT_PUBLIC_KEY: keys.publicKeyPem,
      UPSTREAM_TIMEOUT_MS: '200',
    });
    gateway = await createGateway(config, testLogger('gateway'));
  });
  after(async () => {
    for (const release of held) release();
    await gateway.close();
    await Promise.all([product, ...others].map((server) => server.close()));
  });

  test('a hanging service costs callers a fast 503 once its breaker is open, and is called again after a probe succeeds', async () => {
    // Five timeouts in a row open it; a GET is retried once on a 503, never on a timeout.
    for (let call = 0; call < 5; call++) {
      const answer = await gateway.inject({ url: '/api/products/7' });
      assert.equal(answer.statusCode, 504, `call ${call}`);
    }
    assert.equal(productCalls.count, 5);
    const started = performance.now();
    const fast = await gateway.inject({ url: '/api/products/7' });
    const took = performance.now() - started;
    assert.equal(fast.statusCode, 503);
    assert.equal(fast.json().error.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(fast.headers['retry-after'], '2');
    assert.ok(took < 100, `the open breaker took ${took.toFixed(0)} ms, not less than the 200 ms deadline`);
    assert.equal(productCalls.count, 5, 'the open breaker still called the service');
    // Other services are not affected.
    assert.equal((await gateway.inject({ method: 'POST', url: '/api/auth/login', payload: {} })).statusCode, 200);

    hanging = false;
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const probe = await gateway.inject({ url: '/api/products/7' });
    assert.equal(probe.statusCode, 200);
    assert.deepEqual(probe.json(), { id: 7 });
    assert.equal((await gateway.inject({ url: '/api/products/7' })).statusCode, 200);
    assert.equal(productCalls.count, 7);
  });
});
