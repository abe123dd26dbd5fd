import { context, ROOT_CONTEXT, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { sql, type Kysely } from 'kysely';
import type { Logger } from '../logger.ts';
import { listenForNotifications } from '../database/index.ts';
import { countOutboxFailure, observeOutboxLag, registerOutbox, type OutboxBacklog } from '../metrics.ts';
import { contextFromHeaders, eventAttributes, tracer, withPublishAttributes } from '../telemetry/spans.ts';
import type { Broker, OutgoingMessage } from './broker.ts';
import type { EventData, EventEnvelope, EventType } from './contracts.ts';
import { messageHeaders } from './headers.ts';
import { outboxChannel, outboxEntry, type OutboxEntry } from './outbox-writing.ts';

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
  /** How long a relay's lease on the rows it took lasts; past it another relay may publish them. */
  leaseMs?: number;
  /** Labels this outbox's backlog in /metrics (the service's name). */
  name?: string;
  /** How long a writer's lease on the rows it publishes itself lasts (`publishAfterCommit`); past it a relay takes them. */
  writerLeaseMs?: number;
}

/** An outbox entry leased to its writer, to be written in the writer's transaction. */
export type LeaseEvent = <T extends EventType>(type: T, data: EventData[T]) => OutboxEntry<T>;

export interface OutboxRelay {
  /** Publishes everything pending now; resolves when nothing is left or the broker fails. */
  drain(): Promise<number>;
  /**
   * Runs `work`, which writes the entries it makes with `lease` into the outbox and commits.
   * Once it has resolved, they are published at once, with no notification and no relay pass;
   * if that fails, their lease is given up, so a relay publishes them. If `work` throws,
   * nothing is published. One call does both halves, so a writer cannot forget the second.
   */
  publishAfterCommit<R>(work: (lease: LeaseEvent) => Promise<R>): Promise<R>;
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
 * Confirmed ids waiting to be marked published: one statement for all rows confirmed within
 * markDelayMs. A row whose mark is lost stays leased and is published again once the lease
 * runs out; consumers absorb that.
 */
function publishedMarks(db: Kysely<any>, logger: Logger) { // eslint-disable-line @typescript-eslint/no-explicit-any -- any service database with the messaging tables
  let toMark: string[] = [];
  let markTimer: NodeJS.Timeout | undefined;
  let marking: Promise<void> = Promise.resolve();
  const flush = () => {
    clearTimeout(markTimer);
    markTimer = undefined;
    const ids = toMark;
    toMark = [];
    if (ids.length === 0) return marking;
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
  return {
    add(ids: readonly string[]) {
      toMark.push(...ids);
      markTimer ??= setTimeout(flush, markDelayMs);
    },
    flush,
  };
}

/**
 * A row as the message the broker gets. A row written inside a trace is published inside it:
 * a span from the row's creation to the broker's confirm makes the wait between commit and
 * publication visible, and the publish span of the amqplib instrumentation becomes its child,
 * not a child of the relay's polling loop.
 */
function outgoingMessage(row: PendingRow, publishedAt: number): { message: OutgoingMessage; span: Span | undefined } {
  const parent = contextFromHeaders(row.headers);
  let span: Span | undefined;
  let publishContext;
  if (parent !== ROOT_CONTEXT) {
    const attributes = eventAttributes(row.envelope);
    span = tracer.startSpan(`outbox ${row.type}`, { startTime: row.created_at, attributes }, parent);
    span.addEvent('handed to the broker', publishedAt);
    publishContext = withPublishAttributes(trace.setSpan(parent, span), attributes);
  }
  const message: OutgoingMessage = {
    routingKey: row.type,
    content: Buffer.from(JSON.stringify(row.envelope)),
    options: {
      messageId: row.id,
      type: row.type,
      contentType: 'application/json',
      persistent: true,
      timestamp: Math.floor(Date.parse(row.envelope.occurred_at) / 1000),
      headers: { ...row.headers, [messageHeaders.publishedAt]: publishedAt },
    },
    ...(publishContext ? { context: publishContext } : {}),
  };
  return { message, span };
}

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
  const writerLeaseMs = options.writerLeaseMs ?? 5_000;
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

  const marks = publishedMarks(db, logger);

  /** Hands rows to the broker and waits for the confirms; on failure gives the rows back at once instead of when the lease runs out. */
  const publishRows = async (rows: readonly PendingRow[]): Promise<void> => {
    const ids = rows.map((row) => row.id);
    const publishedAt = Date.now();
    const outgoing = rows.map((row) => outgoingMessage(row, publishedAt));
    const spans = outgoing.map(({ span }) => span);
    const messages = outgoing.map(({ message }) => message);
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
    marks.add(ids);
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
    await marks.flush();
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
    async publishAfterCommit(work) {
      const leased: OutboxEntry[] = [];
      const result = await work((type, data) => {
        const entry = outboxEntry(type, data, { writerLeaseMs });
        leased.push(entry);
        return entry;
      });
      if (leased.length > 0) publishCommitted(leased);
      return result;
    },
    async close() {
      await Promise.allSettled([...direct]);
      stopped = true;
      unregisterBacklog();
      endPause?.();
      clearInterval(poller);
      clearInterval(pruner);
      await running;
      await marks.flush();
      await notifications.close();
    },
  };
}
