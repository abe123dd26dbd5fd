import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigError, identityHeadersFor, loadConfig, sql, type App, type Database, type EventData, type OrderLine } from '@scaleshop/platform';
import { createPaymentService } from '../src/app.ts';
import { paymentConfig } from '../src/config.ts';
import { createProvider } from '../src/provider.ts';
import type { PaymentDatabase } from '../src/schema.ts';
import { createTestDatabase, createTestVhost, envelopeOf, eventually, startServiceHarness, testLogger, testRabbitMqUrl, waitFor, type ServiceHarness, type TestDatabase, type TestVhost } from '@scaleshop/platform/testing';

const items: OrderLine[] = [
  { product_id: 1, name: 'Gaming Laptop', price: '1299.99', quantity: 2 },
  { product_id: 7, name: 'Gel Pen Pack', price: '8.49', quantity: 3 },
];

function reserved(overrides: Partial<EventData['inventory.reserved']> = {}): EventData['inventory.reserved'] {
  return { order_id: randomUUID(), user_id: randomUUID(), user_email: 'buyer@example.com', items, total_amount: '2625.45', ...overrides };
}

type Harness = ServiceHarness<PaymentDatabase>;

/** A payment service on a database and a broker virtual host of its own, consuming already. */
const startHarness = (label: string, overrides: Record<string, string> = {}): Promise<Harness> =>
  startServiceHarness({
    label,
    observe: ['payment.*'],
    consumes: 'payment.inventory',
    start: (environment) => createPaymentService(loadConfig(paymentConfig, { ...environment, PAYMENT_LATENCY_MS: '0', ...overrides }), testLogger('payment')),
  });

const paymentsOf = (db: Database<PaymentDatabase>, orderId: string) =>
  db.db.selectFrom('payments').selectAll().where('order_id', '=', orderId).execute();

const outboxCountFor = async (db: Database<PaymentDatabase>, orderId: string) => {
  const { rows } = await sql<{ count: number }>`select count(*) as count from outbox where envelope->'data'->>'order_id' = ${orderId}`.execute(db.db);
  return rows[0]!.count;
};

const processed = (db: Database<PaymentDatabase>, eventId: string) =>
  db.db.selectFrom('processed_events').select('event_id').where('event_id', '=', eventId).executeTakeFirst();

