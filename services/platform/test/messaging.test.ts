import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import {
  connectBroker,
  createDatabase,
  enqueueEvent,
  eventsStatement,
  exchangeName,
  messagingMigration,
  metricsRegistry,
  migrateToLatest,
  peekDeadLetters,
  replayDeadLetters,
  sql,
  startMessaging,
  startOutboxRelay,
  type Database,
  type EventEnvelope,
  type Messaging,
  outboxEntry,
} from '@scaleshop/platform';
import { createTestDatabase, createTestVhost, cutDatabasesOff, eventually, testLogger, type TestDatabase, type TestVhost } from '@scaleshop/platform/testing';

interface TestTables {
  effects: { event_id: string; note: string };
}

const logger = testLogger('messaging');
let database: TestDatabase;
let vhost: TestVhost;
let db: Database<TestTables>;
let connection: ChannelModel;
let channel: ConfirmChannel;

const orderCreated = (orderId = randomUUID()): EventEnvelope => ({
  id: randomUUID(),
  type: 'order.created',
  occurred_at: new Date().toISOString(),
  data: { order_id: orderId, user_id: randomUUID(), user_email: 'x@example.com', items: [], total_amount: '0.00' },
});

async function publish(envelope: EventEnvelope | string, routingKey = 'order.created') {
  const body = typeof envelope === 'string' ? envelope : JSON.stringify(envelope);
  channel.publish(exchangeName, routingKey, Buffer.from(body), { persistent: true, contentType: 'application/json', messageId: typeof envelope === 'string' ? randomUUID() : envelope.id });
  await channel.waitForConfirms();
}

const config = (overrides: Partial<{ RETRY_DELAYS_MS: number[] }> = {}) => ({
  RABBITMQ_URL: vhost.url,
  CONSUMER_PREFETCH: 10,
  RETRY_DELAYS_MS: overrides.RETRY_DELAYS_MS ?? [50, 100],
  OUTBOX_POLL_INTERVAL_MS: 5_000,
  DATABASE_URL: database.url,
});

/** The message ids of every event published with `routingKey` from now on, as they arrive. */
async function receiveIds(routingKey: string): Promise<string[]> {
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, exchangeName, routingKey);
  const received: string[] = [];
  await channel.consume(queue, (message) => message && received.push(message.properties.messageId as string), { noAck: true });
  return received;
}

const effectCount = async () => Number((await sql<{ n: number }>`select count(*)::int as n from effects`.execute(db.db)).rows[0]!.n);

before(async () => {
  [database, vhost] = await Promise.all([createTestDatabase('messaging'), createTestVhost('messaging')]);
  db = createDatabase<TestTables>({ url: database.url, poolMax: 8, logger, applicationName: 'messaging-test' });
  await migrateToLatest(db.db, {
    '0001_messaging': messagingMigration,
    '0002_effects': { up: async (k) => void (await sql`create table effects (event_id uuid not null, note text not null)`.execute(k)) },
  }, logger);
  connection = await amqp.connect(vhost.url);
  channel = await connection.createConfirmChannel();
});

after(async () => {
  await connection?.close();
  await db?.close();
  await vhost?.drop();
  await database?.drop();
});

