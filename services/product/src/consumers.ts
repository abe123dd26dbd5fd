import type { HandlerMap } from '@scaleshop/platform';
import { releaseReservation, reserveStock } from './inventory.ts';
import type { ProductDatabase } from './schema.ts';

/** The product service's part in the checkout saga; the platform's consumer supplies the transaction. */
export const orderHandlers: HandlerMap<ProductDatabase, 'product.orders'> = {
  'order.created': (event, trx, { logger }) => reserveStock(trx, event.data, logger),
  'payment.failed': (event, trx, { logger }) => releaseReservation(trx, event.data, logger),
};
