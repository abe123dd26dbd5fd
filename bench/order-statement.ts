/**
 * What both of bench:checkout's ceilings run: the order service's own checkout statement (order,
 * item, history and held outbox row in one), for a synthetic buyer, on a database of their own.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createDatabase, ensureDatabaseExists, migrateToLatest, money, outboxEntry, type Database, type OrderLine } from '@scaleshop/platform';
import { dropDatabase, testLogger } from '@scaleshop/platform/testing';
import { migrations as orderMigrations } from '../services/order/src/migrations.ts';
import { insertOrder } from '../services/order/src/repository.ts';
import type { OrderDatabase } from '../services/order/src/schema.ts';

export async function placeOrder(db: Kysely<OrderDatabase>, items: OrderLine[]): Promise<string> {
  const orderId = randomUUID();
  const userId = randomUUID();
  const total = money.sum(items.map((item) => money.multiply(item.price, item.quantity)));
  const event = outboxEntry('order.created', { order_id: orderId, user_id: userId, user_email: 'bench@example.com', items, total_amount: total }, { writerLeaseMs: 5_000 });
  await insertOrder(db, { id: orderId, userId, userEmail: 'bench@example.com', totalAmount: total, items, processingDurationMs: 1 }, event);
  return orderId;
}

/** A database migrated as the order service's, for `work`, dropped afterwards. */
export async function withOrderDatabase<T>(options: { poolMax: number }, work: (database: Database<OrderDatabase>, url: string) => Promise<T>): Promise<T> {
  const url = new URL(process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  url.pathname = `/bench_orders_${randomBytes(3).toString('hex')}`;
  await ensureDatabaseExists(url.toString());
  const logger = testLogger('bench');
  const database = createDatabase<OrderDatabase>({ url: url.toString(), poolMax: options.poolMax, logger, applicationName: 'bench' });
  try {
    await migrateToLatest(database.db, orderMigrations, logger);
    return await work(database, url.toString());
  } finally {
    await database.close();
    await dropDatabase(url.toString());
  }
}
