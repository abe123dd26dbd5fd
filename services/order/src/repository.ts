import { insertEvents, sql, wakeUpRelaysFrom, type Kysely, type OutboxEntry } from '@scaleshop/platform';
import { finalStatuses, type OrderDatabase, type OrderStatus } from './schema.ts';

export interface OrderItemRecord {
  product_id: number;
  name: string;
  price: string;
  quantity: number;
}

export interface StatusRecord {
  status: OrderStatus;
  at: Date;
}

export interface OrderRecord {
  id: string;
  user_id: string;
  status: OrderStatus;
  total_amount: string;
  processing_duration_ms: number | null;
  failure_reason: string | null;
  trace_id: string | null;
  created_at: Date;
  items: OrderItemRecord[];
  history: StatusRecord[];
}

type Db = Kysely<OrderDatabase>;

const orderColumns = ['id', 'user_id', 'status', 'total_amount', 'processing_duration_ms', 'failure_reason', 'trace_id', 'created_at'] as const;

export interface NewOrder {
  id: string;
  userId: string;
  userEmail: string;
  totalAmount: string;
  items: readonly OrderItemRecord[];
  processingDurationMs: number;
  idempotencyKey?: string;
  traceId?: string;
}

/**
 * The pending order, its items, its first history row and its order.created event, written by
 * one statement: atomic without a transaction around it, and one round trip instead of seven.
 * An event held by its writer wakes no relay: the caller publishes it once this returns.
 */
export async function insertOrder(db: Db, order: NewOrder, event: OutboxEntry): Promise<OrderRecord> {
  const { rows } = await sql<{ created_at: Date; pending_at: Date }>`
    with new_order as (
      insert into orders (id, user_id, user_email, status, total_amount, processing_duration_ms, idempotency_key, trace_id)
      values (${order.id}, ${order.userId}, ${order.userEmail}, 'pending', ${order.totalAmount}, ${order.processingDurationMs}, ${order.idempotencyKey ?? null}, ${order.traceId ?? null})
      returning created_at
    ),
    items as (
      insert into order_items (order_id, product_id, name, price, quantity)
      select ${order.id}, * from unnest(
        ${order.items.map((item) => item.product_id)}::int[], ${order.items.map((item) => item.name)}::text[],
        ${order.items.map((item) => item.price)}::numeric[], ${order.items.map((item) => item.quantity)}::int[])
    ),
    pending as (
      insert into order_status_history (order_id, status) values (${order.id}, 'pending') returning at
    ),
    event as (${insertEvents([event])})
    select new_order.created_at, pending.at as pending_at, ${wakeUpRelaysFrom('event')}
    from new_order, pending`.execute(db);
  const row = rows[0]!;
  return {
    id: order.id,
    user_id: order.userId,
    status: 'pending',
    total_amount: order.totalAmount,
    processing_duration_ms: order.processingDurationMs,
    failure_reason: null,
    trace_id: order.traceId ?? null,
    created_at: row.created_at,
    items: order.items.map((item) => ({ ...item })),
    history: [{ status: 'pending', at: row.pending_at }],
  };
}

/** Whether an insert failed because the user has an order under that Idempotency-Key already. */
export const isIdempotencyKeyTaken = (error: unknown): boolean =>
  (error as { code?: unknown }).code === '23505' && (error as { constraint?: unknown }).constraint === 'orders_user_id_idempotency_key_idx';

export async function setProcessingDuration(db: Db, orderId: string, durationMs: number): Promise<void> {
  await db.updateTable('orders').set({ processing_duration_ms: durationMs }).where('id', '=', orderId).execute();
}

export async function findOrder(db: Db, orderId: string): Promise<OrderRecord | undefined> {
  return withDetails(db, await db.selectFrom('orders').select(orderColumns).where('id', '=', orderId).executeTakeFirst());
}

export async function findOrderByIdempotencyKey(db: Db, userId: string, idempotencyKey: string): Promise<OrderRecord | undefined> {
  return withDetails(db, await db.selectFrom('orders').select(orderColumns).where('user_id', '=', userId).where('idempotency_key', '=', idempotencyKey).executeTakeFirst());
}

