import type { Kysely } from 'kysely';
import type { Logger } from '../logger.ts';
import { connectBroker, type Broker, type ChannelWorker } from './broker.ts';
import { createConsumer, type HandlerMap } from './consumer.ts';
import type { EventEnvelope, QueueName } from './contracts.ts';
import { startOutboxRelay, type OutboxRelay } from './outbox-relay.ts';

export interface MessagingConfig {
  RABBITMQ_URL: string;
  CONSUMER_PREFETCH: number;
  CONSUMER_CONCURRENCY?: number;
  RETRY_DELAYS_MS: readonly number[];
  OUTBOX_POLL_INTERVAL_MS: number;
  DATABASE_URL: string;
}

export interface Messaging<DB> {
  broker: Broker;
  relay: OutboxRelay;
  /** For /health/ready's optional checks: the service works on without the broker, its events waiting in the outbox. */
  optionalChecks: { broker: () => Promise<boolean> };
  /**
   * Whether every consumer started by consume() has its subscription confirmed by the broker on a
   * live channel: a readiness check for the services that do nothing but consume
   * (consumerReadinessSettings).
   */
  consumersAttached(): Promise<boolean>;
  consume<Q extends QueueName>(
    queue: Q,
    handlers: HandlerMap<DB, Q>,
    options?: { prepare?: (event: EventEnvelope, logger: Logger) => Promise<unknown>; settled?: (event: EventEnvelope) => void },
  ): Promise<void>;
  /** Stops consuming and finishes in-flight messages, publishes what is pending, then disconnects. */
  close(): Promise<void>;
}

/** A service's part in the saga: its broker connection, its outbox relay and its consumers. */
export function startMessaging<DB>(options: { service: string; config: MessagingConfig; logger: Logger; db: Kysely<DB> }): Messaging<DB> {
  const { config, logger, db } = options;
  const broker = connectBroker({ url: config.RABBITMQ_URL, logger, service: options.service, retryDelaysMs: config.RETRY_DELAYS_MS });
  const relay = startOutboxRelay({ db, databaseUrl: config.DATABASE_URL, broker, logger, pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS, name: options.service });
  const consumers: ChannelWorker[] = [];
  return {
    broker,
    relay,
    optionalChecks: { broker: async () => broker.isConnected() },
    consumersAttached: async () => consumers.length > 0 && consumers.every((consumer) => consumer.attached()),
    async consume(queue, handlers, consumeOptions) {
      const consumer = createConsumer({
        queue,
        db,
        broker,
        logger,
        handlers,
        prefetch: config.CONSUMER_PREFETCH,
        // 0: as many as it holds.
        ...(config.CONSUMER_CONCURRENCY ? { concurrency: config.CONSUMER_CONCURRENCY } : {}),
        retryDelaysMs: config.RETRY_DELAYS_MS,
        outbox: relay,
        ...(consumeOptions?.prepare ? { prepare: consumeOptions.prepare } : {}),
        ...(consumeOptions?.settled ? { settled: consumeOptions.settled } : {}),
      });
      consumers.push(consumer);
      await broker.addWorker(consumer);
    },
    async close() {
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      await relay.close();
      await broker.close();
    },
  };
}
