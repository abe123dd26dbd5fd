import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../logger.ts';
import { countDeadLettered, observeConsumed, observeQueueWait, type ConsumerOutcome } from '../metrics.ts';
import { contextFromHeaders, eventAttributes, tracer } from '../telemetry/spans.ts';
import type { Broker, ChannelWorker } from './broker.ts';
import { deadLetterQueueName, retryQueueName, type EventData, type EventEnvelope, type EventsOf, type EventType, type QueueName } from './contracts.ts';
import { outboxEntry, publishedAtHeader, writeEvent, type OutboxEntry, type OutboxRelay } from './outbox.ts';

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
  /** Messages handled at once by this replica. */
  prefetch?: number;
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
  outbox?: Pick<OutboxRelay, 'heldEntry' | 'publishCommitted'>;
}

const attemptHeader = 'x-attempt';

class PoisonMessageError extends Error {}

/**
 * Consumes one queue with manual acks. Each message's effects and its event id are committed
 * in one transaction, and the ack is sent only after that commit: a redelivery of an event
 * already processed finds its id and changes nothing, and a crash before the commit leaves
 * the message unacked for redelivery. A failure is retried through delay queues; after the
 * last delay the message is moved to the dead-letter queue, where `npm run dlq` shows and
 * replays it.
 */
