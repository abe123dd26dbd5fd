import { context, type Context } from '@opentelemetry/api';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type Options, type RecoveringChannelModel } from 'amqplib';
import type { Logger } from '../logger.ts';
import { redactUrl } from '../config.ts';
import { deadLetterQueueName, exchangeName, queues, retryQueueName } from './contracts.ts';

export interface OutgoingMessage {
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
  /** The trace context to publish in (the publish span's parent); the caller's when absent. */
  context?: Context;
}

/** A channel user that is (re)started on every connection and stopped on close. */
export interface ChannelWorker {
  start(model: ChannelModel): Promise<void>;
  /** Stop taking new work, finish what is in flight. */
  stop(): Promise<void>;
  /** Whether the broker has confirmed its subscription (basic.consume-ok) on the channel open now. */
  attached(): boolean;
}

export interface Broker {
  /** Publishes a batch and resolves only once the broker has confirmed every message. */
  publishConfirmed(messages: readonly OutgoingMessage[]): Promise<void>;
  /** Publishes straight to a queue through the default exchange, confirmed. */
  sendToQueueConfirmed(queue: string, content: Buffer, options: Options.Publish): Promise<void>;
  addWorker(worker: ChannelWorker): Promise<void>;
  /** Called after every (re)connection, once the publishing channel is open. */
  onConnected(listener: () => void): void;
  isConnected(): boolean;
  close(): Promise<void>;
}

export class BrokerUnavailableError extends Error {
  constructor(message = 'message broker is not connected') {
    super(message);
    this.name = 'BrokerUnavailableError';
  }
}

/**
 * What a missing broker means and how to get one, in a person's words: the gateway's /health
 * and the banner of `npm start` both say it.
 */
export const brokerMissingNotice =
  'No message broker (RabbitMQ) can be reached. The catalog, accounts and carts work; checkouts answer 202, but their orders stay ' +
  'pending, their events waiting in the outbox, until a broker answers: they then complete by themselves, with no restart. ' +
  'Start one with `docker compose up -d rabbitmq` (compose.yaml at the repository root) or `rabbitmq-server -detached`; in a cluster, see the rabbitmq pod.';

/** Whether a broker accepts an AMQP connection at `url` (credentials and virtual host included) within the time given. */
export async function brokerAnswers(url: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    const connection = await amqp.connect(url, { timeout: timeoutMs });
    await connection.close().catch(() => {});
    return true;
  } catch {
    return false;
  }
}

const confirmTimeoutMs = 10_000;
/** At the 5 s maximum back-off, a warning about a minute apart. */
const connectFailuresPerWarning = 12;

/**
 * One recovering AMQP connection per process. amqplib reconnects with backoff; on every
 * (re)connection this declares the topology, opens the publishing channel and restarts the
 * workers (consumers), because channels do not survive a lost connection.
 */
export function connectBroker(options: { url: string; logger: Logger; service: string; retryDelaysMs: readonly number[] }): Broker {
  const { logger } = options;
  let publishChannel: ConfirmChannel | undefined;
  let connected = false;
  let closing = false;
  const workers: ChannelWorker[] = [];
  const connectedListeners: Array<() => void> = [];
  let current: ChannelModel | undefined;

  const connection = amqp.connect(options.url, {
    clientProperties: { connection_name: options.service },
    recovery: {
      initialDelay: 200,
      maxDelay: 5_000,
      maxRetries: Infinity,
      // Start even while the broker is down: checkouts keep answering, the outbox holds the events.
      waitForConnect: false,
      async setup(model: ChannelModel) {
        current = model;
        await declareTopology(model, options.retryDelaysMs);
        const channel = await model.createConfirmChannel();
        channel.on('error', (error: Error) => logger.warn({ err: error }, 'publishing channel error'));
        channel.on('close', () => {
          if (publishChannel === channel) publishChannel = undefined;
        });
        publishChannel = channel;
        for (const worker of workers) await worker.start(model);
        connected = true;
        logger.info({ broker: redactUrl(options.url) }, 'connected to the message broker');
        for (const listener of connectedListeners) listener();
      },
    },
  }) as unknown as Promise<RecoveringChannelModel>;

  void connection.then((recovering) => {
    recovering.on('disconnect', (error: Error) => {
      connected = false;
      publishChannel = undefined;
      if (!closing) logger.warn({ err: error }, 'lost the message broker; reconnecting');
    });
    // Retried every few seconds for as long as the broker is away (a fresh laptop may have none):
    // said on the first failure and then once a minute or so, not on every attempt.
    let failedAttempts = 0;
    recovering.on('connect', () => {
      failedAttempts = 0;
    });
    recovering.on('connect-failed', (error: Error) => {
      failedAttempts++;
      if (!closing && (failedAttempts === 1 || failedAttempts % connectFailuresPerWarning === 0)) {
        logger.warn({ error: error.message, broker: redactUrl(options.url), attempts: failedAttempts }, 'cannot reach the message broker; retrying');
      }
    });
    recovering.on('error', (error: Error) => logger.warn({ err: error }, 'message broker connection error'));
  });

  const confirmed = async (channel: ConfirmChannel, send: () => void) => {
    send();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BrokerUnavailableError('publisher confirms timed out')), confirmTimeoutMs);
    });
    try {
      await Promise.race([channel.waitForConfirms(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    async publishConfirmed(messages) {
      const channel = publishChannel;
      if (!channel) throw new BrokerUnavailableError();
      await confirmed(channel, () => {
        for (const message of messages) {
          context.with(message.context ?? context.active(), () => channel.publish(exchangeName, message.routingKey, message.content, message.options));
        }
      });
    },
    async sendToQueueConfirmed(queue, content, publishOptions) {
      const channel = publishChannel;
      if (!channel) throw new BrokerUnavailableError();
      await confirmed(channel, () => channel.sendToQueue(queue, content, publishOptions));
    },
    async addWorker(worker) {
      workers.push(worker);
      if (current && connected) await worker.start(current);
    },
    onConnected(listener) {
      connectedListeners.push(listener);
    },
    isConnected: () => connected && publishChannel !== undefined,
    async close() {
      closing = true;
      const recovering = await connection.catch(() => undefined);
      await recovering?.close().catch(() => {});
    },
  };
}

async function declareTopology(model: ChannelModel, retryDelaysMs: readonly number[]): Promise<void> {
  const channel: Channel = await model.createChannel();
  try {
    await channel.assertExchange(exchangeName, 'topic', { durable: true });
    for (const [queue, routingKeys] of Object.entries(queues)) {
      await channel.assertQueue(queue, { durable: true });
      for (const routingKey of routingKeys) await channel.bindQueue(queue, exchangeName, routingKey);
      // A failed message waits in a retry queue until its TTL expires, then dead-letters back
      // to the main queue through the default exchange. One queue per delay, because RabbitMQ
      // only expires messages at the head of a queue.
      for (const delayMs of retryDelaysMs) {
        await channel.assertQueue(retryQueueName(queue, delayMs), {
          durable: true,
          arguments: { 'x-message-ttl': delayMs, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queue },
        });
      }
      await channel.assertQueue(deadLetterQueueName(queue), { durable: true });
    }
  } finally {
    await channel.close();
  }
}
