import { randomUUID } from 'node:crypto';
import { context, ROOT_CONTEXT, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { sql, type Kysely, type Migration, type RawBuilder } from 'kysely';
import type { Logger } from '../logger.ts';
import { listenForNotifications } from '../database.ts';
import { countOutboxFailure, observeOutboxLag, registerOutbox, type OutboxBacklog } from '../metrics.ts';
import { contextFromHeaders, currentTraceHeaders, eventAttributes, tracer, withPublishAttributes } from '../telemetry/spans.ts';
import type { Broker, OutgoingMessage } from './broker.ts';
import type { EventData, EventEnvelope, EventType } from './contracts.ts';

/**
 * The transactional outbox: an event is written in the same transaction as the state change
 * that caused it, and a relay publishes it afterwards. Either both happen or neither does.
 * Each service lists this migration among its own, after those its database already ran.
 */
export const messagingMigration: Migration = {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('outbox')
        .addColumn('id', 'uuid', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('envelope', 'jsonb', (c) => c.notNull())
        .addColumn('headers', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
        .addColumn('published_at', 'timestamptz')
        .addColumn('claimed_until', 'timestamptz')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .execute();
      await sql`create index outbox_unpublished on outbox (created_at) where published_at is null`.execute(db);
      await db.schema
        .createTable('processed_events')
        .addColumn('consumer', 'text', (c) => c.notNull())
        .addColumn('event_id', 'uuid', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('processed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('processed_events_pkey', ['consumer', 'event_id'])
        .execute();
    },
};

export interface MessagingTables {
  outbox: {
    id: string;
    type: string;
    envelope: unknown;
    headers: unknown;
    created_at: Date;
    published_at: Date | null;
    claimed_until: Date | null;
    attempts: number;
    last_error: string | null;
  };
  processed_events: {
    consumer: string;
    event_id: string;
    event_type: string;
    processed_at: Date;
  };
}

const outboxChannel = 'outbox';

/** When the relay handed a message to the broker (ms since the epoch): consumers measure the queue wait from it. */
export const publishedAtHeader = 'x-published-at';

/** An event ready to be written to the outbox (`insertEvents`, `eventsStatement`). */
export interface OutboxEntry<T extends EventType = EventType> {
  envelope: EventEnvelope<EventData[T]>;
  /** The trace context stored with the row. */
  headers: Record<string, string>;
  /**
   * How long the row is leased to its writer, which publishes it right after its commit; null
   * when the relays publish it.
   */
  heldForMs: number | null;
}

/**
 * An event as an outbox row. The trace context of the request or message being handled (W3C
 * traceparent, tracestate) is stored with the row, so that its publication continues that trace.
 *
 * `heldForMs` writes the row already leased, for a writer that publishes it itself right after
 * its commit (`OutboxRelay.publishCommitted`): no relay takes it meanwhile, so it is not
 * published twice, and if the writer dies first, the lease runs out and a relay publishes it.
 *
 * A service writing its state change and its event in one statement puts `insertEvents` in a
 * CTE and selects `wakeUpRelaysFrom` that CTE; everyone else runs `eventsStatement`.
 */
export function outboxEntry<T extends EventType>(type: T, data: EventData[T], options: { headers?: Record<string, string>; heldForMs?: number } = {}): OutboxEntry<T> {
  const envelope: EventEnvelope<EventData[T]> = { id: randomUUID(), type, occurred_at: new Date().toISOString(), data };
  return { envelope, headers: { ...currentTraceHeaders(), ...options.headers }, heldForMs: options.heldForMs ?? null };
}

/**
 * Inserts the entries, whatever their number (one statement text, so one prepared statement),
 * returning each row's lease; it can be a CTE of a larger statement.
 */
export function insertEvents(entries: readonly OutboxEntry[]): RawBuilder<{ claimed_until: Date | null }> {
  return sql`
    insert into outbox (id, type, envelope, headers, claimed_until)
    select id, type, envelope, headers, clock_timestamp() + make_interval(secs => held_for_s)
    from unnest(${entries.map((e) => e.envelope.id)}::uuid[], ${entries.map((e) => e.envelope.type)}::text[],
                ${entries.map((e) => JSON.stringify(e.envelope))}::jsonb[], ${entries.map((e) => JSON.stringify(e.headers))}::jsonb[],
                ${entries.map((e) => (e.heldForMs === null ? null : e.heldForMs / 1000))}::float8[]) as entry(id, type, envelope, headers, held_for_s)
    returning claimed_until`;
}

/**
 * Wakes the relays if the CTE `inserted` (an `insertEvents`) wrote a row they are to publish,
 * one not held by its writer. NOTIFY inside a transaction is delivered at commit, so a relay
 * wakes exactly when the row becomes visible.
 */
export function wakeUpRelaysFrom(inserted: string): RawBuilder<unknown> {
  return sql`(select pg_notify(${sql.lit(outboxChannel)}, '') from ${sql.table(inserted)} where claimed_until is null limit 1)`;
}

/** Writes the entries in the caller's transaction in one statement, waking the relays at commit for the rows they are to publish. */
export function eventsStatement(entries: readonly OutboxEntry[]): RawBuilder<unknown> {
  return sql`with recorded as (${insertEvents(entries)}) select ${wakeUpRelaysFrom('recorded')}`;
}

/** Records an event in the caller's transaction, for the relay to publish after the commit. */
export async function enqueueEvent<T extends EventType>(
  trx: Kysely<any>, // eslint-disable-line @typescript-eslint/no-explicit-any -- any service database with the messaging tables
  type: T,
  data: EventData[T],
  headers: Record<string, string> = {},
): Promise<EventEnvelope<EventData[T]>> {
  const entry = outboxEntry(type, data, { headers });
  await eventsStatement([entry]).execute(trx);
  return entry.envelope;
}

export interface OutboxRelayOptions {
  db: Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- any service database with the messaging tables
  databaseUrl: string;
  broker: Broker;
  logger: Logger;
  batchSize?: number;
  /** Fallback when a notification is missed; NOTIFY is the prompt path. */
  pollIntervalMs?: number;
  /** Published rows are kept this long for inspection, then deleted. */
  retentionMs?: number;
  /** How long a relay may hold claimed rows before another may publish them. */
  leaseMs?: number;
  /** Labels this outbox's backlog in /metrics (the service's name). */
  name?: string;
  /** How long a writer holds the rows it publishes itself (`heldEntry`); past that a relay takes them. */
  writerHoldMs?: number;
}

export interface OutboxRelay {
  /** Publishes everything pending now; resolves when nothing is left or the broker fails. */
  drain(): Promise<number>;
  /** An entry held for this process to publish with `publishCommitted` once its transaction has committed. */
  heldEntry<T extends EventType>(type: T, data: EventData[T]): OutboxEntry<T>;
  /**
   * Publishes held entries whose transaction has committed, without waiting for a relay pass:
   * no notification, no claim. On failure their lease is given up, so the relay publishes them.
   */
  publishCommitted(entries: readonly OutboxEntry[]): void;
  close(): Promise<void>;
}

interface PendingRow {
  id: string;
  type: string;
  envelope: EventEnvelope;
  headers: Record<string, string>;
  created_at: Date;
}

/** Rows confirmed within this window are marked published by one statement. */
const markDelayMs = 20;

/**
 * Publishes outbox rows with publisher confirms and marks them sent only after the confirm.
 * A relay first leases a batch (FOR UPDATE SKIP LOCKED inside one statement), so replicas
 * share the work without publishing a row twice at once and no transaction stays open while
 * the broker confirms. Every unpublished row is looked at on every pass — there is no
 * high-water mark, so a transaction that commits late is never skipped. A relay that dies
 * holding a lease leaves its rows to be leased again once it expires; they are then
 * published a second time, which idempotent consumers absorb.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, broker, logger } = options;
  const batchSize = options.batchSize ?? 100;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const retentionMs = options.retentionMs ?? 60 * 60 * 1_000;
  const leaseMs = options.leaseMs ?? 30_000;
  const writerHoldMs = options.writerHoldMs ?? 5_000;
  let stopped = false;
  let running: Promise<void> | undefined;
  let wakeAgain = false;
  let failures = 0;
  let endPause: (() => void) | undefined;
  /** A back-off that a reconnection or close cuts short. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        endPause = undefined;
        resolve();
      }
      endPause = done;
    });

  /** Confirmed ids waiting to be marked published: one statement for all rows confirmed within markDelayMs. */
  let toMark: string[] = [];
  let markTimer: NodeJS.Timeout | undefined;
  let marking: Promise<void> = Promise.resolve();
  const flushMarks = () => {
    clearTimeout(markTimer);
    markTimer = undefined;
    const ids = toMark;
    toMark = [];
    if (ids.length === 0) return marking;
    // A row whose mark is lost stays leased and is published again once the lease runs out; consumers absorb that.
    marking = marking.then(() =>
      sql`update outbox set published_at = now(), claimed_until = null, attempts = attempts + 1 where id = any(${ids}::uuid[])`
        .execute(db)
        .then(
          () => {},
          (error: Error) => logger.warn({ err: error, rows: ids.length }, 'could not mark published outbox rows; they will be published again'),
        ),
    );
    return marking;
  };
  const markPublished = (ids: readonly string[]) => {
    toMark.push(...ids);
    markTimer ??= setTimeout(flushMarks, markDelayMs);
  };

  /** Hands rows to the broker and waits for the confirms; on failure gives the rows back at once instead of when the lease runs out. */
  const publishRows = async (rows: readonly PendingRow[]): Promise<void> => {
    const ids = rows.map((row) => row.id);
    const publishedAt = Date.now();
    // A row written inside a trace is published inside it: a span from the row's creation to the
    // broker's confirm makes the wait between commit and publication visible, and the publish
    // span of the amqplib instrumentation becomes its child, not a child of this polling loop.
    const spans: Array<Span | undefined> = [];
    const messages: OutgoingMessage[] = rows.map((row) => {
      const parent = contextFromHeaders(row.headers);
      let publishContext;
      if (parent !== ROOT_CONTEXT) {
        const attributes = eventAttributes(row.envelope);
        const span = tracer.startSpan(`outbox ${row.type}`, { startTime: row.created_at, attributes }, parent);
        span.addEvent('handed to the broker', publishedAt);
        spans.push(span);
        publishContext = withPublishAttributes(trace.setSpan(parent, span), attributes);
      } else {
        spans.push(undefined);
      }
      return {
        routingKey: row.type,
        content: Buffer.from(JSON.stringify(row.envelope)),
        options: {
          messageId: row.id,
          type: row.type,
          contentType: 'application/json',
          persistent: true,
          timestamp: Math.floor(Date.parse(row.envelope.occurred_at) / 1000),
          headers: { ...row.headers, [publishedAtHeader]: publishedAt },
        },
        ...(publishContext ? { context: publishContext } : {}),
      };
    });
    try {
      await broker.publishConfirmed(messages);
    } catch (error) {
      countOutboxFailure();
      for (const span of spans) {
        span?.recordException(error as Error);
        span?.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        span?.end();
      }
      await sql`update outbox set claimed_until = null, attempts = attempts + 1, last_error = ${(error as Error).message} where id = any(${ids}::uuid[])`
        .execute(db)
        .catch(() => {});
      throw error;
    }
    const confirmedAt = Date.now();
    rows.forEach((row, index) => {
      const lagMs = Math.max(0, confirmedAt - row.created_at.getTime());
      observeOutboxLag(row.type, lagMs / 1000);
      spans[index]?.setAttribute('outbox.lag_ms', lagMs);
      spans[index]?.end(confirmedAt);
    });
    markPublished(ids);
  };

  const publishBatch = async (): Promise<number> => {
    const { rows } = await sql<PendingRow>`
      update outbox set claimed_until = clock_timestamp() + make_interval(secs => ${leaseMs / 1000})
      where id in (
        select id from outbox
        where published_at is null and (claimed_until is null or claimed_until < clock_timestamp())
        order by created_at, id
        limit ${batchSize}
        for update skip locked)
      returning id, type, envelope, headers, created_at`.execute(db);
    if (rows.length === 0) return 0;
    rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime());
    await publishRows(rows);
    return rows.length;
  };

  const direct = new Set<Promise<void>>();
  const publishCommitted = (entries: readonly OutboxEntry[]) => {
    if (entries.length === 0) return;
    const rows = entries.map((entry): PendingRow => ({
      id: entry.envelope.id,
      type: entry.envelope.type,
      envelope: entry.envelope,
      headers: entry.headers,
      created_at: new Date(entry.envelope.occurred_at),
    }));
    // The caller has answered or acked already; a failure is the relay's to retry, as for any row.
    const work: Promise<void> = context
      .with(ROOT_CONTEXT, () => publishRows(rows))
      .catch(() => wake())
      .finally(() => direct.delete(work));
    direct.add(work);
  };

  const drain = async (): Promise<number> => {
    let total = 0;
    while (!stopped) {
      const published = await publishBatch();
      total += published;
      if (published < batchSize) break;
    }
    await flushMarks();
    return total;
  };

  const loop = async () => {
    do {
      wakeAgain = false;
      try {
        await drain();
        failures = 0;
      } catch (error) {
        failures++;
        if (failures === 1 || failures % 30 === 0) logger.warn({ err: error, failures }, 'outbox relay cannot publish; will retry');
        await pause(Math.min(5_000, 200 * 2 ** Math.min(failures, 5)));
        wakeAgain = true;
      }
    } while (wakeAgain && !stopped);
  };

  const wake = () => {
    if (stopped) return;
    if (running) {
      wakeAgain = true;
      return;
    }
    // Never inside whatever span woke us: each row is published in the trace it was written in.
    running = context.with(ROOT_CONTEXT, loop).finally(() => {
      running = undefined;
    });
  };

  const notifications = listenForNotifications({ url: options.databaseUrl, channel: outboxChannel, logger, onNotification: wake, onReconnect: wake });
  // What piled up during a broker outage goes out as soon as the broker is back, not after the back-off.
  broker.onConnected(() => {
    failures = 0;
    endPause?.();
    wake();
  });
  const poller = setInterval(wake, pollIntervalMs);
  const pruner = setInterval(() => {
    sql`delete from outbox where published_at < now() - make_interval(secs => ${retentionMs / 1000})`.execute(db).catch(() => {});
  }, 60_000);
  pruner.unref();
  const unregisterBacklog = registerOutbox(options.name ?? 'outbox', async () => {
    const { rows } = await sql<OutboxBacklog>`
      select count(*)::int as "unpublished",
             coalesce(extract(epoch from clock_timestamp() - min(created_at)), 0)::float8 as "oldestAgeSeconds"
      from outbox where published_at is null`.execute(db);
    return rows[0]!;
  });
  wake();

  return {
    drain,
    heldEntry: (type, data) => outboxEntry(type, data, { heldForMs: writerHoldMs }),
    publishCommitted,
    async close() {
      await Promise.allSettled([...direct]);
      stopped = true;
      unregisterBacklog();
      endPause?.();
      clearInterval(poller);
      clearInterval(pruner);
      await running;
      await flushMarks();
      await notifications.close();
    },
  };
}