export function createConsumer<DB, Q extends QueueName>(options: ConsumerOptions<DB, Q>): ChannelWorker {
  const { queue, db, broker, logger, handlers, retryDelaysMs } = options;
  const prefetch = options.prefetch ?? 10;
  let channel: ConfirmChannel | undefined;
  let consumerTag: string | undefined;
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
    if (!(candidate.type in handlers)) throw new PoisonMessageError(`no handler for event type "${candidate.type}"`);
    return candidate as EventEnvelope;
  };

  const alreadyProcessed = async (eventId: string) => {
    const found = await sql`select 1 from processed_events where consumer = ${queue} and event_id = ${eventId}`.execute(db);
    return found.rows.length > 0;
  };

  /**
   * The wait in RabbitMQ, from publication to this delivery, as a metric and as a span beside
   * the consumer's (both children of the publish span), so that a trace shows the queue time.
   */
  const recordQueueWait = (message: ConsumeMessage, span: Span | undefined, deliveredAt: number) => {
    const publishedAt = Number(message.properties.headers?.[publishedAtHeader]);
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

  const handleDelivery = async (target: ConfirmChannel, message: ConsumeMessage) => {
    const started = performance.now();
    // The amqplib instrumentation's consumer span, which continues the publisher's trace.
    const span = trace.getActiveSpan();
    recordQueueWait(message, span, Date.now());
    const attempt = Number(message.properties.headers?.[attemptHeader] ?? 1);
    let event: EventEnvelope | undefined;
    try {
      event = parse(message);
      span?.setAttributes({ ...eventAttributes(event), 'messaging.destination.subscription.name': queue, 'messaging.delivery_attempt': attempt });
      const eventLogger = logger.child({ event_id: event.id, event_type: event.type, queue, attempt });
      let handled = false;
      // Only worth a round trip when it can spare slow work; the claim below is the real guard.
      const skip = options.prepare !== undefined && (await alreadyProcessed(event.id));
      if (!skip) {
        try {
          const prepared = options.prepare ? await options.prepare(event, eventLogger) : undefined;
          const emitted: OutboxEntry[] = [];
          handled = await db.transaction().execute(async (trx) => {
            // The claim and the effects commit together; a concurrent duplicate waits on this row and then finds it.
            const claimed = await sql`
              insert into processed_events (consumer, event_id, event_type) values (${queue}, ${event!.id}, ${event!.type})
              on conflict do nothing returning event_id`.execute(trx);
            if (claimed.rows.length === 0) return false;
            const emit = async <T extends EventType>(type: T, data: EventData[T]) => {
              const entry = options.outbox ? options.outbox.heldEntry(type, data) : outboxEntry(type, data);
              await writeEvent(trx, entry);
              emitted.push(entry);
              return entry.envelope;
            };
            const handler = handlers[event!.type as EventsOf<Q>] as EventHandler<DB, EventsOf<Q>>;
            await handler(event as EventEnvelope<never>, trx, { logger: eventLogger, attempt, prepared, emit });
            return true;
          });
          if (handled) options.outbox?.publishCommitted(emitted);
        } finally {
          options.settled?.(event);
        }
      }
      eventLogger.info({ duplicate: !handled }, handled ? 'event handled' : 'event already handled; ignored');
      settle(span, event.type, handled ? 'handled' : 'duplicate', started);
      target.ack(message);
    } catch (error) {
      span?.recordException(error as Error);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      settle(span, event?.type ?? String(message.properties.type ?? 'unknown'), await fail(target, message, event, attempt, error as Error), started);
    }
  };

  const settle = (span: Span | undefined, eventType: string, outcome: ConsumerOutcome, started: number) => {
    observeConsumed(queue, eventType, outcome, (performance.now() - started) / 1000);
    span?.setAttribute('messaging.consumer.outcome', outcome);
  };

  const fail = async (target: ConfirmChannel, message: ConsumeMessage, event: EventEnvelope | undefined, attempt: number, error: Error): Promise<ConsumerOutcome> => {
    const poison = error instanceof PoisonMessageError;
    const delayMs = poison ? undefined : retryDelaysMs[attempt - 1];
    const destination = delayMs === undefined ? deadLetterQueueName(queue) : retryQueueName(queue, delayMs);
    const failureLogger = logger.child({ event_id: event?.id ?? message.properties.messageId, event_type: event?.type, queue, attempt });
    const eventType = event?.type ?? String(message.properties.type ?? 'unknown');
    try {
      await broker.sendToQueueConfirmed(destination, message.content, {
        ...message.properties,
        persistent: true,
        headers: {
          ...message.properties.headers,
          [attemptHeader]: attempt + 1,
          'x-last-error': error.message.slice(0, 500),
          'x-original-routing-key': message.fields.routingKey,
          // The wait in the retry queue counts as queue time.
          [publishedAtHeader]: Date.now(),
          ...(delayMs === undefined ? { 'x-dead-lettered-from': queue, 'x-dead-lettered-at': new Date().toISOString() } : {}),
        },
      });
      if (delayMs === undefined) failureLogger.error({ err: error }, `event dead-lettered to ${destination}`);
      else failureLogger.warn({ err: error, retry_in_ms: delayMs }, 'event failed; will retry');
      if (delayMs === undefined) countDeadLettered(queue, eventType, poison ? 'poison' : 'exhausted');
      target.ack(message);
      return delayMs === undefined ? 'dead_lettered' : 'retried';
    } catch (republishError) {
      // Could not park it: leave it to the broker, which redelivers it after a short pause.
      failureLogger.error({ err: republishError, cause: error.message }, 'event failed and could not be re-queued; returning it to the queue');
      setTimeout(() => {
        try {
          target.nack(message, false, true);
        } catch {
          // channel already gone: the broker requeues unacked messages by itself
        }
      }, 1_000);
      return 'requeued';
    }
  };

  return {
    async start(model: ChannelModel) {
      if (stopping) return;
      const created = await model.createConfirmChannel();
      created.on('error', (error: Error) => logger.warn({ err: error, queue }, 'consumer channel error'));
      await created.prefetch(prefetch);
      channel = created;
      const reply = await created.consume(queue, (message) => {
        if (!message) return; // cancelled by the broker (queue deleted); recovery will restart us
        const work = handleDelivery(created, message).finally(() => inFlight.delete(work));
        inFlight.add(work);
      });
      consumerTag = reply.consumerTag;
      logger.info({ queue, prefetch }, 'consuming');
    },
    async stop() {
      stopping = true;
      if (channel && consumerTag) await channel.cancel(consumerTag).catch(() => {});
      await Promise.allSettled([...inFlight]);
      await channel?.close().catch(() => {});
    },
  };
}
