import type { HandlerMap } from '@scaleshop/platform';
import { releaseReservation, reserveStock } from './inventory.ts';
import type { ProductDatabase } from './schema.ts';

/** The product service's part in the checkout saga; the platform's consumer supplies the transaction. */
export const orderHandlers: HandlerMap<ProductDatabase, 'product.orders'> = {
  'order.created': (event, trx, context) => reserveStock(trx, event.data, context),
  'payment.failed': (event, trx, context) => releaseReservation(trx, event.data, context),
};
