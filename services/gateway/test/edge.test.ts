import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { generateTokenKeys, loadConfig, loadPrivateKey, signAccessToken, type App } from '@scaleshop/platform';
import { rawRequest, sendRawRequest, testLogger } from '@scaleshop/platform/testing';
import { createGateway } from '../src/app.ts';
import { gatewayConfig } from '../src/config.ts';
import { aimsAtServices, edgeRequests, looksInternal } from './edge-requests.ts';

const keys = generateTokenKeys();
const alice = { id: '11111111-1111-4111-8111-111111111111', email: 'alice@example.com', role: 'customer' as const };

/** Where each stand-in's public part lives; anything else it receives was not meant to reach it. */
const servicePrefixes = { user: '/auth', product: '/products', cart: '/cart', order: '/orders', payment: '/payments', email: '/emails', storefront: '' } as const;
type ServiceName = keyof typeof servicePrefixes;

/**
 * A service as the gateway sees it, but lenient: it has the internal routes every service
 * has, answers any path, and records the raw target of every request. It does not refuse
 * odd paths itself, so the test sees what the gateway alone lets through.
 */
async function recordingUpstream(name: ServiceName, received: Array<{ service: ServiceName; url: string }>): Promise<FastifyInstance> {
  const upstream = Fastify();
  upstream.addHook('onRequest', async (request) => {
    received.push({ service: name, url: request.raw.url ?? '' });
  });
  upstream.get('/metrics', async (_request, reply) => reply.type('text/plain').send('# HELP internal_metric an internal route\n'));
  upstream.get('/health/ready', async () => ({ status: 'ready', checks: {} }));
  upstream.get('/health/live', async () => ({ status: 'live' }));
  upstream.get('/openapi.json', async () => ({ openapi: '3.1.0', paths: {} }));
  upstream.all('/*', async (request) => ({ service: name, url: request.url }));
  await upstream.listen({ host: '127.0.0.1', port: 0 });
  return upstream;
}

