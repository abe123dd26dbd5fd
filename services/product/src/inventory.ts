import { maxInt4, type EventData, type HandlerContext, type Kysely } from '@scaleshop/platform';
import * as repository from './repository.ts';
import type { ProductDatabase, StockLine } from './schema.ts';

type Db = Kysely<ProductDatabase>;

/**
 * Takes the stock of every line of the order, or of none, and says which through the outbox.
 * `trx` must be the consumer's transaction, and `emit` its: the row locks, the stock, the reservation
 * and the event all commit together with the event's processed mark, or not at all.
 */
export async function reserveStock(trx: Db, order: EventData['order.created'], { logger, emit }: HandlerContext): Promise<void> {
  const { order_id, user_id, user_email, items, total_amount } = order;
  const reject = async (reason: string) => {
    await emit('inventory.rejected', { order_id, user_id, user_email, items, total_amount, reason });
    logger.info({ order_id, reason }, 'stock not reserved');
  };
  const requested = totalsByProduct(items);
  if (typeof requested === 'string') return reject(requested);
  const products = await repository.lockProducts(trx, [...requested.keys()]);
  // The same order under another event id (republished) must not take stock twice. Looked up
  // under the row locks, which a concurrent copy holds until it commits its reservation.
  if (await repository.findReservation(trx, order_id)) {
    logger.info({ order_id }, 'stock already reserved for this order; ignored');
    return;
  }
  const reason = shortfall(requested, products);
  if (reason !== undefined) return reject(reason);

  const lines = [...requested].map(([product_id, quantity]): StockLine => ({ product_id, quantity }));
  await repository.reserve(trx, order_id, lines);
  await emit('inventory.reserved', { order_id, user_id, user_email, items, total_amount });
  logger.info({ order_id, lines: lines.length }, 'stock reserved');
}

/**
 * The saga's compensation: gives back what the order's reservation took, once. An order with
 * no reservation (its stock was never taken) or one already released needs nothing.
 */
export async function releaseReservation(trx: Db, failure: EventData['payment.failed'], { logger, emit }: HandlerContext): Promise<void> {
  const { order_id, user_id, user_email, items } = failure;
  const reservation = await repository.lockReservation(trx, order_id);
  if (!reservation || reservation.status === 'released') {
    logger.info({ order_id, reservation: reservation?.status ?? 'none' }, 'nothing to release');
    return;
  }
  // Same lock order as a reservation, so a release and a reservation cannot deadlock.
  await repository.lockProducts(trx, reservation.items.map((line) => line.product_id));
  for (const line of reservation.items) await repository.addToStock(trx, line.product_id, line.quantity);
  await repository.markReservationReleased(trx, order_id);
  await emit('inventory.released', { order_id, user_id, user_email, items });
  logger.info({ order_id, lines: reservation.items.length }, 'reserved stock released');
}

/**
 * Quantities by product in id order, or why the order cannot be reserved at all. A product
 * listed twice must be checked against its stock as a whole, not line by line. A line no
 * product could match is a reason to reject, not an error: retrying would not make it valid.
 */
function totalsByProduct(items: readonly StockLine[]): Map<number, number> | string {
  if (items.length === 0) return 'the order has no items';
  const totals = new Map<number, number>();
  for (const { product_id, quantity } of items) {
    if (!Number.isInteger(product_id) || product_id < 1 || product_id > maxInt4) return `product ${product_id} does not exist`;
    if (!Number.isInteger(quantity) || quantity < 1) return `invalid quantity ${quantity} for product ${product_id}`;
    totals.set(product_id, (totals.get(product_id) ?? 0) + quantity);
  }
  return new Map([...totals].sort(([a], [b]) => a - b));
}

/** Why the locked stock cannot cover the order, or undefined when it can. */
function shortfall(requested: ReadonlyMap<number, number>, products: readonly repository.LockedProduct[]): string | undefined {
  const byId = new Map(products.map((product) => [product.id, product]));
  const problems: string[] = [];
  for (const [id, quantity] of requested) {
    const product = byId.get(id);
    if (!product) problems.push(`product ${id} does not exist`);
    else if (product.stock < quantity) problems.push(`insufficient stock for ${product.name}: ${quantity} requested, ${product.stock} available`);
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}
