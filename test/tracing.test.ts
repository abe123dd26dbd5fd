/**
 * One checkout, one trace: every service as its own process (started as the image starts them,
 * under `--import @scaleshop/platform/telemetry`), exporting OTLP/HTTP JSON to a receiver
 * started here; real Postgres, RabbitMQ (a virtual host of this file's own) and SMTP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createTestVhost, eventually, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan, type TestVhost, dropDatabase } from '@scaleshop/platform/testing';
import { startShop, type ServiceName, type Shop } from '../scripts/local-shop.ts';
import { callGateway, type GatewayCall } from './gateway-client.ts';
import { newTraceParent } from '../loadtests/lib/traceparent.ts';

const SERVER = 2;
const PRODUCER = 4;
const CONSUMER = 5;

let shop: Shop;
let vhost: TestVhost;
let receiver: OtlpReceiver;
const logLines: Array<{ service: ServiceName; line: Record<string, unknown> }> = [];

const call = (method: string, path: string, options?: GatewayCall) => callGateway(shop.gatewayUrl, method, path, options);

/** The whole saga, and the spans' export batches, take a while with every service starting cold. */
const sagaTimeoutMs = 20_000;

before(async () => {
  [vhost, receiver] = await Promise.all([createTestVhost('tracing'), startOtlpReceiver()]);
  shop = await startShop({
    ephemeralPorts: true,
    databasePrefix: `e2e_tracing_${randomBytes(3).toString('hex')}_`,
    rabbitMqUrl: vhost.url,
    output: process.env.E2E_LOGS ? 'pretty' : 'silent',
    onLogLine: (service, line) => {
      if (!line.startsWith('{')) return;
      logLines.push({ service, line: JSON.parse(line) as Record<string, unknown> });
    },
    environment: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      PAYMENT_LATENCY_MS: '50',
      EMAIL_LATENCY_MS: '20',
      RETRY_DELAYS_MS: '200,500,1000,2000',
      OUTBOX_POLL_INTERVAL_MS: '200',
    },
  });
});

after(async () => {
  await shop?.stop();
  for (const url of Object.values(shop?.databaseUrls ?? {})) await dropDatabase(url);
  await vhost?.drop();
  await receiver?.close();
});