async function withDetails(db: Db, row: OrderRow | undefined): Promise<OrderRecord | undefined> {
  return row ? (await attachDetails(db, [row]))[0] : undefined;
}

/** The user's orders, newest first; id breaks ties between orders placed in the same instant. */
export async function listOrders(db: Db, userId: string, page: { limit: number; offset: number }): Promise<{ items: OrderRecord[]; total: number }> {
  const [rows, count] = await Promise.all([
    db
      .selectFrom('orders')
      .select(orderColumns)
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    db
      .selectFrom('orders')
      .select((eb) => eb.fn.countAll<number>().as('total'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow(),
  ]);
  return { items: await attachDetails(db, rows), total: count.total };
}

type OrderRow = Omit<OrderRecord, 'items' | 'history'>;

/** Two queries for any number of orders, rather than two per order. */
async function attachDetails(db: Db, rows: readonly OrderRow[]): Promise<OrderRecord[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const [items, history] = await Promise.all([
    db
      .selectFrom('order_items')
      .select(['order_id', 'product_id', 'name', 'price', 'quantity'])
      .where('order_id', 'in', ids)
      .orderBy('order_id')
      .orderBy('product_id')
      .execute(),
    db.selectFrom('order_status_history').select(['order_id', 'status', 'at']).where('order_id', 'in', ids).orderBy('order_id').orderBy('at').execute(),
  ]);
  const itemsOf = groupBy(items, (item) => item.order_id);
  const historyOf = groupBy(history, (entry) => entry.order_id);
  return rows.map((row) => ({
    ...row,
    items: (itemsOf.get(row.id) ?? []).map(({ order_id: _, ...item }) => item),
    history: (historyOf.get(row.id) ?? []).map(({ status, at }) => ({ status, at })),
  }));
}

function groupBy<T>(values: readonly T[], keyOf: (value: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const value of values) {
    const key = keyOf(value);
    const group = groups.get(key);
    if (group) group.push(value);
    else groups.set(key, [value]);
  }
  return groups;
}

export async function orderExists(db: Db, orderId: string): Promise<boolean> {
  return (await db.selectFrom('orders').select('id').where('id', '=', orderId).executeTakeFirst()) !== undefined;
}

export const orderStatusChannel = 'order_status';

export interface StatusChange {
  /** The status before this statement, as its snapshot saw it; undefined when there is no such order. */
  seen: OrderStatus | undefined;
  moved: boolean;
}

/**
 * Moves the order to `status` if it is in one of `from`, and records `status` in the history
 * either way (a status already recorded keeps its first time), in one statement. Events for
 * one order are handled concurrently: the conditional UPDATE waits for the row lock another
 * holds and then re-checks `from` on the row as that one left it. A move to a final status is
 * announced on `order_status` at commit, to every replica listening, so a waiting sync checkout
 * wakes wherever it runs; nobody waits for the others, and each NOTIFY costs every listener a
 * wake-up and serializes the commits that send one.
 */
export async function advanceStatus(db: Db, orderId: string, status: OrderStatus, from: readonly OrderStatus[], failureReason?: string): Promise<StatusChange> {
  const { rows } = await sql<{ seen: OrderStatus | null; moved: boolean }>`
    with moved as (
      update orders set status = ${status}, updated_at = now(), failure_reason = coalesce(${failureReason ?? null}::text, failure_reason)
      where id = ${orderId} and status = any(${from}::text[])
      returning id
    ),
    recorded as (
      insert into order_status_history (order_id, status)
      select id, ${status} from orders where id = ${orderId}
      on conflict do nothing
    )
    select (select status from orders where id = ${orderId}) as seen,
           exists (select 1 from moved) as moved,
           (select pg_notify(${orderStatusChannel}, id::text) from moved where ${finalStatuses.has(status)}) as announced`.execute(db);
  const row = rows[0]!;
  return { seen: row.seen ?? undefined, moved: row.moved };
}