describe('payment service', () => {
  let harness: Harness;

  before(async () => {
    harness = await startHarness('payment');
  });
  after(async () => {
    await harness?.close();
  });

  test('charges a reserved order and announces payment.processed with everything the next steps need', async () => {
    const data = reserved();
    await harness.broker.publish(envelopeOf('inventory.reserved', data));
    const event = await harness.broker.nextEventFor(data.order_id);

    const [payment, ...others] = await paymentsOf(harness.db, data.order_id);
    assert.ok(payment);
    assert.equal(others.length, 0);
    assert.equal(event.type, 'payment.processed');
    assert.deepEqual(event.data, { ...data, payment_id: payment.id });
    assert.deepEqual(
      { user_id: payment.user_id, amount: payment.amount, status: payment.status, reason: payment.reason },
      { user_id: data.user_id, amount: '2625.45', status: 'succeeded', reason: null },
    );

    const response = await harness.app.inject({ url: `/payments/${data.order_id}` });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(Date.parse(body.created_at), payment.created_at.getTime());
    assert.deepEqual({ ...body, created_at: undefined }, { order_id: data.order_id, amount: '2625.45', status: 'succeeded', reason: null, created_at: undefined });
  });

  test('declines an amount over PAYMENT_DECLINE_OVER and announces payment.failed with the reason', async () => {
    const data = reserved({ items: [{ product_id: 1, name: 'Gaming Laptop', price: '1299.99', quantity: 8 }], total_amount: '10399.92' });
    await harness.broker.publish(envelopeOf('inventory.reserved', data));
    const event = await harness.broker.nextEventFor(data.order_id);
    assert.equal(event.type, 'payment.failed');
    assert.deepEqual(event.data, { ...data, reason: 'amount exceeds the limit of 10000.00' });

    const response = await harness.app.inject({ url: `/payments/${data.order_id}` });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().status, 'declined');
    assert.equal(response.json().reason, 'amount exceeds the limit of 10000.00');
    assert.equal(response.json().amount, '10399.92');
  });

  test('an amount exactly at the limit is charged', async () => {
    const data = reserved({ total_amount: '10000.00' });
    await harness.broker.publish(envelopeOf('inventory.reserved', data));
    assert.equal((await harness.broker.nextEventFor(data.order_id)).type, 'payment.processed');
  });

  test('the same event delivered twice charges once and announces once', async () => {
    const data = reserved();
    const envelope = envelopeOf('inventory.reserved', data);
    // Back to back, so the two deliveries are in flight together.
    await Promise.all([harness.broker.publish(envelope), harness.broker.publish(envelope)]);
    await harness.broker.nextEventFor(data.order_id);
    // And once more after the first has been handled.
    await harness.broker.publish(envelope);
    await sleep(500);
    assert.equal((await paymentsOf(harness.db, data.order_id)).length, 1);
    assert.equal(await outboxCountFor(harness.db, data.order_id), 1);
    assert.deepEqual(harness.broker.eventsFor(data.order_id).map((event) => event.type), ['payment.processed']);
  });

  test('another event for an order already paid adds no payment and no event', async () => {
    const data = reserved();
    await harness.broker.publish(envelopeOf('inventory.reserved', data));
    await harness.broker.nextEventFor(data.order_id);
    // A different envelope: the processed-events check cannot catch it, the unique order_id does.
    const second = envelopeOf('inventory.reserved', { ...data, total_amount: '20000.00' });
    await harness.broker.publish(second);
    await waitFor('the second event to be handled', () => processed(harness.db, second.id));
    await sleep(200);
    const payments = await paymentsOf(harness.db, data.order_id);
    assert.deepEqual(payments.map((payment) => [payment.status, payment.amount]), [['succeeded', '2625.45']]);
    assert.equal(await outboxCountFor(harness.db, data.order_id), 1);
    assert.equal(harness.broker.eventsFor(data.order_id).length, 1);
  });

  test('GET /payments/:order_id answers 404 for an order without a payment and 400 for a malformed id', async () => {
    const missing = await harness.app.inject({ url: `/payments/${randomUUID()}` });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'PAYMENT_NOT_FOUND');
    const malformed = await harness.app.inject({ url: '/payments/not-a-uuid' });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().error.code, 'VALIDATION_ERROR');
  });

  test('health reports ready when the database answers', async () => {
    const ready = await harness.app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready', checks: { database: true, consumers: true }, optional: { broker: true } });
  });
});

describe('payment readiness: its consumer attached to the queue', () => {
  const run = promisify(execFile);
  const user = decodeURIComponent(new URL(testRabbitMqUrl).username || 'guest');
  let database: TestDatabase;
  let vhost: TestVhost;
  const apps: App[] = [];
  before(async () => {
    [database, vhost] = await Promise.all([createTestDatabase('payment_ready'), createTestVhost('payment_ready')]);
  });
  after(async () => {
    for (const app of apps) await app.close().catch(() => {});
    await vhost?.drop();
    await database?.drop();
  });
  const start = async (overrides: Record<string, string> = {}) => {
    const config = loadConfig(paymentConfig, { DATABASE_URL: database.url, DATABASE_POOL_MAX: '2', RABBITMQ_URL: vhost.url, RETRY_DELAYS_MS: '50', PAYMENT_LATENCY_MS: '0', ...overrides });
    const app = await createPaymentService(config, testLogger('payment'));
    apps.push(app);
    return app;
  };
  const readiness = async (app: App) => {
    const response = await app.inject({ url: '/health/ready' });
    return { code: response.statusCode, body: response.json() as { checks: Record<string, boolean>; optional?: Record<string, boolean> } };
  };

  test('not ready until the broker confirms the subscription, ready once it does, not ready again when the broker cancels it', async () => {
    // Everything but reading its queue: the topology is declared, the consume is refused
    // (ACCESS_REFUSED), and the service retries the connection with its back-off.
    await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost.name, user, '.*', '.*', '^(?!payment\\.inventory$).*']);
    const app = await start();
    // Local mode's setting: the same replica, but its readiness leaves the consumer out.
    const local = await start({ READINESS_WAITS_FOR_CONSUMERS: 'false' });
    await sleep(1_500);
    const refused = await readiness(app);
    assert.equal(refused.code, 503);
    assert.equal(refused.body.checks.consumers, false);
    assert.equal(refused.body.checks.database, true);
    const localRefused = await readiness(local);
    assert.equal(localRefused.code, 200);
    assert.deepEqual(localRefused.body.checks, { database: true });

    await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost.name, user, '.*', '.*', '.*']);
    // The next reconnection (at most 5 s of back-off) subscribes.
    const attached = await eventually(() => readiness(app), (answer) => answer.code === 200, 15_000);
    assert.equal(attached.code, 200);
    assert.deepEqual(attached.body.checks, { database: true, consumers: true });

    // The broker cancels the subscription when its queue goes: still connected, no longer consuming.
    await run('rabbitmqctl', ['-q', 'delete_queue', '-p', vhost.name, 'payment.inventory']);
    const cancelled = await eventually(() => readiness(app), (answer) => answer.code === 503);
    assert.equal(cancelled.code, 503);
    assert.equal(cancelled.body.checks.consumers, false);
    assert.equal(cancelled.body.optional?.broker, true, 'the connection stays: only the subscription went');
  });
});