describe('consumer', () => {
  let messaging: Messaging<TestTables>;
  let failuresLeft = 0;
  /** Events whose handler throws, by id, with how many more times. */
  const failing = new Map<string, number>();
  /** Events whose handler holds its transaction open a while, so that the next deliveries pile up. */
  const slow = new Set<string>();
  /** Events whose handler takes a lock the test may be holding. */
  const contended = new Set<string>();
  const contendedLock = 4242;

  before(async () => {
    messaging = startMessaging({ service: 'test', config: config(), logger, db: db.db });
    await messaging.consume('cart.orders', {
      'order.created': async (event, trx) => {
        if (failuresLeft > 0) {
          failuresLeft--;
          throw new Error('transient failure');
        }
        const failuresOfThis = failing.get(event.id) ?? 0;
        if (failuresOfThis > 0) {
          failing.set(event.id, failuresOfThis - 1);
          throw new Error('this event fails');
        }
        if (slow.has(event.id)) await sql`select pg_sleep(0.3)`.execute(trx);
        if (contended.has(event.id)) await sql`select pg_advisory_xact_lock(${contendedLock})`.execute(trx);
        await sql`insert into effects (event_id, note) values (${event.id}, 'handled')`.execute(trx);
      },
    });
    await eventually(async () => messaging.broker.isConnected(), Boolean);
  });
  after(async () => messaging.close());

  test('applies an event once however often it is delivered', async () => {
    const before = await effectCount();
    const event = orderCreated();
    await Promise.all([publish(event), publish(event), publish(event)]);
    await eventually(effectCount, (n) => n >= before + 1);
    await sleep(300);
    assert.equal(await effectCount(), before + 1);
    const processed = await sql`select count(*)::int as n from processed_events where event_id = ${event.id}`.execute(db.db);
    assert.equal((processed.rows[0] as { n: number }).n, 1);
  });

  test('retries a failing event with backoff and then succeeds', async () => {
    const before = await effectCount();
    failuresLeft = 2;
    const started = Date.now();
    await publish(orderCreated());
    await eventually(effectCount, (n) => n === before + 1);
    assert.equal(await effectCount(), before + 1);
    assert.ok(Date.now() - started >= 150, 'two retries at 50 and 100 ms');
  });

  test('dead-letters an event that keeps failing, with the reason, and replays it', async () => {
    const before = await effectCount();
    failuresLeft = 3;
    const event = orderCreated();
    await publish(event);
    const dlq = await eventually(() => channel.checkQueue('cart.orders.dlq'), (q) => q.messageCount === 1);
    assert.equal(dlq.messageCount, 1);
    assert.equal(await effectCount(), before);
    const parked = await channel.get('cart.orders.dlq');
    assert.ok(parked);
    assert.equal(parked.properties.messageId, event.id);
    assert.equal(parked.properties.headers?.['x-last-error'], 'transient failure');
    assert.equal(parked.properties.headers?.['x-attempt'], 4);
    channel.nack(parked, false, true);

    const [letter] = await peekDeadLetters(vhost.url, 'cart.orders', 1);
    assert.equal(letter?.messageId, event.id);
    assert.equal((await channel.checkQueue('cart.orders.dlq')).messageCount, 1, 'peeking leaves it there');
    assert.equal(await replayDeadLetters(vhost.url, 'cart.orders'), 1);
    await eventually(effectCount, (n) => n === before + 1);
    assert.equal(await effectCount(), before + 1);
    assert.equal((await channel.checkQueue('cart.orders.dlq')).messageCount, 0);
  });

  test('waits out a database outage that outlasts all its retries, without dead-lettering, and applies the event once', async () => {
    const before = await effectCount();
    const deadLettered = (await channel.checkQueue('cart.orders.dlq')).messageCount;
    const event = orderCreated();
    const reopen = await cutDatabasesOff([database.url]);
    try {
      await publish(event);
      // Retries at 50 and 100 ms would be spent many times over.
      await sleep(1_000);
    } finally {
      await reopen();
    }
    await eventually(effectCount, (n) => n === before + 1);
    await sleep(300);
    assert.equal(await effectCount(), before + 1);
    assert.equal((await channel.checkQueue('cart.orders.dlq')).messageCount, deadLettered);
    const outageRetries = (await metricsRegistry.getSingleMetric('messaging_retries_total')!.get()).values.find(
      (sample) => sample.labels.queue === 'cart.orders' && sample.labels.reason === 'database_unavailable',
    );
    assert.ok((outageRetries?.value ?? 0) >= 3, `retries counted as database_unavailable: ${outageRetries?.value}`);
  });

  const effectsOf = async (ids: string[]) =>
    (await sql<{ event_id: string; n: number }>`select event_id, count(*)::int as n from effects where event_id = any(${ids}::uuid[]) group by event_id`.execute(db.db)).rows;
  /** Publishes one slow event, then `count` more while its transaction is still open. */
  const publishBehindSlowOne = async (count: number, beforePublishing: (events: EventEnvelope[]) => void = () => {}) => {
    const blocker = orderCreated();
    slow.add(blocker.id);
    await publish(blocker);
    await sleep(100);
    const events = Array.from({ length: count }, () => orderCreated());
    beforePublishing(events);
    await Promise.all(events.map((event) => publish(event)));
    return events;
  };

  test('events that arrive while a transaction runs share the next one, each applied once', async () => {
    const events = await publishBehindSlowOne(8);
    const ids = events.map((event) => event.id);
    const applied = await eventually(() => effectsOf(ids), (rows) => rows.length === ids.length);
    assert.deepEqual(applied.map((row) => row.n), ids.map(() => 1));
    // now() is the transaction's start: events committed together share it.
    const { rows } = await sql<{ transactions: number }>`
      select count(distinct processed_at)::int as transactions from processed_events where event_id = any(${ids}::uuid[])`.execute(db.db);
    assert.ok(rows[0]!.transactions < ids.length, `8 events in ${rows[0]!.transactions} transactions`);
  });

  test('an event that fails inside a shared transaction holds back none of the others and is retried alone', async () => {
    const before = await effectCount();
    // Three failures: in the shared transaction, alone right after it, and in its first retry.
    const events = await publishBehindSlowOne(6, (batch) => failing.set(batch[2]!.id, 3));
    const ids = events.map((event) => event.id);
    const applied = await eventually(() => effectsOf(ids), (rows) => rows.length === ids.length);
    assert.deepEqual(applied.map((row) => row.n), ids.map(() => 1), 'every event applied exactly once, the failing one after its retry');
    assert.equal(failing.get(ids[2]!), 0);
    assert.equal(await effectCount(), before + ids.length + 1);
    assert.equal((await channel.checkQueue('cart.orders.dlq')).messageCount, 0);
  });

  test('a shared transaction that waits on a lock gives up and its events are handled one by one, each once', async () => {
    // Another session holds the lock the events' handler needs, longer than a shared transaction may wait.
    const released = db.db.connection().execute(async (session) => {
      await sql`select pg_advisory_lock(${contendedLock})`.execute(session);
      await sleep(900);
      await sql`select pg_advisory_unlock(${contendedLock})`.execute(session);
    });
    const events = await publishBehindSlowOne(5, (batch) => batch.forEach((event) => contended.add(event.id)));
    await released;
    const ids = events.map((event) => event.id);
    const applied = await eventually(() => effectsOf(ids), (rows) => rows.length === ids.length);
    assert.deepEqual(applied.map((row) => row.n), ids.map(() => 1));
    const { rows } = await sql<{ transactions: number }>`
      select count(distinct processed_at)::int as transactions from processed_events where event_id = any(${ids}::uuid[])`.execute(db.db);
    assert.equal(rows[0]!.transactions, ids.length, 'after the shared attempt timed out, one transaction each');
    assert.equal((await channel.checkQueue('cart.orders.dlq')).messageCount, 0);
  });

  test('sends a malformed message straight to the dead-letter queue', async () => {
    const before = (await channel.checkQueue('cart.orders.dlq')).messageCount;
    await publish('{not json');
    await publish(JSON.stringify({ hello: 'world' }));
    const dlq = await eventually(() => channel.checkQueue('cart.orders.dlq'), (q) => q.messageCount === before + 2);
    assert.equal(dlq.messageCount, before + 2);
  });
});

