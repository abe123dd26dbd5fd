/**
 * What a chaos run records, and what the checker reads: the history of every request as the
 * client saw it, the faults as they were injected, and the shop's state once it has quiesced
 * (read from each service's database, the mail catcher and the broker's dead-letter queues).
 * Plain JSON, so a run's history can be checked again, or a hand-made one fed to the checker.
 */

/** One request as the client saw it. */
export interface RequestRecord {
  /** When it was sent, ms since the Unix epoch. */
  at: number;
  /** From when it was due to when its whole answer was read. */
  ms: number;
  /** The request's metric name, e.g. `POST /api/orders/checkout`. */
  name: string;
  /** 0 when no answer came (refused, reset, timed out). */
  status: number;
  /** The answer's Retry-After header, when it had one. */
  retryAfter?: string;
  /** The error body's code, when the answer was an error. */
  code?: string;
  /** A checkout's Idempotency-Key header. */
  idempotencyKey?: string;
  /** The order a checkout's 2xx answer named. */
  orderId?: string;
}

export const faultKinds = ['kill', 'term', 'pg-restart', 'broker-stop', 'db-cut', 'net-delay', 'net-cut', 'payment-slow'] as const;
export type FaultKind = (typeof faultKinds)[number];

/** One fault as it was injected: from `start` to `end` (ms since the epoch) the shop was under it. */
export interface FaultRecord {
  kind: FaultKind;
  /** What it hit: `payment-2`, `order → postgres`, `postgres`… */
  target: string;
  start: number;
  end: number;
  /** Anything worth knowing about how it went (a replica that was already gone, the command's output). */
  note?: string;
}

export const finalStatuses = ['completed', 'rejected', 'payment_failed'] as const;
/** Statuses of an order whose stock is taken and not given back. */
export const holdingStatuses = ['stock_reserved', 'paid', 'completed'] as const;

export interface OrderRow {
  id: string;
  status: string;
  idempotency_key: string | null;
  items: Array<{ product_id: number; quantity: number }>;
}

export interface ShopState {
  orders: OrderRow[];
  payments: Array<{ order_id: string; status: 'succeeded' | 'declined' }>;
  /** The product service's reservations: one per order whose stock was taken. */
  reservations: Array<{ order_id: string; status: 'reserved' | 'released'; items: Array<{ product_id: number; quantity: number }> }>;
  /**
   * Per product watched, its stock plus what active reservations held, read in one transaction
   * before the first checkout: what the product had before any of this run's orders took from it.
   */
  initialStock: Record<string, number>;
  /** The same products' stock now. */
  stock: Record<string, number>;
  /** What the mail catcher was handed. */
  emails: Array<{ message_id: string; to: string; subject: string }>;
  /** Messages in each dead-letter queue, with the last error each carries. */
  deadLetters: Array<{ queue: string; messages: number; reasons: string[] }>;
}

export interface History {
  requests: RequestRecord[];
  faults: FaultRecord[];
  state: ShopState;
}
