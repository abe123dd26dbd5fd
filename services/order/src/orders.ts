import { randomUUID } from 'node:crypto';
import { badRequest, money, notFound, type Caller, type Kysely, type OutboxRelay } from '@scaleshop/platform';
import type { CartReader } from './cart.ts';
import * as repository from './repository.ts';
import type { OrderRecord } from './repository.ts';
import { finalStatuses, type OrderDatabase, type OrderStatus } from './schema.ts';
import type { StatusWaiters } from './status-waiters.ts';

export interface OrderLineView {
  product_id: number;
  name: string;
  price: string;
  quantity: number;
  line_total: string;
}

export interface OrderView {
  id: string;
  status: OrderStatus;
  total_amount: string;
  items: OrderLineView[];
  processing_duration_ms: number | null;
  failure_reason: string | null;
  trace_id: string | null;
  created_at: string;
  history: { status: OrderStatus; at: string }[];
}

export type CheckoutMode = 'async' | 'sync';

export interface CheckoutRequest {
  caller: Caller;
  requestId: string;
  /** performance.now() when the request arrived; processing_duration_ms counts from here. */
  startedAt: number;
  mode: CheckoutMode;
  /** The client's Idempotency-Key: a checkout sent again with it answers with the order it placed. */
  idempotencyKey?: string;
  /** The trace the checkout request runs in, kept with the order so a page can link to it later. */
  traceId?: string;
}

export interface CheckoutResult {
  order: OrderView;
  /** Whether the saga had finished when we answered; only a sync checkout waits for that. */
  final: boolean;
  /** Whether an earlier checkout with the same Idempotency-Key placed the order. */
  replayed: boolean;
}

export interface Orders {
  checkout(request: CheckoutRequest): Promise<CheckoutResult>;
  getOrder(userId: string, orderId: string): Promise<OrderView>;
  listOrders(userId: string, page: { limit: number; offset: number }): Promise<{ items: OrderView[]; total: number }>;
}

const elapsedSince = (startedAt: number) => Math.max(0, Math.round(performance.now() - startedAt));

/**
 * Checkout only records the order and its order.created event; the rest of the saga runs in
 * other services, driven by events. A sync checkout additionally waits for the saga's end,
 * to compare that (the monolith's way) with answering at once.
 */
export function createOrders(
  db: Kysely<OrderDatabase>,
  cart: CartReader,
  outbox: Pick<OutboxRelay, 'publishAfterCommit'>,
  waiters: StatusWaiters,
  options: { syncTimeoutMs: number },
): Orders {
  /**
   * A checkout repeated with its Idempotency-Key (a retry after a timeout or a 503 whose commit
   * the client could not see, a double click) finds the order the first one placed. The cart is
   * emptied only later, by an event, so without the key a retry would buy it all again.
   */
  const place = async (request: CheckoutRequest): Promise<{ order: OrderRecord; replayed: boolean }> => {
    const { caller, idempotencyKey } = request;
    const earlier = idempotencyKey === undefined ? undefined : await repository.findOrderByIdempotencyKey(db, caller.id, idempotencyKey);
    if (earlier) return { order: earlier, replayed: true };
    try {
      return { order: await placeNew(request), replayed: false };
    } catch (error) {
      // The same key in a request that ran alongside this one, which placed the order.
      const raced = idempotencyKey !== undefined && repository.isIdempotencyKeyTaken(error) ? await repository.findOrderByIdempotencyKey(db, caller.id, idempotencyKey) : undefined;
      if (raced) return { order: raced, replayed: true };
      throw error;
    }
  };

  const placeNew = async ({ caller, requestId, startedAt, idempotencyKey, traceId }: CheckoutRequest): Promise<OrderRecord> => {
    const lines = await cart.getCart(caller, requestId);
    if (lines.length === 0) throw badRequest('the cart is empty', 'CART_EMPTY');
    // Recomputed from price and quantity, the facts stored with the order, so the total always matches its lines.
    const totalAmount = money.sum(lines.map((line) => money.multiply(line.price, line.quantity)));
    if (!money.fitsStorage(totalAmount)) throw badRequest(`the order total ${totalAmount} is over the most one order can be, ${money.maxStoredAmount}`, 'ORDER_TOO_LARGE');
    const orderId = randomUUID();
    // Counted up to the statement that records the order, which is the whole of an async checkout but its last millisecond.
    const processingDurationMs = elapsedSince(startedAt);
    // The order and its order.created commit in one statement; the event is published right after.
    const order = await outbox.publishAfterCommit((lease) => {
      const event = lease('order.created', {
        order_id: orderId,
        user_id: caller.id,
        user_email: caller.email,
        items: lines.map(({ product_id, name, price, quantity }) => ({ product_id, name, price, quantity })),
        total_amount: totalAmount,
      });
      return repository.insertOrder(db, { id: orderId, userId: caller.id, userEmail: caller.email, totalAmount, items: lines, processingDurationMs, idempotencyKey, traceId }, event);
    });
    return order;
  };

  /** Resolves with the order once it is final, or as it stands at the deadline. */
  const awaitFinal = async (orderId: string, deadline: number): Promise<{ order: OrderRecord; final: boolean }> => {
    for (;;) {
      // Registered before reading, so a change committed between the read and the wait still wakes us.
      const next = waiters.next(orderId);
      try {
        const order = await repository.findOrder(db, orderId);
        if (!order) throw new Error(`order ${orderId} vanished while waiting for it`);
        if (finalStatuses.has(order.status)) return { order, final: true };
        const remainingMs = deadline - performance.now();
        if (remainingMs <= 0 || waiters.closed) return { order, final: false };
        await settledOrTimedOut(next.changed, remainingMs);
      } finally {
        next.cancel();
      }
    }
  };

  const getOrder = async (userId: string, orderId: string): Promise<OrderView> => {
    const order = await repository.findOrder(db, orderId);
    // Someone else's order is answered exactly like a missing one, so ids cannot be probed.
    if (!order || order.user_id !== userId) throw notFound(`order ${orderId} not found`, 'ORDER_NOT_FOUND');
    return viewOf(order);
  };

  return {
    async checkout(request) {
      const { order: placed, replayed } = await place(request);
      if (request.mode === 'async') return { order: viewOf(placed), final: false, replayed };
      const { order, final } = await awaitFinal(placed.id, request.startedAt + options.syncTimeoutMs);
      // A replay did not place the order: the first checkout's duration stays.
      if (!final || replayed) return { order: viewOf(order), final, replayed };
      const durationMs = elapsedSince(request.startedAt);
      await repository.setProcessingDuration(db, order.id, durationMs);
      return { order: viewOf({ ...order, processing_duration_ms: durationMs }), final, replayed };
    },

    getOrder,

    async listOrders(userId, page) {
      const { items, total } = await repository.listOrders(db, userId, page);
      return { items: items.map(viewOf), total };
    },
  };
}

function viewOf(order: OrderRecord): OrderView {
  return {
    id: order.id,
    status: order.status,
    total_amount: money.normalize(order.total_amount),
    items: order.items.map((item) => {
      const price = money.normalize(item.price);
      return { product_id: item.product_id, name: item.name, price, quantity: item.quantity, line_total: money.multiply(price, item.quantity) };
    }),
    processing_duration_ms: order.processing_duration_ms,
    failure_reason: order.failure_reason,
    trace_id: order.trace_id,
    created_at: order.created_at.toISOString(),
    history: order.history.map((entry) => ({ status: entry.status, at: entry.at.toISOString() })),
  };
}

async function settledOrTimedOut(promise: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}
