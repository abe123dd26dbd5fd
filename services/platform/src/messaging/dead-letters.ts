import amqp from 'amqplib';
import { deadLetterQueueName, queues, type QueueName } from './contracts.ts';
import { messageHeaders } from './headers.ts';

export interface DeadLetterSummary {
  queue: QueueName;
  /** Undefined while no service has declared the queue yet. */
  deadLetters: number | undefined;
  waiting: number | undefined;
  consumers: number | undefined;
}

export interface DeadLetter {
  messageId: string | undefined;
  type: string | undefined;
  lastError: string | undefined;
  attempts: number | undefined;
  deadLetteredAt: string | undefined;
}

export function isQueueName(name: string): name is QueueName {
  return name in queues;
}

/** Every saga queue with how many messages wait in it and in its dead-letter queue. */
export async function summarizeQueues(url: string): Promise<DeadLetterSummary[]> {
  const connection = await amqp.connect(url);
  try {
    // A missing queue closes the channel that asked, so each check gets its own.
    const check = async (name: string) => {
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      try {
        const found = await channel.checkQueue(name);
        await channel.close();
        return found;
      } catch {
        return undefined;
      }
    };
    const summaries: DeadLetterSummary[] = [];
    for (const queue of Object.keys(queues) as QueueName[]) {
      const main = await check(queue);
      const dead = await check(deadLetterQueueName(queue));
      summaries.push({ queue, deadLetters: dead?.messageCount, waiting: main?.messageCount, consumers: main?.consumerCount });
    }
    return summaries;
  } finally {
    await connection.close();
  }
}

/** Reads a dead-letter queue without removing anything (each message is returned to it). */
export async function peekDeadLetters(url: string, queue: QueueName, limit: number): Promise<DeadLetter[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const seen: DeadLetter[] = [];
    const held = [];
    for (let i = 0; i < limit; i++) {
      const message = await channel.get(deadLetterQueueName(queue));
      if (!message) break;
      held.push(message);
      const headers = message.properties.headers ?? {};
      seen.push({
        messageId: message.properties.messageId,
        type: message.properties.type ?? headers[messageHeaders.originalRoutingKey],
        lastError: headers[messageHeaders.lastError],
        attempts: headers[messageHeaders.attempt] === undefined ? undefined : Number(headers[messageHeaders.attempt]) - 1,
        deadLetteredAt: headers[messageHeaders.deadLetteredAt],
      });
    }
    // Closing the channel returns every unacked message to the queue.
    return seen;
  } finally {
    await connection.close();
  }
}

/**
 * Moves dead letters back to their queue for another round of attempts. Each message is
 * re-published with publisher confirms before it is removed from the dead-letter queue,
 * so a crash midway duplicates at worst (consumers are idempotent) and never loses one.
 */
export async function replayDeadLetters(url: string, queue: QueueName, limit = Number.POSITIVE_INFINITY): Promise<number> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    let replayed = 0;
    while (replayed < limit) {
      const message = await channel.get(deadLetterQueueName(queue));
      if (!message) break;
      // A replay starts afresh: no attempts or outage retries used, not dead-lettered.
      const headers = { ...message.properties.headers };
      for (const name of [messageHeaders.attempt, messageHeaders.outageRetries, messageHeaders.deadLetteredAt, messageHeaders.deadLetteredFrom]) delete headers[name];
      channel.sendToQueue(queue, message.content, { ...message.properties, persistent: true, headers: { ...headers, [messageHeaders.replayedAt]: new Date().toISOString() } });
      await channel.waitForConfirms();
      channel.ack(message);
      replayed++;
    }
    return replayed;
  } finally {
    await connection.close();
  }
}