describe('a checkout through the gateway', () => {
  let orderId: string;
  let traceId: string;
  let spans: ReceivedSpan[];

  before(async () => {
    const email = `traced-${randomBytes(4).toString('hex')}@example.com`;
    assert.equal((await call('POST', '/api/auth/register', { body: { email, password: 'password123', name: 'Traced' } })).status, 201);
    const token = (await call('POST', '/api/auth/login', { body: { email, password: 'password123' } })).body.access_token as string;
    assert.equal((await call('POST', '/api/cart/items', { token, body: { product_id: 1, quantity: 1 } })).status, 201);
    // The shop-wide health check fans out to every service: none of it may show up as spans.
    assert.equal((await call('GET', '/health')).status, 200);

    const checkout = await call('POST', '/api/orders/checkout', { token });
    assert.equal(checkout.status, 202);
    orderId = checkout.body.id;
    const order = await eventually(
      async () => (await call('GET', `/api/orders/${orderId}`, { token })).body,
      (body) => body.status === 'completed',
      sagaTimeoutMs,
    );
    assert.equal(order.status, 'completed');

    const gatewayCheckout = () =>
      receiver.spans().find((span) => span.serviceName === 'gateway' && span.kind === SERVER && span.attributes['url.path'] === '/api/orders/checkout');
    const root = await eventually(gatewayCheckout, (span) => span !== undefined, sagaTimeoutMs);
    assert.ok(root, 'the gateway exported a server span for POST /api/orders/checkout');
    traceId = root.traceId;
    // The order keeps its checkout's trace, the one the gateway started, for a page to link to later.
    assert.equal(checkout.body.trace_id, traceId);
    assert.equal(order.trace_id, traceId);
    // Each service exports its batches on its own: wait until the saga's last step (order
    // consuming email.sent) and the SMTP send are in, and no span points to a parent still missing.
    spans = await eventually(
      () => receiver.spans().filter((span) => span.traceId === traceId),
      (found) => {
        const ids = new Set(found.map((span) => span.spanId));
        return (
          found.some((span) => span.serviceName === 'order' && span.kind === CONSUMER && span.attributes['event.type'] === 'email.sent') &&
          found.some((span) => span.serviceName === 'email' && span.name === 'smtp send') &&
          found.every((span) => span.parentSpanId === '' || ids.has(span.parentSpanId))
        );
      },
      sagaTimeoutMs,
    );
  });

  test("the gateway answers with the request's trace id, the one its spans are exported under", async () => {
    const response = await fetch(`${shop.gatewayUrl}/api/products/1`);
    await response.arrayBuffer();
    const id = response.headers.get('trace-id');
    assert.match(id ?? '', /^[0-9a-f]{32}$/);
    const span = await eventually(
      () => receiver.spans().find((candidate) => candidate.serviceName === 'gateway' && candidate.kind === SERVER && candidate.traceId === id),
      (found) => found !== undefined,
      sagaTimeoutMs,
    );
    assert.equal(span?.attributes['url.path'], '/api/products/1');
  });

  test('is one trace with spans from the gateway, order, cart, product, payment and email', () => {
    const services = new Set(spans.map((span) => span.serviceName));
    for (const service of ['gateway', 'order', 'cart', 'product', 'payment', 'email']) assert.ok(services.has(service), `no span from ${service} in trace ${traceId}: ${[...services].join(', ')}`);
    const root = spans.filter((span) => span.parentSpanId === '');
    assert.equal(root.length, 1, 'one root span');
    assert.equal(root[0]!.serviceName, 'gateway');
    assert.equal(root[0]!.kind, SERVER);
    assert.equal(root[0]!.attributes['http.request.method'], 'POST');
  });

  test('chains parent to child, unbroken, from the gateway down to the email handed to SMTP', () => {
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const smtp = spans.find((span) => span.serviceName === 'email' && span.name === 'smtp send');
    assert.ok(smtp, 'the email service exported its SMTP send span in the checkout trace');
    const chain: ReceivedSpan[] = [smtp];
    for (let span = smtp; span.parentSpanId !== ''; ) {
      const parent = byId.get(span.parentSpanId);
      assert.ok(parent, `span "${span.name}" (${span.serviceName}) has parent ${span.parentSpanId}, which was never exported`);
      chain.push(parent);
      span = parent;
    }
    const root = chain.at(-1)!;
    assert.equal(root.serviceName, 'gateway');
    assert.equal(root.kind, SERVER);

    // The saga's path, as docs/saga.md's map has it: order.created → product → inventory.reserved →
    // payment → payment.processed → email.
    const servicesAlongChain = chain.map((span) => span.serviceName).reverse().filter((service, index, all) => service !== all[index - 1]);
    assert.deepEqual(servicesAlongChain, ['gateway', 'order', 'product', 'payment', 'email']);
    const consumed = chain.filter((span) => span.kind === CONSUMER).map((span) => `${span.serviceName}:${span.attributes['event.type']}`).reverse();
    assert.deepEqual(consumed, ['product:order.created', 'payment:inventory.reserved', 'email:payment.processed']);
    // Each hop through RabbitMQ is a publish (producer) span and the relay's outbox span above it.
    assert.equal(chain.filter((span) => span.kind === PRODUCER).length, 3);
    assert.deepEqual(chain.filter((span) => span.name.startsWith('outbox ')).map((span) => span.name).reverse(), ['outbox order.created', 'outbox inventory.reserved', 'outbox payment.processed']);
  });

  test('marks the messaging spans with the conventions and the order, and shows the queue waits', () => {
    const handled = spans.filter((span) => span.kind === CONSUMER);
    assert.ok(handled.length >= 6, `consumer spans: ${handled.length}`);
    for (const span of handled) {
      assert.equal(span.attributes['messaging.system'], 'rabbitmq');
      assert.equal(span.attributes['messaging.operation.type'], 'process');
      assert.equal(span.attributes['order.id'], orderId);
      assert.equal(typeof span.attributes['event.id'], 'string');
      assert.equal(typeof span.attributes['messaging.queue_wait_ms'], 'number');
    }
    for (const span of spans.filter((span) => span.kind === PRODUCER)) {
      assert.equal(span.attributes['messaging.system'], 'rabbitmq');
      assert.equal(span.attributes['messaging.destination.name'], 'ecommerce_events');
      assert.equal(span.attributes['messaging.operation.type'], 'send');
      assert.equal(span.attributes['order.id'], orderId);
    }
    // The order's updates: its saga consumer handles each step in this same trace.
    const orderUpdates = handled.filter((span) => span.serviceName === 'order').map((span) => span.attributes['event.type']);
    assert.deepEqual(new Set(orderUpdates), new Set(['inventory.reserved', 'payment.processed', 'email.sent']));
    // The time each message waited in its queue is a span of its own, beside the consumer's.
    const waits = spans.filter((span) => span.name.endsWith(' wait')).map((span) => span.name);
    for (const queue of ['product.orders', 'cart.orders', 'payment.inventory', 'email.notifications', 'order.saga']) assert.ok(waits.includes(`${queue} wait`), `no wait span for ${queue}`);
    // And the database work of a handler is inside it.
    const reservation = handled.find((span) => span.serviceName === 'product' && span.attributes['event.type'] === 'order.created')!;
    assert.ok(spans.some((span) => span.parentSpanId === reservation.spanId && span.attributes['db.system.name'] === 'postgresql'), 'the reservation\'s queries are children of its consumer span');
  });

  test('makes no spans for health checks', () => {
    const probes = receiver.spans().filter((span) => /^\/(health|metrics)/.test(String(span.attributes['url.path'] ?? '')));
    assert.deepEqual(probes.map((span) => `${span.serviceName} ${span.name} ${span.attributes['url.path']}`), []);
  });

  test('writes the trace id into the log lines of the request and of the consumers', () => {
    const handled = logLines.find(({ service, line }) => service === 'product' && line.msg === 'event handled' && line.event_type === 'order.created' && line.trace_id === traceId);
    assert.ok(handled, `product logged "event handled" for order.created with trace_id ${traceId}`);
    assert.match(String(handled.line.span_id), /^[0-9a-f]{16}$/);
    const completed = logLines.find(({ service, line }) => service === 'order' && line.msg === 'request completed' && line.trace_id === traceId);
    assert.ok(completed, 'the order service\'s request line carries the trace id too');
  });
});

