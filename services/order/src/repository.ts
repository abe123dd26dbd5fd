import { sql, type Kysely } from '@scaleshop/platform';
import type { OrderDatabase, OrderStatus } from './schema.ts';

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
  created_at: Date;
  items: OrderItemRecord[];
  history: StatusRecord[];
}

export interface NewOrder {
  userId: string;
  userEmail: string;
  totalAmount: string;
  items: readonly OrderItemRecord[];
}

type Db = Kysely<OrderDatabase>;

const orderColumns = ['id', 'user_id', 'status', 'total_amount', 'processing_duration_ms', 'failure_reason', 'created_at'] as const;

/** Inserts a pending order with its items and first history row; run it inside the checkout transaction. */
export async function insertOrder(trx: Db, order: NewOrder): Promise<OrderRecord> {
  const row = await trx
    .insertInto('orders')
    .values({ user_id: order.userId, user_email: order.userEmail, status: 'pending', total_amount: order.totalAmount })
    .returning(orderColumns)
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('order_items')
    .values(order.items.map((item) => ({ order_id: row.id, product_id: item.product_id, name: item.name, price: item.price, quantity: item.quantity })))
    .execute();
  const pending = await trx.insertInto('order_status_history').values({ order_id: row.id, status: 'pending' }).returning(['status', 'at']).executeTakeFirstOrThrow();
  return { ...row, items: order.items.map((item) => ({ ...item })), history: [pending] };
}

export async function setProcessingDuration(db: Db, orderId: string, durationMs: number): Promise<void> {
  await db.updateTable('orders').set({ processing_duration_ms: durationMs }).where('id', '=', orderId).execute();
}

export async function findOrder(db: Db, orderId: string): Promise<OrderRecord | undefined> {
  const row = await db.selectFrom('orders').select(orderColumns).where('id', '=', orderId).executeTakeFirst();
  if (!row) return undefined;
  const [withDetails] = await attachDetails(db, [row]);
  return withDetails;
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

/**
 * The order's status, with the row locked until the transaction ends: events for one order
 * are handled concurrently, and each must decide on the status the previous one left.
 */
export async function lockOrderStatus(trx: Db, orderId: string): Promise<OrderStatus | undefined> {
  const row = await trx.selectFrom('orders').select('status').where('id', '=', orderId).forUpdate().executeTakeFirst();
  return row?.status;
}

/** Records that the order reached `status`; a status already recorded keeps its first time. */
export async function recordStatus(trx: Db, orderId: string, status: OrderStatus): Promise<void> {
  await trx.insertInto('order_status_history').values({ order_id: orderId, status }).onConflict((oc) => oc.columns(['order_id', 'status']).doNothing()).execute();
}

export async function setStatus(trx: Db, orderId: string, status: OrderStatus, failureReason?: string): Promise<void> {
  await trx
    .updateTable('orders')
    .set({ status, updated_at: sql<Date>`now()`, ...(failureReason === undefined ? {} : { failure_reason: failureReason }) })
    .where('id', '=', orderId)
    .execute();
}

export const orderStatusChannel = 'order_status';

/** Delivered at commit to every replica listening, so a waiting sync checkout wakes wherever it runs. */
export async function notifyStatusChanged(trx: Db, orderId: string): Promise<void> {
  await sql`select pg_notify(${orderStatusChannel}, ${orderId})`.execute(trx);
}