describe('outbox relay', () => {
  test('publishes a committed event exactly once, and never an uncommitted one', async () => {
    const received = await receiveIds('inventory.reserved');
    const messaging = startMessaging({ service: 'relay-test', config: config(), logger, db: db.db });
    try {
      await eventually(async () => messaging.broker.isConnected(), Boolean);
      const data = { order_id: randomUUID(), user_id: randomUUID(), user_email: 'y@example.com', items: [], total_amount: '1.00' };
      const committed = await db.db.transaction().execute((trx) => enqueueEvent(trx, 'inventory.reserved', data));
      await db.db.transaction().execute(async (trx) => {
        await enqueueEvent(trx, 'inventory.reserved', data);
        throw new Error('rolled back');
      }).catch(() => {});
      await eventually(async () => received.length, (n) => n >= 1);
      await sleep(300);
      assert.deepEqual(received, [committed.id]);
    } finally {
      await messaging.close();
    }
  });

  test('publishes a row whose transaction commits after later rows were published', async () => {
    const received = await receiveIds('inventory.released');
    const messaging = startMessaging({ service: 'relay-test', config: config(), logger, db: db.db });
    try {
      await eventually(async () => messaging.broker.isConnected(), Boolean);
      const data = { order_id: randomUUID(), user_id: randomUUID(), user_email: 'z@example.com', items: [] };
      // The slow transaction writes its row first (earlier created_at) and commits last.
      let releaseSlow!: () => void;
      const slowMayCommit = new Promise<void>((resolve) => (releaseSlow = resolve));
      let slowId = '';
      const slow = db.db.transaction().execute(async (trx) => {
        slowId = (await enqueueEvent(trx, 'inventory.released', data)).id;
        await slowMayCommit;
      });
      await sleep(50);
      const fast = await db.db.transaction().execute((trx) => enqueueEvent(trx, 'inventory.released', data));
      await eventually(async () => received.length, (n) => n >= 1);
      assert.deepEqual(received, [fast.id]);
      releaseSlow();
      await slow;
      await eventually(async () => received.length, (n) => n >= 2);
      assert.deepEqual(received, [fast.id, slowId]);
    } finally {
      await messaging.close();
    }
  });

  test('an event a handler emits is published by its own process after the commit, once, with no relay pass, and marked published', async () => {
    const received = await receiveIds('inventory.rejected');
    // Polling every 5 s and no NOTIFY for held rows: an event seen within a second came straight from the writer.
    // Events earlier tests published also went to this queue, which nobody consumed until now.
    await channel.purgeQueue('product.orders');
    const messaging = startMessaging({ service: 'emitter', config: config(), logger, db: db.db });
    const emitted: string[] = [];
    try {
      await messaging.consume('product.orders', {
        'order.created': async (event, _trx, { emit }) => void emitted.push((await emit('inventory.rejected', { ...event.data, reason: 'test' })).id),
        'payment.failed': async () => {},
      });
      const event = orderCreated();
      await Promise.all([publish(event, 'order.created'), publish(event, 'order.created')]);
      await eventually(async () => received.length, (n) => n >= 1, 1_000);
      await sleep(300);
      assert.deepEqual(received, emitted);
      assert.equal(emitted.length, 1, 'the redelivered copy emits nothing');
      const row = await eventually(
        async () => (await sql<{ published: boolean; claimed: boolean }>`select published_at is not null as published, claimed_until is not null as claimed from outbox where id = ${emitted[0]}`.execute(db.db)).rows[0],
        (r) => r?.published === true,
      );
      assert.deepEqual(row, { published: true, claimed: false });
    } finally {
      await messaging.close();
    }
  });

  test("an event leased to its writer that never publishes it (a crash after the commit) is published by a relay once the writer's lease runs out", async () => {
    const received = await receiveIds('payment.failed');
    const broker = connectBroker({ url: vhost.url, logger, service: 'held', retryDelaysMs: [] });
    const relay = startOutboxRelay({ db: db.db, databaseUrl: database.url, broker, logger, pollIntervalMs: 100 });
    try {
      await eventually(async () => broker.isConnected(), Boolean);
      // Written as publishAfterCommit writes it, by a writer that then dies before publishing.
      const entry = outboxEntry('payment.failed', { order_id: randomUUID(), user_id: randomUUID(), user_email: 'h@example.com', items: [], total_amount: '1.00', reason: 'declined' }, { writerLeaseMs: 1_500 });
      const written = Date.now();
      await db.db.transaction().execute((trx) => eventsStatement([entry]).execute(trx));
      await sleep(700);
      assert.deepEqual(received, [], "not taken by a relay while the writer's lease lasts");
      await eventually(async () => received.length, (n) => n >= 1);
      assert.deepEqual(received, [entry.envelope.id]);
      assert.ok(Date.now() - written >= 1_500);
    } finally {
      await relay.close();
      await broker.close();
    }
  });

  test('an event its writer cannot publish (broker down) is handed back to the relays at once', async () => {
    const unreachable = startMessaging({ service: 'down-writer', config: { ...config(), RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:1/' }, logger, db: db.db });
    const entry = await unreachable.relay.publishAfterCommit(async (lease) => {
      const leased = lease('payment.processed', { order_id: randomUUID(), user_id: randomUUID(), user_email: 'd@example.com', items: [], total_amount: '1.00', payment_id: randomUUID() });
      await db.db.transaction().execute((trx) => eventsStatement([leased]).execute(trx));
      return leased;
    });
    const row = await eventually(
      async () => (await sql<{ claimed: boolean; published: boolean }>`select claimed_until is not null as claimed, published_at is not null as published from outbox where id = ${entry.envelope.id}`.execute(db.db)).rows[0],
      (r) => r?.claimed === false,
    );
    assert.deepEqual(row, { claimed: false, published: false });
    await unreachable.close();

    const received = await receiveIds('payment.processed');
    const messaging = startMessaging({ service: 'back-up', config: config(), logger, db: db.db });
    try {
      await eventually(async () => received.includes(entry.envelope.id), Boolean);
      assert.deepEqual(received.filter((id) => id === entry.envelope.id), [entry.envelope.id]);
    } finally {
      await messaging.close();
    }
  });

  test('keeps events while the broker is unreachable and shares the work between replicas without loss', async () => {
    const unreachable = startMessaging({ service: 'down', config: { ...config(), RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:1/' }, logger, db: db.db });
    const ids: string[] = [];
    const data = { order_id: randomUUID(), user_id: randomUUID(), user_email: 'w@example.com', kind: 'confirmation' as const, recipient: 'w@example.com', subject: 's', message_id: 'm' };
    for (let i = 0; i < 40; i++) ids.push((await db.db.transaction().execute((trx) => enqueueEvent(trx, 'email.sent', data))).id);
    await sleep(300);
    const pending = await sql<{ n: number }>`select count(*)::int as n from outbox where published_at is null and id = any(${ids}::uuid[])`.execute(db.db);
    assert.equal(pending.rows[0]!.n, 40);
    await unreachable.close();

    const received = await receiveIds('email.sent');
    const replicas = [1, 2, 3].map((n) => startMessaging({ service: `replica-${n}`, config: config(), logger, db: db.db }));
    try {
      await eventually(async () => received.length, (n) => n >= 40);
      await sleep(300);
      assert.equal(received.length, 40, 'each event published once');
      assert.deepEqual([...new Set(received)].sort(), [...ids].sort());
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  });
});

describe('consumer concurrency', () => {
  test('a replica works on CONSUMER_CONCURRENCY messages at once, however many it holds, and handles them all', async () => {
    const messaging = startMessaging({ service: 'concurrency', config: { ...config(), CONSUMER_PREFETCH: 10, CONSUMER_CONCURRENCY: 2 }, logger, db: db.db });
    let working = 0;
    let mostAtOnce = 0;
    const handled: string[] = [];
    try {
      await messaging.consume(
        'payment.inventory',
        { 'inventory.reserved': async (event) => void handled.push(event.id) },
        {
          prepare: async () => {
            working++;
            mostAtOnce = Math.max(mostAtOnce, working);
            await sleep(100);
            working--;
          },
        },
      );
      await eventually(async () => messaging.broker.isConnected(), Boolean);
      const events = Array.from({ length: 8 }, () => ({ ...orderCreated(), type: 'inventory.reserved' }));
      await Promise.all(events.map((event) => publish(event, 'inventory.reserved')));
      // Earlier tests in this virtual host may have left events on the queue: only ours are counted.
      const ours = new Set(events.map((event) => event.id));
      const handledOfOurs = () => handled.filter((id) => ours.has(id));
      await eventually(async () => handledOfOurs().length, (n) => n >= events.length, 10_000);
      assert.deepEqual(handledOfOurs().sort(), [...ours].sort());
      assert.equal(mostAtOnce, 2);
    } finally {
      await messaging.close();
    }
  });
});
