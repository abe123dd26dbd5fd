import type { EventData, Kysely, Logger } from '@scaleshop/platform';
import * as repository from './repository.ts';
import type { CartDatabase } from './schema.ts';

/**
 * Once an order is placed, what it bought leaves the buyer's cart, and only that: a product
 * put in the cart while the order was on its way was not bought and stays. Removing is
 * idempotent, so a redelivered or republished order changes nothing more.
 */
export async function removeOrderedItems(db: Kysely<CartDatabase>, order: EventData['order.created'], logger: Logger): Promise<void> {
  const removed = await repository.removeItems(db, order.user_id, order.items.map((item) => item.product_id));
  logger.info({ order_id: order.order_id, removed }, 'ordered products removed from the cart');
}
