import { context, ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import pLimit from 'p-limit';
import type { Logger } from '../logger.ts';
import { countDeadLettered, countRetried, observeConsumed, observeQueueWait, type ConsumerOutcome } from '../metrics.ts';
import { contextFromHeaders, eventAttributes, tracer } from '../telemetry/spans.ts';
import { channelAcks, type ChannelAcks } from './acks.ts';
import type { Broker, ChannelWorker } from './broker.ts';
import { deadLetterQueueName, retryQueueName, type EventData, type EventEnvelope, type EventsOf, type EventType, type QueueName } from './contracts.ts';
import { isDatabaseUnavailable, thenCommit } from '../database/index.ts';
import { isUuid } from '../identity.ts';
import { messageHeaders } from './headers.ts';
import { eventsStatement, outboxEntry, type OutboxEntry } from './outbox-writing.ts';
import type { LeaseEvent, OutboxRelay } from './outbox-relay.ts';

export interface HandlerContext {
  logger: Logger;
  attempt: number;
  /** What `prepare` returned for this event, if the consumer has one. */
  prepared: unknown;
  /** Writes an outgoing event in the handler's transaction; it is published once that commits. */
  emit<T extends EventType>(type: T, data: EventData[T]): Promise<EventEnvelope<EventData[T]>>;
}

export type EventHandler<DB, T extends keyof EventData> = (event: EventEnvelope<EventData[T]>, trx: Transaction<DB>, context: HandlerContext) => Promise<void>;

export type HandlerMap<DB, Q extends QueueName> = { [T in EventsOf<Q>]: EventHandler<DB, T> };

export interface ConsumerOptions<DB, Q extends QueueName> {
  queue: Q;
  db: Kysely<DB>;
  broker: Broker;
  logger: Logger;
  handlers: HandlerMap<DB, Q>;
  /** Messages this replica holds at once: the most that wait in `prepare` or go into one transaction. */
  prefetch?: number;
  /**
   * Messages this replica works on at once (in `prepare` or its transaction); those held beyond
   * it wait for a turn. Default: as many as it holds.
   */
  concurrency?: number;
  retryDelaysMs: readonly number[];
  /**
   * Work done before the transaction opens, e.g. a slow call to an outside provider, so that
   * no database connection is held while waiting. Skipped for events already processed.
   */
  prepare?: (event: EventEnvelope, logger: Logger) => Promise<unknown>;
  /** Runs once the event's transaction has committed or failed, e.g. to release what `prepare` held. */
  settled?: (event: EventEnvelope) => void;
  /**
   * The service's relay: events a handler emits are then published right after the commit,
   * by this process. Without it they wait for a relay pass, woken at commit.
   */
  outbox?: Pick<OutboxRelay, 'publishAfterCommit'>;
}

/**
 * How long a transaction of several messages waits for a row lock before it gives up and its
 * messages are handled one by one: two replicas' batches can lock the same rows in opposite
 * orders, and Postgres would only find that deadlock after deadlock_timeout (1 s).
 */
const batchLockTimeout = '100ms';


class PoisonMessageError extends Error {}

/** A parsed message on its way through this consumer. */
interface Delivery {
  acks: ChannelAcks;
  message: ConsumeMessage;
  event: EventEnvelope;
  attempt: number;
  started: number;
  /** The amqplib instrumentation's consumer span, which continues the publisher's trace. */
  span: Span | undefined;
  /** The context the delivery arrived in: its handler, logs and emitted events run in it. */
  context: Context;
  logger: Logger;
  prepared: unknown;
  /** Whether `prepare` ran, so that `settled` must release what it held. */
  prepareRan: boolean;
  /** Resolves once the message is acked or parked. */
  finished: () => void;
}

/**
 * Consumes one queue with manual acks. Each message's effects and its event id are committed
 * in one transaction, and the ack is sent only after that commit: a redelivery of an event
 * already processed finds its id and changes nothing, and a crash before the commit leaves
 * the message unacked for redelivery. A failure is retried through delay queues; after the
 * last delay the message is moved to the dead-letter queue, where `npm run dlq` shows and
 * replays it.
 *
 * Messages that arrive while a transaction is running share the next one (as group commit
 * does): its BEGIN, claim, outbox write and COMMIT are paid once for all of them, so the cost
 * of a message falls as the load rises, and at low load a message still goes alone and at
 * once. The handlers of a batch run one after another, exactly as they would in separate
 * transactions. When a batch fails, its messages are handled again one by one, so that only
 * the failing one is retried and the others are not held back.
 */
export function createConsumer<DB, Q extends QueueName>(options: ConsumerOptions<DB, Q>): ChannelWorker {
  const { queue, db, broker, logger, handlers, retryDelaysMs } = options;
  const prefetch = options.prefetch ?? 10;
  const concurrency = Math.min(options.concurrency ?? prefetch, prefetch);
  const turns = pLimit(concurrency);
  let channel: ChannelAcks | undefined;
  let consumerTag: string | undefined;
  /** The channel whose consume-ok came; cleared when that channel closes or the broker cancels the subscription. */
  let attachedOn: ConfirmChannel | undefined;
  let stopping = false;
  const inFlight = new Set<Promise<void>>();

  const parse = (message: ConsumeMessage): EventEnvelope => {
    let envelope: unknown;
    try {
      envelope = JSON.parse(message.content.toString('utf8'));
    } catch {
      throw new PoisonMessageError('body is not JSON');
    }
    const candidate = envelope as Partial<EventEnvelope>;
    if (typeof candidate !== 'object' || candidate === null || typeof candidate.id !== 'string' || typeof candidate.type !== 'string' || typeof candidate.data !== 'object' || candidate.data === null) {
      throw new PoisonMessageError('not an event envelope {id, type, occurred_at, data}');
    }
    if (!isUuid(candidate.id)) throw new PoisonMessageError(`event id "${candidate.id.slice(0, 60)}" is not a UUID`);
    if (!(candidate.type in handlers)) throw new PoisonMessageError(`no handler for event type "${candidate.type}"`);
    return candidate as EventEnvelope;
  };

  /**
   * "Processed already?" for the consumers with a slow `prepare`, asked for every delivery that
   * arrives in the same turn of the event loop with one query.
   */
  let lookups: Array<{ id: string; answer: (processed: boolean) => void; reject: (error: Error) => void }> = [];
  const processedBefore = (eventId: string) =>
    new Promise<boolean>((answer, reject) => {
      if (lookups.length === 0) setImmediate(lookUp);
      lookups.push({ id: eventId.toLowerCase(), answer, reject });
    });
  const lookUp = () => {
    const asked = lookups;
    lookups = [];
    sql<{ event_id: string }>`select event_id from processed_events where consumer = ${queue} and event_id = any(${asked.map((a) => a.id)}::uuid[])`
      .execute(db)
      .then(({ rows }) => {
        const processed = new Set(rows.map((row) => row.event_id));
        for (const { id, answer } of asked) answer(processed.has(id));
      })
      .catch((error: Error) => {
        for (const { reject } of asked) reject(error);
      });
  };

  /**
   * The wait in RabbitMQ, from publication to this delivery, as a metric and as a span beside
   * the consumer's (both children of the publish span), so that a trace shows the queue time.
   */
  const recordQueueWait = (message: ConsumeMessage, span: Span | undefined, deliveredAt: number) => {
    const publishedAt = Number(message.properties.headers?.[messageHeaders.publishedAt]);
    if (!Number.isFinite(publishedAt) || publishedAt <= 0) return;
    const waitMs = Math.max(0, deliveredAt - publishedAt);
    observeQueueWait(queue, String(message.properties.type ?? 'unknown'), waitMs / 1000);
    if (span === undefined) return;
    span.setAttribute('messaging.queue_wait_ms', waitMs);
    const parent = contextFromHeaders(message.properties.headers);
    tracer
      .startSpan(`${queue} wait`, { startTime: publishedAt, attributes: { 'messaging.system': 'rabbitmq', 'messaging.destination.subscription.name': queue, 'messaging.queue_wait_ms': waitMs } }, parent)
      .end(deliveredAt);
  };

  const receive = async (acks: ChannelAcks, message: ConsumeMessage) => {
    const started = performance.now();
    const span = trace.getActiveSpan();
    recordQueueWait(message, span, Date.now());
    const attempt = Number(message.properties.headers?.[messageHeaders.attempt] ?? 1);
    let event: EventEnvelope;
    try {
      event = parse(message);
    } catch (error) {
      markFailed(span, error as Error);
      settle(span, String(message.properties.type ?? 'unknown'), await fail(acks, message, undefined, attempt, error as Error), started);
      return;
    }
    span?.setAttributes({ ...eventAttributes(event), 'messaging.destination.subscription.name': queue, 'messaging.delivery_attempt': attempt });
    const finished = Promise.withResolvers<void>();
    const delivery: Delivery = {
      acks,
      message,
      event,
      attempt,
      started,
      span,
      context: context.active(),
      logger: logger.child({ event_id: event.id, event_type: event.type, queue, attempt }),
      prepared: undefined,
      prepareRan: false,
      finished: finished.resolve,
    };
    if (options.prepare) {
      try {
        // Only worth a round trip when it can spare slow work; the claim in the transaction is the real guard.
        if (await processedBefore(event.id)) return complete(delivery, false, 1);
        delivery.prepareRan = true;
        delivery.prepared = await options.prepare(event, delivery.logger);
      } catch (error) {
        return failDelivery(delivery, error as Error);
      }
    }
    enqueue(delivery);
    await finished.promise;
  };

  /** Deliveries ready for their transaction, and whether one is running. */
  const ready: Delivery[] = [];
  let committing = false;
  const enqueue = (delivery: Delivery) => {
    ready.push(delivery);
    // Starting on the next turn lets the deliveries of one socket read share the transaction.
    if (!committing && ready.length === 1) setImmediate(commitNext);
  };
  const commitNext = () => {
    if (committing || ready.length === 0) return;
    committing = true;
    const batch = ready.splice(0, prefetch);
    void commitBatch(batch).finally(() => {
      committing = false;
      commitNext();
    });
  };

  // Without a relay (tests of a handler alone) the events wait in the outbox for one.
  const publishAfterCommit: OutboxRelay['publishAfterCommit'] = options.outbox?.publishAfterCommit ?? ((work) => work((type, data) => outboxEntry(type, data)));

  const commitBatch = async (batch: Delivery[]): Promise<void> => {
    let handled: Set<Delivery>;
    try {
      // Statements shared by several messages belong to no message's trace.
      handled = await context.with(batch.length === 1 ? batch[0]!.context : ROOT_CONTEXT, () =>
        publishAfterCommit((lease) => db.transaction().execute((trx) => handleInTransaction(trx, batch, lease))),
      );
    } catch (error) {
      if (batch.length === 1) return failDelivery(batch[0]!, error as Error);
      logger.info({ queue, messages: batch.length, err: error }, 'a transaction of several messages failed; handling them one by one');
      for (const delivery of batch) await commitBatch([delivery]);
      return;
    }
    for (const delivery of batch) complete(delivery, handled.has(delivery), batch.length);
  };

  const handleInTransaction = async (trx: Transaction<DB>, batch: readonly Delivery[], lease: LeaseEvent): Promise<Set<Delivery>> => {
    const emitted: OutboxEntry[] = [];
    // The claims and the effects commit together; a concurrent duplicate waits on its row and then finds it.
    const ids = batch.map((delivery) => delivery.event.id);
    const types = batch.map((delivery) => delivery.event.type);
    const lockTimeout = batch.length > 1 ? sql`, set_config('lock_timeout', ${batchLockTimeout}, true)` : sql``;
    const { rows } = await sql<{ event_id: string }>`
      insert into processed_events (consumer, event_id, event_type)
      select ${queue}, id, type from unnest(${ids}::uuid[], ${types}::text[]) as event(id, type)
      on conflict do nothing
      returning event_id${lockTimeout}`.execute(trx);
    const claimed = new Set(rows.map((row) => row.event_id));
    const handled = new Set<Delivery>();
    const emit = async <T extends EventType>(type: T, data: EventData[T]) => {
      const entry = lease(type, data);
      emitted.push(entry);
      return entry.envelope;
    };
    for (const delivery of batch) {
      // The same event twice in one batch: the first claims it, the second is the duplicate.
      if (!claimed.delete(delivery.event.id.toLowerCase())) continue;
      const handler = handlers[delivery.event.type as EventsOf<Q>] as EventHandler<DB, EventsOf<Q>>;
      const { logger: eventLogger, attempt, prepared } = delivery;
      await context.with(delivery.context, () => handler(delivery.event as EventEnvelope<never>, trx, { logger: eventLogger, attempt, prepared, emit }));
      handled.add(delivery);
    }
    // The batch's events in one statement, in the same transaction as the effects, written
    // together with the COMMIT: one round trip for both.
    if (emitted.length > 0) await thenCommit(eventsStatement(emitted)).execute(trx);
    return handled;
  };

  const complete = (delivery: Delivery, handled: boolean, batchSize: number) => {
    const { span, event } = delivery;
    context.with(delivery.context, () => delivery.logger.info({ duplicate: !handled }, handled ? 'event handled' : 'event already handled; ignored'));
    if (batchSize > 1) span?.setAttribute('messaging.batch.message_count', batchSize);
    settle(span, event.type, handled ? 'handled' : 'duplicate', delivery.started);
    delivery.acks.ack(delivery.message);
    release(delivery);
  };

  const failDelivery = async (delivery: Delivery, error: Error) => {
    markFailed(delivery.span, error);
    settle(delivery.span, delivery.event.type, await fail(delivery.acks, delivery.message, delivery.event, delivery.attempt, error), delivery.started);
    release(delivery);
  };

  /** The delivery is acked or parked: what `prepare` held is let go, and `stop()` no longer waits for it. */
  const release = (delivery: Delivery) => {
    if (delivery.prepareRan) options.settled?.(delivery.event);
    delivery.finished();
  };

  const markFailed = (span: Span | undefined, error: Error) => {
    span?.recordException(error);
    span?.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  };

  const settle = (span: Span | undefined, eventType: string, outcome: ConsumerOutcome, started: number) => {
    observeConsumed(queue, eventType, outcome, (performance.now() - started) / 1000);
    span?.setAttribute('messaging.consumer.outcome', outcome);
  };

  const fail = async (acks: ChannelAcks, message: ConsumeMessage, event: EventEnvelope | undefined, attempt: number, error: Error): Promise<ConsumerOutcome> => {
    const poison = error instanceof PoisonMessageError;
    // An outage is no fault of the message: waiting it out, however long it lasts, must not use
    // up its attempts and dead-letter it. Its waits grow as a failing message's do.
    const outage = isDatabaseUnavailable(error);
    const outageRetries = Number(message.properties.headers?.[messageHeaders.outageRetries] ?? 0);
    const delayMs = poison ? undefined : outage ? retryDelaysMs[Math.min(outageRetries, retryDelaysMs.length - 1)] : retryDelaysMs[attempt - 1];
    const destination = delayMs === undefined ? deadLetterQueueName(queue) : retryQueueName(queue, delayMs);
    const failureLogger = logger.child({ event_id: event?.id ?? message.properties.messageId, event_type: event?.type, queue, attempt });
    const eventType = event?.type ?? String(message.properties.type ?? 'unknown');
    try {
      await broker.sendToQueueConfirmed(destination, message.content, {
        ...message.properties,
        persistent: true,
        headers: {
          ...message.properties.headers,
          [messageHeaders.attempt]: outage ? attempt : attempt + 1,
          [messageHeaders.outageRetries]: outage ? outageRetries + 1 : outageRetries,
          [messageHeaders.lastError]: error.message.slice(0, 500),
          [messageHeaders.originalRoutingKey]: message.fields.routingKey,
          // The wait in the retry queue counts as queue time.
          [messageHeaders.publishedAt]: Date.now(),
          ...(delayMs === undefined ? { [messageHeaders.deadLetteredFrom]: queue, [messageHeaders.deadLetteredAt]: new Date().toISOString() } : {}),
        },
      });
      if (delayMs === undefined) failureLogger.error({ err: error }, `event dead-lettered to ${destination}`);
      else if (outage) failureLogger.warn({ err: error, retry_in_ms: delayMs }, 'database unavailable; will retry without counting an attempt');
      else failureLogger.warn({ err: error, retry_in_ms: delayMs }, 'event failed; will retry');
      if (delayMs === undefined) countDeadLettered(queue, eventType, poison ? 'poison' : 'exhausted');
      else countRetried(queue, eventType, outage ? 'database_unavailable' : 'failed');
      acks.ack(message);
      return delayMs === undefined ? 'dead_lettered' : 'retried';
    } catch (republishError) {
      // Could not park it: leave it to the broker, which redelivers it after a short pause.
      failureLogger.error({ err: republishError, cause: error.message }, 'event failed and could not be re-queued; returning it to the queue');
      setTimeout(() => acks.requeue(message), 1_000);
      return 'requeued';
    }
  };

  return {
    async start(model: ChannelModel) {
      if (stopping) return;
      const created = await model.createConfirmChannel();
      created.on('error', (error: Error) => logger.warn({ err: error, queue }, 'consumer channel error'));
      created.on('close', () => {
        if (attachedOn === created) attachedOn = undefined;
      });
      await created.prefetch(prefetch);
      const acks = channelAcks(created);
      channel = acks;
      const reply = await created.consume(queue, (message) => {
        if (!message) {
          // Cancelled by the broker (queue deleted): no longer attached; recovery will restart us.
          if (attachedOn === created) attachedOn = undefined;
          return;
        }
        acks.delivered(message);
        // A message waiting for its turn still belongs to its own trace, whose context is active only now.
        const delivered = context.active();
        const work = turns(() => context.with(delivered, () => receive(acks, message))).finally(() => inFlight.delete(work));
        inFlight.add(work);
      });
      consumerTag = reply.consumerTag;
      if (!stopping) attachedOn = created;
      logger.info({ queue, prefetch, concurrency }, 'consuming');
    },
    attached: () => attachedOn !== undefined,
    async stop() {
      stopping = true;
      attachedOn = undefined;
      if (channel && consumerTag) await channel.channel.cancel(consumerTag).catch(() => {});
      await Promise.allSettled([...inFlight]);
      channel?.flush();
      await channel?.channel.close().catch(() => {});
    },
  };
}