describe('a request that comes with a W3C traceparent, as the load generators send', () => {
  const gatewayServerSpan = (traceId: string) => receiver.spans().find((span) => span.traceId === traceId && span.serviceName === 'gateway' && span.kind === SERVER);

  test('is continued by the gateway: its server span has the caller\'s trace id and the caller\'s span as parent', async () => {
    const caller = newTraceParent(1);
    assert.equal((await call('GET', '/api/products/2', { headers: { traceparent: caller.header } })).status, 200);
    const gateway = await eventually(() => gatewayServerSpan(caller.traceId), (span) => span !== undefined, sagaTimeoutMs);
    assert.ok(gateway, `no gateway server span in the caller's trace ${caller.traceId}`);
    assert.equal(gateway.parentSpanId, caller.spanId);
  });

  test('that is not sampled is not recorded by the gateway: the caller decides', async () => {
    const unsampled = newTraceParent(0);
    const sampled = newTraceParent(1);
    assert.equal((await call('GET', '/api/products/3', { headers: { traceparent: unsampled.header } })).status, 200);
    // Sent after it: once its span is in, the unsampled request's would be too.
    assert.equal((await call('GET', '/api/products/3', { headers: { traceparent: sampled.header } })).status, 200);
    await eventually(() => gatewayServerSpan(sampled.traceId), (span) => span !== undefined, sagaTimeoutMs);
    assert.equal(gatewayServerSpan(unsampled.traceId), undefined);
  });

  test(
    'is continued by the services behind the gateway too',
    async () => {
      const caller = newTraceParent(1);
      assert.equal((await call('GET', '/api/products/4', { headers: { traceparent: caller.header } })).status, 200);
      const spans = await eventually(
        () => receiver.spans().filter((span) => span.traceId === caller.traceId),
        (found) => found.some((span) => span.serviceName === 'product' && span.kind === SERVER),
        5_000,
      );
      assert.ok(spans.some((span) => span.serviceName === 'product' && span.kind === SERVER), `spans of the caller's trace: ${spans.map((span) => `${span.serviceName} ${span.name}`).join(', ')}`);
    },
  );
});