describe('payment service with PAYMENT_FAILURE_RATE=1', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness('payment_fail', { PAYMENT_FAILURE_RATE: '1' });
  });
  after(async () => {
    await harness?.close();
  });

  test('declines every charge with the issuer\'s reason', async () => {
    const data = reserved({ total_amount: '1.00' });
    await harness.broker.publish(envelopeOf('inventory.reserved', data));
    const event = await harness.broker.nextEventFor(data.order_id);
    assert.equal(event.type, 'payment.failed');
    assert.deepEqual(event.data, { ...data, reason: 'card declined by the issuer' });
    const [payment] = await paymentsOf(harness.db, data.order_id);
    assert.deepEqual([payment?.status, payment?.reason], ['declined', 'card declined by the issuer']);
  });
});

describe('payment service with PAYMENT_LATENCY_MS=200', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness('payment_slow', { PAYMENT_LATENCY_MS: '200' });
  });
  after(async () => {
    await harness?.close();
  });

  test('a charge takes at least the provider\'s latency', async () => {
    const data = reserved();
    const started = Date.now();
    await harness.broker.publish(envelopeOf('inventory.reserved', data));
    await harness.broker.nextEventFor(data.order_id);
    const arrival = harness.broker.received.find((entry) => (entry.event.data as { order_id: string }).order_id === data.order_id);
    assert.ok(arrival);
    assert.ok(arrival.at - started >= 200, `took ${arrival.at - started} ms`);
  });
});

describe('simulated provider', () => {
  const order_id = randomUUID();

  test('declines over the limit, accepts at it, and leaves the rest to the dice', async () => {
    let dice = 0.5;
    const provider = createProvider({ latencyMs: 0, declineOver: '100.00', failureRate: 0.3, random: () => dice });
    assert.deepEqual(await provider.charge({ order_id, amount: '100.01' }), { status: 'declined', reason: 'amount exceeds the limit of 100.00' });
    const atLimit = await provider.charge({ order_id, amount: '100' });
    assert.equal(atLimit.status, 'succeeded');
    assert.match((atLimit as { reference: string }).reference, /\S/);
    dice = 0.29;
    assert.deepEqual(await provider.charge({ order_id, amount: '5.00' }), { status: 'declined', reason: 'card declined by the issuer' });
    dice = 0.3;
    assert.equal((await provider.charge({ order_id, amount: '5.00' })).status, 'succeeded');
  });

  test('never declines at random with rate 0, always with rate 1', async () => {
    const never = createProvider({ latencyMs: 0, declineOver: '100.00', failureRate: 0, random: () => 0 });
    assert.equal((await never.charge({ order_id, amount: '5.00' })).status, 'succeeded');
    const always = createProvider({ latencyMs: 0, declineOver: '100.00', failureRate: 1, random: () => 0.999999 });
    assert.equal((await always.charge({ order_id, amount: '5.00' })).status, 'declined');
  });

  test('answers after the configured latency', async () => {
    const provider = createProvider({ latencyMs: 100, declineOver: '100.00', failureRate: 0 });
    const started = performance.now();
    await provider.charge({ order_id, amount: '5.00' });
    assert.ok(performance.now() - started >= 99);
  });
});

