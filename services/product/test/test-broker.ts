import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp from 'amqplib';
import { exchangeName, type EventData, type EventEnvelope, type EventType } from '@scaleshop/platform';

/** The saga's broker seen from outside a service: what another service publishes, and what this one emits. */
export interface TestBroker {
  /** Publishes each envelope as the platform's relay would, and waits for the broker's confirms. */
  publish(envelopes: readonly EventEnvelope[]): Promise<void>;
  /** Resolves once `queue` has at least `count` consumers, i.e. the replicas have declared the topology and subscribed. */
  waitForConsumers(queue: string, count: number): Promise<void>;
  /** Collects, from now on, every event whose routing key matches `pattern`, through a queue of our own. */
  observe(pattern: string): Promise<Observed>;
  close(): Promise<void>;
}

export interface Observed {
  readonly events: EventEnvelope[];
  /** The events of `type` about `orderId`. */
  about(type: string, orderId: string): EventEnvelope[];
  /** Waits until `done` holds; fails after `timeoutMs`. */
  until(done: () => boolean, what: string, timeoutMs?: number): Promise<void>;
}

export function envelope<T extends EventType>(type: T, data: EventData[T]): EventEnvelope<EventData[T]> {
  return { id: randomUUID(), type, occurred_at: new Date().toISOString(), data };
}

export async function until(done: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Waits until every queue named `prefix`… in the vhost (the queue, its retry and dead-letter
 * queues) is empty, counting messages delivered but not yet acked, which the AMQP answer to
 * checkQueue leaves out.
 */
export async function queuesDrained(vhost: string, prefix: string): Promise<void> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const run = promisify(execFile);
  await until(async () => {
    const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', '-p', vhost, '--no-table-headers', 'name', 'messages']);
    return stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([name]) => name?.startsWith(prefix))
      .every(([, messages]) => messages === '0');
  }, `the ${prefix} queues to drain`);
}

export async function connectTestBroker(url: string): Promise<TestBroker> {
  const connection = await amqp.connect(url);
  const publisher = await connection.createConfirmChannel();
  // Declared the way the services declare it, so binding our queue does not depend on which starts first.
  await publisher.assertExchange(exchangeName, 'topic', { durable: true });

  return {
    async publish(envelopes) {
      for (const event of envelopes) {
        publisher.publish(exchangeName, event.type, Buffer.from(JSON.stringify(event)), {
          messageId: event.id,
          type: event.type,
          contentType: 'application/json',
          persistent: true,
        });
      }
      await publisher.waitForConfirms();
    },

    async waitForConsumers(queue, count) {
      await until(async () => {
        // checkQueue closes the channel when the queue does not exist yet, so each look gets its own.
        const channel = await connection.createChannel();
        channel.on('error', () => {});
        try {
          return (await channel.checkQueue(queue)).consumerCount >= count;
        } catch {
          return false;
        } finally {
          await channel.close().catch(() => {});
        }
      }, `${count} consumer(s) on ${queue}`);
    },

    async observe(pattern) {
      const channel = await connection.createChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(queue, exchangeName, pattern);
      const events: EventEnvelope[] = [];
      await channel.consume(queue, (message) => {
        if (message) events.push(JSON.parse(message.content.toString('utf8')) as EventEnvelope);
      }, { noAck: true });
      return {
        events,
        about: (type, orderId) => events.filter((event) => event.type === type && (event.data as { order_id?: string }).order_id === orderId),
        until: (done, what, timeoutMs) => until(done, what, timeoutMs),
      };
    },

    async close() {
      await connection.close();
    },
  };
}