const urlOf = (server: FastifyInstance) => `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;

/** The path a server resolving `url` as WHATWG URL does (backslashes, dot segments, %2e) ends up at. */
const resolvedPath = (url: string) => new URL(url, 'http://upstream').pathname;

describe('the gateway at the public edge', () => {
  const received: Array<{ service: ServiceName; url: string }> = [];
  let upstreams: Record<ServiceName, FastifyInstance>;
  let gateway: App;
  let port: number;
  let token: string;

  before(async () => {
    const names = Object.keys(servicePrefixes) as ServiceName[];
    upstreams = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await recordingUpstream(name, received)]))) as Record<ServiceName, FastifyInstance>;
    const config = loadConfig(gatewayConfig, {
      USER_URL: urlOf(upstreams.user),
      PRODUCT_URL: urlOf(upstreams.product),
      CART_URL: urlOf(upstreams.cart),
      ORDER_URL: urlOf(upstreams.order),
      PAYMENT_URL: urlOf(upstreams.payment),
      EMAIL_URL: urlOf(upstreams.email),
      STOREFRONT_URL: urlOf(upstreams.storefront),
      JWT_PUBLIC_KEY: keys.publicKeyPem,
      RATE_LIMIT_MAX: '1000000',
      METRICS_PORT: '0',
    });
    gateway = await createGateway(config, testLogger('gateway'));
    await gateway.listen({ host: '127.0.0.1', port: 0 });
    port = (gateway.server.address() as { port: number }).port;
    token = await signAccessToken(alice, loadPrivateKey(keys.privateKeyPem), { issuer: 'scaleshop', audience: 'scaleshop-api', ttlSeconds: 600 });
  });
  after(async () => {
    await gateway.close();
    await Promise.all(Object.values(upstreams).map((upstream) => upstream.close()));
  });

  const send = (method: string, target: string, headers: Record<string, string> = {}, body = '') => sendRawRequest(port, [rawRequest(method, target, headers, body)]);
  const receivedSince = (count: number) => received.slice(count);

  test('backslash traversal reaches no internal route, with or without a token', async () => {
    const before = received.length;
    for (const target of ['/api/products/1\\..\\..\\metrics', '/api/products/1\\..\\..\\health\\ready', '/api/products/1\\..\\..\\openapi.json', '/api/cart/1\\..\\..\\metrics']) {
      for (const headers of [{}, { authorization: `Bearer ${token}` }] as Array<Record<string, string>>) {
        const response = await send('GET', target, headers);
        assert.equal(response.status, 400, target);
        assert.equal(JSON.parse(response.body).error.code, 'BAD_REQUEST');
      }
    }
    assert.deepEqual(receivedSince(before), []);
  });

  test('an absolute-form request is checked for a token like any other', async () => {
    const before = received.length;
    const garbage = await send('GET', 'http://x/api/orders/x', { authorization: 'Bearer garbage' });
    assert.equal(garbage.status, 401);
    assert.equal(JSON.parse(garbage.body).error.code, 'INVALID_TOKEN');
    const traversal = await send('GET', 'http://x/api/auth/1\\..\\..\\..\\..\\metrics');
    assert.equal(traversal.status, 400);
    assert.deepEqual(receivedSince(before), []);
    const valid = await send('GET', 'http://x/api/orders/x', { authorization: `Bearer ${token}` });
    assert.equal(valid.status, 200);
    assert.deepEqual(receivedSince(before), [{ service: 'order', url: '/orders/x' }]);
  });

  test('query data reaches the service as sent, ../ included; broken %-encoding is a 400', async () => {
    const before = received.length;
    const dots = await send('GET', '/api/products?category=../../x&q=%2e%2e%2f');
    assert.equal(dots.status, 200);
    assert.deepEqual(receivedSince(before), [{ service: 'product', url: '/products?category=../../x&q=%2e%2e%2f' }]);
    const broken = await send('GET', '/api/products?category=%FF');
    assert.equal(broken.status, 400);
    assert.equal(JSON.parse(broken.body).error.code, 'BAD_REQUEST');
  });

  test("the gateway's /metrics is not on its public port, and identity headers are its own", async () => {
    const metrics = await send('GET', '/metrics');
    assert.equal(metrics.status, 404);
    assert.doesNotMatch(metrics.body, /# HELP/);
    assert.equal(gateway.metricsPort, 0);
    const forged = JSON.parse((await send('GET', '/api/products/1', { 'x-client-address': '10.1.2.3', 'x-user-role': 'admin' })).body);
    assert.equal(forged.service, 'product');
  });

  test('generated requests never get a 500 and never reach an internal route', async () => {
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(edgeRequests(token), async (request) => {
        sent++;
        const before = received.length;
        const response = await sendRawRequest(port, [rawRequest(request.method, request.target, request.headers, request.body)]);
        assert.ok(response.status >= 200 && response.status < 500, `${response.status} ${response.body}`);
        if (request.method !== 'HEAD' && aimsAtServices(request.target)) assert.ok(!looksInternal(response.body), response.body);
        // The gateway's own /health asks every service for its readiness: that call is the gateway's, not the client's.
        const askedForHealth = /^([a-z]+:\/\/[^/?]*)?\/health(\?|$)/i.test(request.target);
        // So does /docs/openapi.json, whose merged document the gateway builds from every service's once its cache expires.
        const askedForDocs = /^([a-z]+:\/\/[^/?]*)?\/docs\/openapi\.json(\?|$)/i.test(request.target);
        for (const { service, url } of receivedSince(before)) {
          if (askedForHealth && url === '/health/ready') continue;
          if (askedForDocs && url === '/openapi.json') continue;
          const path = resolvedPath(url);
          const prefix = servicePrefixes[service];
          assert.ok(path === prefix || path.startsWith(`${prefix}/`), `${service} received ${url}`);
          // The storefront takes every page, but its internal routes are as out of reach as any service's.
          if (service === 'storefront') assert.doesNotMatch(path, /^\/(metrics|health|openapi\.json|api|docs)(\/|$)/i, `storefront received ${url}`);
        }
      }),
      { numRuns: 2_000, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    );
    assert.ok(sent >= 2_000);
  });
});