describe('payment configuration', () => {
  const base = { DATABASE_URL: 'postgres://localhost/payment' };

  test('defaults and normalizes the decline limit', () => {
    const config = loadConfig(paymentConfig, base);
    assert.deepEqual([config.PORT, config.PAYMENT_LATENCY_MS, config.PAYMENT_DECLINE_OVER, config.PAYMENT_FAILURE_RATE], [8002, 1000, '10000.00', 0]);
    assert.equal(loadConfig(paymentConfig, { ...base, PAYMENT_DECLINE_OVER: '250.5' }).PAYMENT_DECLINE_OVER, '250.50');
  });

  test('rejects a limit that is not an amount, a rate outside 0..1 and a negative latency', () => {
    for (const [name, value] of [['PAYMENT_DECLINE_OVER', '12.345'], ['PAYMENT_DECLINE_OVER', '-5'], ['PAYMENT_FAILURE_RATE', '1.5'], ['PAYMENT_LATENCY_MS', '-1']] as const) {
      assert.throws(() => loadConfig(paymentConfig, { ...base, [name]: value }), (error: unknown) => error instanceof ConfigError && error.message.includes(name), `${name}=${value}`);
    }
  });
});

describe('payment fault knobs at run time', () => {
  let harness: Harness;
  let environment: Record<string, string>;
  let otherReplica: App;
  const admin = identityHeadersFor({ id: randomUUID(), email: 'admin@example.com', role: 'admin' });
  const customer = identityHeadersFor({ id: randomUUID(), email: 'someone@example.com', role: 'customer' });
  before(async () => {
    harness = await startServiceHarness({
      label: 'payment_knobs',
      observe: ['payment.*'],
      consumes: 'payment.inventory',
      start: (env) => {
        environment = { ...env, PAYMENT_LATENCY_MS: '0' };
        return createPaymentService(loadConfig(paymentConfig, environment), testLogger('payment'));
      },
    });
    // A second replica on the same database and queue: a change made through one must reach both.
    otherReplica = await createPaymentService(loadConfig(paymentConfig, environment), testLogger('payment'));
  });
  after(async () => {
    await otherReplica?.close();
    await harness?.close();
  });

  test('an admin turns the failure rate up and down while it runs; every replica applies it to the next charge', async () => {
    const put = (headers: Record<string, string>, payload: unknown) => harness.app.inject({ method: 'PUT', url: '/admin/faults', headers, payload: payload as object });
    assert.equal((await put(customer, { failure_rate: 1 })).statusCode, 403);
    assert.equal((await harness.app.inject({ method: 'PUT', url: '/admin/faults', payload: { failure_rate: 1 } })).statusCode, 401);
    for (const invalid of [{ failure_rate: 2 }, { failure_rate: -0.1 }, { latency_ms: 1.5 }, { nope: 1 }, {}]) {
      const refused = await put(admin, invalid);
      assert.equal(refused.statusCode, 400, JSON.stringify(invalid));
      assert.equal(refused.json().error.code, 'VALIDATION_ERROR');
    }

    const changed = await put(admin, { failure_rate: 1 });
    assert.equal(changed.statusCode, 200);
    assert.deepEqual(changed.json(), { failure_rate: 1, latency_ms: 0 });
    await waitFor('the other replica to see failure_rate 1', async () => (await otherReplica.inject({ url: '/admin/faults', headers: admin })).json().failure_rate === 1, 5_000);

    const declined = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const data = reserved({ total_amount: '1.00' });
        await harness.broker.publish(envelopeOf('inventory.reserved', data));
        return (await harness.broker.nextEventFor(data.order_id)).type;
      }),
    );
    assert.deepEqual(declined, ['payment.failed', 'payment.failed', 'payment.failed', 'payment.failed']);

    assert.deepEqual((await put(admin, { failure_rate: 0 })).json(), { failure_rate: 0, latency_ms: 0 });
    await waitFor('the other replica to see failure_rate 0', async () => (await otherReplica.inject({ url: '/admin/faults', headers: admin })).json().failure_rate === 0, 5_000);
    const data = reserved({ total_amount: '1.00' });
    await harness.broker.publish(envelopeOf('inventory.reserved', data));
    assert.equal((await harness.broker.nextEventFor(data.order_id)).type, 'payment.processed');
  });
});
