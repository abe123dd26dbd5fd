/**
 * An order keeps the trace of the checkout that placed it. This file's process runs the
 * platform's telemetry start-up, as `node --import @scaleshop/platform/telemetry` runs it for a
 * service, exporting to a receiver started here; order.test.ts covers the same service with
 * tracing off (trace_id null).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { identityHeadersFor, loadConfig, type App, type Caller } from '@scaleshop/platform';
import { createTestDatabase, createTestVhost, startOtlpReceiver, testLogger, waitFor, type OtlpReceiver, type TestDatabase, type TestVhost } from '@scaleshop/platform/testing';
import { orderConfig } from '../src/config.ts';

let receiver: OtlpReceiver;
let database: TestDatabase;
let vhost: TestVhost;
let cartStub: FastifyInstance;
let app: App;

before(async () => {
  [receiver, database, vhost] = await Promise.all([startOtlpReceiver(), createTestDatabase('order_trace'), createTestVhost('order_trace')]);
  Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'order', OTEL_BSP_SCHEDULE_DELAY: '100' });
  // Read at import: the environment has to be in place first.
  await import('@scaleshop/platform/telemetry');
  const { tracingEnabled } = await import('@scaleshop/platform');
  assert.equal(tracingEnabled(), true);

  cartStub = Fastify();
  cartStub.get('/cart', async () => ({ items: [{ product_id: 1, name: 'Gaming Laptop', price: '1299.99', quantity: 1, line_total: '1299.99' }], total: '1299.99' }));
  await cartStub.listen({ port: 0, host: '127.0.0.1' });

  const { createOrderService } = await import('../src/app.ts');
  const config = loadConfig(orderConfig, {
    DATABASE_URL: database.url,
    DATABASE_POOL_MAX: '3',
    RABBITMQ_URL: vhost.url,
    CART_URL: `http://127.0.0.1:${(cartStub.server.address() as { port: number }).port}`,
  });
  app = await createOrderService(config, testLogger('order'));
});

after(async () => {
  await app?.close();
  await cartStub?.close();
  const { shutdownTelemetry } = await import('@scaleshop/platform/telemetry/state');
  await shutdownTelemetry();
  await Promise.all([receiver?.close(), vhost?.drop(), database?.drop()]);
});

test('an order placed under a traceparent answers with that trace id, then and when read later', async () => {
  const caller: Caller = { id: randomUUID(), email: 'traced@example.com', role: 'customer' };
  const headers = identityHeadersFor(caller);
  const traceId = randomBytes(16).toString('hex');
  const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;

  const placed = await app.inject({ method: 'POST', url: '/orders/checkout', headers: { ...headers, traceparent } });
  assert.equal(placed.statusCode, 202, placed.body);
  const order = placed.json() as { id: string; trace_id: string | null };
  assert.equal(order.trace_id, traceId);

  const read = await app.inject({ url: `/orders/${order.id}`, headers });
  assert.equal(read.statusCode, 200);
  assert.equal(read.json().trace_id, traceId);
  const listed = await app.inject({ url: '/orders', headers });
  assert.deepEqual((listed.json() as { items: { id: string; trace_id: string | null }[] }).items.map(({ id, trace_id }) => ({ id, trace_id })), [{ id: order.id, trace_id: traceId }]);

  // The id is that of the trace the checkout's span was exported in.
  await waitFor('the checkout span', async () => receiver.spans().some((span) => span.traceId === traceId && span.name === 'POST /orders/checkout'));
});

test('a checkout without a traceparent starts a trace of its own and keeps that one', async () => {
  const caller: Caller = { id: randomUUID(), email: 'untraced-caller@example.com', role: 'customer' };
  const headers = identityHeadersFor(caller);
  const placed = await app.inject({ method: 'POST', url: '/orders/checkout', headers });
  assert.equal(placed.statusCode, 202, placed.body);
  const order = placed.json() as { id: string; trace_id: string | null };
  assert.match(order.trace_id ?? '', /^[0-9a-f]{32}$/);
  assert.equal((await app.inject({ url: `/orders/${order.id}`, headers })).json().trace_id, order.trace_id);
  await waitFor('the checkout span', async () => receiver.spans().some((span) => span.traceId === order.trace_id && span.name === 'POST /orders/checkout'));
});
