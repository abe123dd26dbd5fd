/**
 * Trace context where the platform carries it by hand: into log lines, into outbox rows, and
 * from an outbox row to its publication. The SDK runs in this process with an in-memory
 * exporter (the instrumentations are proven in telemetry.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { trace, type Span } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import amqp, { type ChannelModel } from 'amqplib';
import { connectBroker, createDatabase, createLogger, enqueueEvent, messagingMigration, migrateToLatest, sql, startOutboxRelay, type Broker, type Database } from '@scaleshop/platform';
import { createTestDatabase, createTestVhost, testLogger, type TestDatabase, type TestVhost } from '@scaleshop/platform/testing';

const exporter = new InMemorySpanExporter();
process.env.OTEL_METRICS_EXPORTER = 'none';
process.env.OTEL_LOGS_EXPORTER = 'none';
const sdk = new NodeSDK({ spanProcessors: [new SimpleSpanProcessor(exporter)], instrumentations: [] });
sdk.start();
const tracer = trace.getTracer('test');

/** W3C Trace Context: version 00, 32 hex trace id, 16 hex parent id, flags (01 = sampled). */
const traceparentOf = (span: Span) => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;

after(() => sdk.shutdown());

describe('log lines', () => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: 'test',
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    }),
  });

  test('carry the trace and span ids of the active span', async () => {
    await tracer.startActiveSpan('handler', async (span) => {
      await new Promise((resolve) => setImmediate(resolve)); // across an await, as in a handler
      logger.child({ event_id: 'e1' }).info('inside');
      span.end();
      const line = lines.at(-1)!;
      assert.equal(line.msg, 'inside');
      assert.equal(line.trace_id, span.spanContext().traceId);
      assert.equal(line.span_id, span.spanContext().spanId);
      assert.equal(line.event_id, 'e1');
    });
  });

  test('carry nothing of the kind outside a span', () => {
    logger.info('outside');
    const line = lines.at(-1)!;
    assert.equal(line.msg, 'outside');
    assert.equal('trace_id' in line, false);
    assert.equal('span_id' in line, false);
  });
});

describe('the outbox', () => {
  let database: TestDatabase;
  let vhost: TestVhost;
  let db: Database<unknown>;
  let broker: Broker;
  let connection: ChannelModel;
  const logger = testLogger('trace-context');

  before(async () => {
    [database, vhost] = await Promise.all([createTestDatabase('trace_context'), createTestVhost('trace_context')]);
    db = createDatabase({ url: database.url, poolMax: 4, logger, applicationName: 'trace-context-test' });
    await migrateToLatest(db.db, { '0001_messaging': messagingMigration }, logger);
    broker = connectBroker({ url: vhost.url, logger, service: 'trace-context-test', retryDelaysMs: [100] });
    connection = await amqp.connect(vhost.url);
    // A relay that starts before the broker connection fails its first attempt (one span each).
    for (let i = 0; i < 200 && !broker.isConnected(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.ok(broker.isConnected());
  });
  after(async () => {
    await connection?.close();
    await broker?.close();
    await db?.close();
    await vhost?.drop();
    await database?.drop();
  });

  const headersOf = async (id: string) => (await sql<{ headers: Record<string, string> }>`select headers from outbox where id = ${id}`.execute(db.db)).rows[0]!.headers;

  test('stores the W3C trace context of the request that wrote the row', async () => {
    await tracer.startActiveSpan('POST /orders/checkout', async (span) => {
      const envelope = await db.db.transaction().execute((trx) => enqueueEvent(trx, 'order.created', { order_id: randomUUID(), user_id: randomUUID(), user_email: 'a@example.com', items: [], total_amount: '0.00' }));
      span.end();
      assert.equal((await headersOf(envelope.id)).traceparent, traceparentOf(span));
    });
  });

  test('stores no trace context for a row written outside any span', async () => {
    const envelope = await db.db.transaction().execute((trx) => enqueueEvent(trx, 'order.created', { order_id: randomUUID(), user_id: randomUUID(), user_email: 'a@example.com', items: [], total_amount: '0.00' }));
    assert.deepEqual(await headersOf(envelope.id), {});
  });

  test('is published inside the trace that wrote the row, with a span from the row\'s creation to the confirm', async () => {
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, 'ecommerce_events', 'payment.failed');
    await sql`update outbox set published_at = now()`.execute(db.db); // only the row below is pending
    const orderId = randomUUID();
    let request!: Span;
    const envelope = await tracer.startActiveSpan('POST /orders/checkout', async (span) => {
      request = span;
      const written = await db.db.transaction().execute((trx) => enqueueEvent(trx, 'payment.failed', { order_id: orderId, user_id: randomUUID(), user_email: 'a@example.com', items: [], total_amount: '1.00', reason: 'declined' }));
      span.end();
      return written;
    });
    const createdAt = (await sql<{ created_at: Date }>`select created_at from outbox where id = ${envelope.id}`.execute(db.db)).rows[0]!.created_at;
    exporter.reset();

    const delivered = new Promise<amqp.ConsumeMessage>((resolve) => void channel.consume(queue, (message) => message && resolve(message), { noAck: true }));
    const relay = startOutboxRelay({ db: db.db, databaseUrl: database.url, broker, logger, pollIntervalMs: 100, name: 'trace-context' });
    const message = await delivered;
    await relay.close();
    await channel.close();

    const outbox = exporter.getFinishedSpans().filter((span) => span.name === 'outbox payment.failed');
    assert.equal(outbox.length, 1);
    const [span] = outbox as [NonNullable<(typeof outbox)[number]>];
    assert.equal(span.spanContext().traceId, request.spanContext().traceId);
    assert.equal(span.parentSpanContext?.spanId, request.spanContext().spanId, 'a child of the request, not of the relay loop');
    assert.equal(span.attributes['order.id'], orderId);
    assert.equal(span.attributes['event.id'], envelope.id);
    assert.equal(span.attributes['event.type'], 'payment.failed');
    const startMs = span.startTime[0] * 1000 + span.startTime[1] / 1e6;
    assert.ok(Math.abs(startMs - createdAt.getTime()) < 1, `starts when the row was written (${startMs} vs ${createdAt.getTime()})`);
    assert.equal(typeof span.attributes['outbox.lag_ms'], 'number');
    // Without the amqplib instrumentation here, the message carries the stored context as it is.
    assert.equal(message.properties.headers?.traceparent, traceparentOf(request));
    assert.equal(typeof message.properties.headers?.['x-published-at'], 'number');
    // Nothing else was traced: the relay's polling is outside any trace.
    assert.deepEqual(exporter.getFinishedSpans().map((finished) => finished.name), ['outbox payment.failed']);
  });
});
