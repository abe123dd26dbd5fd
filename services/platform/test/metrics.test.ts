/**
 * GET /metrics, which createHttpApp gives every service: Prometheus text with the HTTP
 * histograms, the consumers' outcomes, the outbox's lag and backlog, and the pool's usage.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import {
  createDatabase,
  createHttpApp,
  enqueueEvent,
  exchangeName,
  messagingMigration,
  migrateToLatest,
  startMessaging,
  Type,
  type App,
  type Database,
  type EventEnvelope,
  type Messaging,
} from '@scaleshop/platform';
import { createTestDatabase, createTestVhost, eventually, testLogger, type TestDatabase, type TestVhost } from '@scaleshop/platform/testing';

const logger = testLogger('metrics');
let app: App;
let database: TestDatabase;
let vhost: TestVhost;
let db: Database<unknown>;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (samples only). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((label) => [label[1]!, label[2]!]));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(): Promise<{ contentType: string; samples: Sample[] }> {
  const response = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(response.statusCode, 200);
  return { contentType: String(response.headers['content-type']), samples: parse(response.body) };
}

/** The one sample of `name` whose labels include `labels`; undefined when there is none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  assert.ok(found.length <= 1, `${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

before(async () => {
  [database, vhost] = await Promise.all([createTestDatabase('metrics'), createTestVhost('metrics')]);
  db = createDatabase({ url: database.url, poolMax: 1, logger, applicationName: 'metrics-test' });
  await migrateToLatest(db.db, { '0001_messaging': messagingMigration }, logger);
  app = await createHttpApp({ service: 'metrics-test', logger, openapi: { title: 'metrics-test' } });
  app.get('/things/:id', { schema: { params: Type.Object({ id: Type.Integer() }) } }, async (request, reply) => (request.params.id === 404 ? reply.code(404).send({}) : { id: request.params.id }));
  await app.ready();
});

after(async () => {
  await app?.close();
  await db?.close();
  await vhost?.drop();
  await database?.drop();
});

describe('GET /metrics', () => {
  test('answers in the Prometheus text format, and is not in the OpenAPI document', async () => {
    const { contentType, samples } = await scrape();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    assert.ok(valueOf(samples, 'process_cpu_user_seconds_total') !== undefined, 'process metrics');
    assert.ok(valueOf(samples, 'nodejs_eventloop_lag_seconds') !== undefined, 'event-loop lag');
    const openapi = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    assert.deepEqual(Object.keys(openapi.paths), ['/things/{id}']);
  });

  test('has a request-duration histogram by method, route template and status, without the probes', async () => {
    for (const url of ['/things/1', '/things/2', '/things/404', '/nowhere', '/health/live', '/health/ready', '/metrics']) await app.inject({ method: 'GET', url });
    const { samples } = await scrape();
    const name = 'http_server_request_duration_seconds_count';
    assert.equal(valueOf(samples, name, { method: 'GET', route: '/things/:id', status_code: '200' }), 2);
    assert.equal(valueOf(samples, name, { method: 'GET', route: '/things/:id', status_code: '404' }), 1);
    assert.equal(valueOf(samples, name, { method: 'GET', route: 'unmatched', status_code: '404' }), 1);
    const buckets = samples.filter((sample) => sample.name === 'http_server_request_duration_seconds_bucket' && sample.labels.route === '/things/:id' && sample.labels.status_code === '200');
    assert.equal(buckets.find((bucket) => bucket.labels.le === '+Inf')?.value, 2);
    assert.ok(buckets.length > 5, 'several buckets');
    const routes = new Set(samples.filter((sample) => sample.name === name).map((sample) => sample.labels.route));
    for (const probe of ['/health/live', '/health/ready', '/metrics']) assert.equal(routes.has(probe), false, `${probe} is not measured`);
  });

  test('reports the database pool: open, idle and waiting', async () => {
    const client = await db.pool.connect();
    const waiting = db.pool.query('select 1'); // the pool holds one connection: this one waits
    try {
      await sleep(20);
      const { samples } = await scrape();
      const pool = { pool: 'metrics-test' };
      assert.equal(valueOf(samples, 'db_pool_max_connections', pool), 1);
      assert.equal(valueOf(samples, 'db_pool_connections', pool), 1);
      assert.equal(valueOf(samples, 'db_pool_idle_connections', pool), 0);
      assert.equal(valueOf(samples, 'db_pool_waiting_clients', pool), 1);
    } finally {
      client.release();
      await waiting;
    }
    const { samples } = await scrape();
    assert.equal(valueOf(samples, 'db_pool_waiting_clients', { pool: 'metrics-test' }), 0);
    assert.equal(valueOf(samples, 'db_pool_idle_connections', { pool: 'metrics-test' }), 1);
  });

  test('reports the outbox backlog and failed publications while the broker is unreachable', async () => {
    const down = startMessaging({ service: 'backlog-test', config: { RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:1/', CONSUMER_PREFETCH: 1, RETRY_DELAYS_MS: [50], OUTBOX_POLL_INTERVAL_MS: 50, DATABASE_URL: database.url }, logger, db: db.db });
    try {
      const data = { order_id: randomUUID(), user_id: randomUUID(), user_email: 'b@example.com', items: [] };
      for (let i = 0; i < 3; i++) await db.db.transaction().execute((trx) => enqueueEvent(trx, 'inventory.released', data));
      await sleep(300);
      const { samples } = await scrape();
      assert.equal(valueOf(samples, 'outbox_backlog', { outbox: 'backlog-test' }), 3);
      assert.ok(valueOf(samples, 'outbox_oldest_unpublished_age_seconds', { outbox: 'backlog-test' })! >= 0.2);
      assert.ok(valueOf(samples, 'outbox_publish_failures_total')! >= 1);
    } finally {
      await down.close();
    }
    assert.equal(valueOf((await scrape()).samples, 'outbox_backlog', { outbox: 'backlog-test' }), undefined, 'a closed outbox is no longer reported');
  });
});

describe('GET /metrics, once messages flow', () => {
  let messaging: Messaging<unknown>;
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  const failing = new Set<string>();
  const settled = new Set<string>();

  before(async () => {
    await db.db.transaction().execute(async (trx) => void (await trx.deleteFrom('outbox' as never).execute())); // the backlog test's rows
    messaging = startMessaging({ service: 'flow-test', config: { RABBITMQ_URL: vhost.url, CONSUMER_PREFETCH: 5, RETRY_DELAYS_MS: [50], OUTBOX_POLL_INTERVAL_MS: 50, DATABASE_URL: database.url }, logger, db: db.db });
    await messaging.consume('cart.orders', {
      'order.created': async (event) => {
        settled.add(event.id);
        if (failing.has(event.data.user_email)) throw new Error('always fails');
      },
    });
    await eventually(async () => messaging.broker.isConnected(), Boolean);
    connection = await amqp.connect(vhost.url);
    channel = await connection.createConfirmChannel();
  });
  after(async () => {
    await connection?.close();
    await messaging?.close();
  });

  const queueDepth = async (queue: string) => (await channel.checkQueue(queue)).messageCount;

  test('count each outcome by queue and event type, with the outbox lag and the queue wait', async () => {
    const data = (email: string) => ({ order_id: randomUUID(), user_id: randomUUID(), user_email: email, items: [], total_amount: '1.00' });
    // 1. handled, through the outbox; 2. the same event again: a duplicate.
    const handled = await db.db.transaction().execute((trx) => enqueueEvent(trx, 'order.created', data('ok@example.com')));
    await eventually(async () => settled.has(handled.id), Boolean);
    const duplicate: EventEnvelope = { ...handled };
    channel.publish(exchangeName, 'order.created', Buffer.from(JSON.stringify(duplicate)), { messageId: handled.id, type: 'order.created' });
    // 3. one that always fails: retried once (one delay configured), then dead-lettered.
    failing.add('bad@example.com');
    await db.db.transaction().execute((trx) => enqueueEvent(trx, 'order.created', data('bad@example.com')));
    // 4. a malformed one: straight to the dead-letter queue.
    channel.publish(exchangeName, 'order.created', Buffer.from('{not json'), {});
    await channel.waitForConfirms();
    await eventually(async () => (await queueDepth('cart.orders.dlq')) === 2, Boolean);
    await sleep(100);

    const { samples } = await scrape();
    const count = (outcome: string, eventType = 'order.created') =>
      valueOf(samples, 'messaging_consumer_duration_seconds_count', { queue: 'cart.orders', event_type: eventType, outcome });
    assert.equal(count('handled'), 1);
    assert.equal(count('duplicate'), 1);
    assert.equal(count('retried'), 1);
    assert.equal(count('dead_lettered'), 1);
    assert.equal(count('dead_lettered', 'unknown'), 1);
    assert.equal(valueOf(samples, 'messaging_retries_total', { queue: 'cart.orders', event_type: 'order.created', reason: 'failed' }), 1);
    assert.equal(valueOf(samples, 'messaging_dead_lettered_total', { queue: 'cart.orders', event_type: 'order.created', reason: 'exhausted' }), 1);
    assert.equal(valueOf(samples, 'messaging_dead_lettered_total', { queue: 'cart.orders', event_type: 'unknown', reason: 'poison' }), 1);
    assert.equal(valueOf(samples, 'outbox_lag_seconds_count', { event_type: 'order.created' }), 2);
    // Relayed (2) and retried (1) messages carry their publication time; the test's own two do not.
    assert.equal(valueOf(samples, 'messaging_queue_wait_seconds_count', { queue: 'cart.orders', event_type: 'order.created' }), 3);
    assert.equal(valueOf(samples, 'outbox_backlog', { outbox: 'flow-test' }), 0);
  });
});
