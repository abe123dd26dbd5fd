/**
 * The checkout saga's contract: the events, what each carries, and who consumes them.
 * Events carry everything their consumers need, so no consumer has to call back.
 */
export const exchangeName = 'ecommerce_events';

export interface EventEnvelope<T = unknown> {
  id: string;
  type: string;
  occurred_at: string;
  data: T;
}

export interface OrderLine {
  product_id: number;
  name: string;
  price: string;
  quantity: number;
}

interface OrderParty {
  order_id: string;
  user_id: string;
  user_email: string;
}

export interface EventData {
  'order.created': OrderParty & { items: OrderLine[]; total_amount: string };
  'inventory.reserved': OrderParty & { items: OrderLine[]; total_amount: string };
  'inventory.rejected': OrderParty & { items: OrderLine[]; total_amount: string; reason: string };
  'inventory.released': OrderParty & { items: OrderLine[] };
  'payment.processed': OrderParty & { items: OrderLine[]; total_amount: string; payment_id: string };
  'payment.failed': OrderParty & { items: OrderLine[]; total_amount: string; reason: string };
  'email.sent': OrderParty & { kind: 'confirmation' | 'failure'; recipient: string; subject: string; message_id: string };
}

export type EventType = keyof EventData;

/**
 * Every queue and what it is bound to. Each service declares all of it on every connection,
 * so an event published before its consumer has ever started still has a queue to wait in.
 */
export const queues = {
  'product.orders': ['order.created', 'payment.failed'],
  'cart.orders': ['order.created'],
  'payment.inventory': ['inventory.reserved'],
  'email.notifications': ['payment.processed', 'inventory.rejected', 'payment.failed'],
  'order.saga': ['inventory.reserved', 'inventory.rejected', 'payment.processed', 'payment.failed', 'email.sent'],
} as const satisfies Record<string, readonly EventType[]>;

export type QueueName = keyof typeof queues;
export type EventsOf<Q extends QueueName> = (typeof queues)[Q][number];

/** Delays between attempts; after the last one a message goes to the queue's dead-letter queue. */
export const defaultRetryDelaysMs = [1_000, 5_000, 15_000, 30_000] as const;

export const retryQueueName = (queue: string, delayMs: number) => `${queue}.retry.${delayMs}ms`;
export const deadLetterQueueName = (queue: string) => `${queue}.dlq`;
