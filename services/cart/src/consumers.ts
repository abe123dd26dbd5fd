import type { HandlerMap } from '@scaleshop/platform';
import { removeOrderedItems } from './checkout.ts';
import type { CartDatabase } from './schema.ts';

/** The cart's part in the checkout saga; the platform's consumer supplies the transaction. */
export const orderHandlers: HandlerMap<CartDatabase, 'cart.orders'> = {
  'order.created': (event, trx, { logger }) => removeOrderedItems(trx, event.data, logger),
};
