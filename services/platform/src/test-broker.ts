/**
 * The test's side of the broker: publishes events the way another service's outbox relay
 * does, and watches what the service under test publishes in return.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { exchangeName, type EventData, type EventEnvelope, type EventType } from '@scaleshop/platform';

export function envelopeOf<T extends EventType>(type: T, data: EventData[T]): EventEnvelope<EventData[T]> {
  return { id: randomUUID(), type, occurred_at: new Date().toISOString(), data };
}

/** Polls until `probe` returns something other than undefined or false. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Reads until `done` accepts the value or the time is up, and returns the last value read
 * either way: the test's own assertions on it then say what was missing.
 */
export async function eventually<T>(read: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await sleep(25);
    value = await read();
  }
  return value;
}

export interface TestBroker {
  /** Publishes the envelopes as the platform's relay would, in order, and waits for the broker's confirms. */
  publish(...envelopes: EventEnvelope[]): Promise<void>;
  /** Every event seen on the observed routing keys, in arrival order, with when it arrived. */
  received: Array<{ event: EventEnvelope; at: number }>;
  eventsFor(orderId: string): EventEnvelope[];
  nextEventFor(orderId: string, timeoutMs?: number): Promise<EventEnvelope>;
  /**
   * Resolves once `queue` has `count` consumers (default one): until the service has declared
   * and subscribed to it, a published event would have nowhere to go.
   */
  waitForConsumer(queue: string, options?: { count?: number; timeoutMs?: number }): Promise<void>;
  /** Messages waiting in a queue, and its consumers; undefined when it does not exist. */
  inspect(queue: string): Promise<{ messageCount: number; consumerCount: number } | undefined>;
  /** Takes the next message off a queue, with its AMQP message id and headers; undefined when the queue is empty. */
  take(queue: string): Promise<{ event: EventEnvelope; messageId: unknown; headers: Record<string, unknown> } | undefined>;
  close(): Promise<void>;
}

export async function connectTestBroker(url: string, observe: readonly string[]): Promise<TestBroker> {
  const connection: ChannelModel = await amqp.connect(url);
  const received: Array<{ event: EventEnvelope; at: number }> = [];
  try {
    const publisher: ConfirmChannel = await connection.createConfirmChannel();
    // The same declaration as the services', so the order of start-up does not matter.
    await publisher.assertExchange(exchangeName, 'topic', { durable: true });
    const observer = await connection.createChannel();
    const { queue } = await observer.assertQueue('', { exclusive: true, autoDelete: true });
    for (const routingKey of observe) await observer.bindQueue(queue, exchangeName, routingKey);
    await observer.consume(queue, (message) => {
      if (message) received.push({ event: JSON.parse(message.content.toString('utf8')) as EventEnvelope, at: Date.now() });
    }, { noAck: true });

    const eventsFor = (orderId: string) => received.map((entry) => entry.event).filter((event) => (event.data as { order_id?: string }).order_id === orderId);

    const inspect = async (name: string): Promise<{ messageCount: number; consumerCount: number } | undefined> => {
      // A missing queue closes the channel it was checked on, so each check gets its own.
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      try {
        const { messageCount, consumerCount } = await channel.checkQueue(name);
        await channel.close();
        return { messageCount, consumerCount };
      } catch {
        return undefined;
      }
    };

    return {
      received,
      eventsFor,
      async publish(...envelopes) {
        for (const envelope of envelopes) {
          publisher.publish(exchangeName, envelope.type, Buffer.from(JSON.stringify(envelope)), {
            messageId: envelope.id,
            type: envelope.type,
            contentType: 'application/json',
            persistent: true,
          });
        }
        await publisher.waitForConfirms();
      },
      async waitForConsumer(queue, { count = 1, timeoutMs } = {}) {
        await waitFor(`${count} consumer(s) on ${queue}`, async () => ((await inspect(queue))?.consumerCount ?? 0) >= count, timeoutMs);
      },
      nextEventFor: (orderId, timeoutMs) => waitFor(`an event for order ${orderId}`, async () => eventsFor(orderId)[0], timeoutMs),
      inspect,
      async take(name) {
        const channel = await connection.createChannel();
        try {
          const message = await channel.get(name, { noAck: true });
          if (!message) return undefined;
          return {
            event: JSON.parse(message.content.toString('utf8')) as EventEnvelope,
            messageId: message.properties.messageId,
            headers: (message.properties.headers ?? {}) as Record<string, unknown>,
          };
        } finally {
          await channel.close();
        }
      },
      async close() {
        await connection.close();
      },
    };
  } catch (error) {
    await connection.close().catch(() => {});
    throw error;
  }
}

/**
 * Messages in each queue of the virtual host, by name, counting those delivered but not yet
 * acked, which the AMQP answer to checkQueue leaves out.
 */
export async function queueMessageCounts(vhost: string): Promise<Map<string, number>> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { stdout } = await promisify(execFile)('rabbitmqctl', ['-q', 'list_queues', '-p', vhost, '--no-table-headers', 'name', 'messages']);
  const counts = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const [name, messages] = line.trim().split(/\s+/);
    if (name && messages !== undefined) counts.set(name, Number(messages));
  }
  return counts;
}

/** Waits until every queue named `prefix`… in the virtual host (the queue, its retry and dead-letter queues) is empty. */
export async function queuesDrained(vhost: string, prefix: string, timeoutMs?: number): Promise<void> {
  await waitFor(
    `the ${prefix} queues to drain`,
    async () => [...(await queueMessageCounts(vhost))].filter(([name]) => name.startsWith(prefix)).every(([, messages]) => messages === 0),
    timeoutMs,
  );
}
