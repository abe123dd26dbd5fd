import type { HandlerMap, Kysely, Logger } from '@scaleshop/platform';
import * as repository from './repository.ts';
import { orderStatuses, type OrderDatabase, type OrderStatus } from './schema.ts';

/**
 * How far along the saga each status is. The three final statuses share the top rank, so
 * nothing moves an order out of one, and a failure can end an order at any earlier point.
 */
const rank: Record<OrderStatus, number> = {
  pending: 0,
  stock_reserved: 1,
  paid: 2,
  completed: 3,
  rejected: 3,
  payment_failed: 3,
};

/**
 * Moves the order to `target` if that is ahead of where it is. Events may come twice, late
 * or out of order (a payment.processed handled before its inventory.reserved); such an
 * event leaves the status alone but still records its status in the history, so the
 * timeline shows every step the saga took.
 */
async function advance(trx: Kysely<OrderDatabase>, orderId: string, target: OrderStatus, logger: Logger, failureReason?: string): Promise<void> {
  const behind = orderStatuses.filter((status) => rank[status] < rank[target]);
  const { seen, moved } = await repository.advanceStatus(trx, orderId, target, behind, failureReason);
  // Every event names an order this service created; anything else is a bug somewhere, so
  // it is retried and then dead-lettered for someone to look at rather than dropped.
  if (seen === undefined) throw new Error(`order ${orderId} does not exist`);
  if (moved) logger.info({ order_id: orderId, from: seen, to: target }, 'order status changed');
  else logger.info({ order_id: orderId, status: seen, ignored_status: target }, 'order already at or past this status; kept');
}

export function createSagaHandlers(): HandlerMap<OrderDatabase, 'order.saga'> {
  return {
    'inventory.reserved': (event, trx, { logger }) => advance(trx, event.data.order_id, 'stock_reserved', logger),
    'inventory.rejected': (event, trx, { logger }) => advance(trx, event.data.order_id, 'rejected', logger, event.data.reason),
    'payment.processed': (event, trx, { logger }) => advance(trx, event.data.order_id, 'paid', logger),
    'payment.failed': (event, trx, { logger }) => advance(trx, event.data.order_id, 'payment_failed', logger, event.data.reason),
    async 'email.sent'(event, trx, { logger }) {
      if (event.data.kind === 'confirmation') return advance(trx, event.data.order_id, 'completed', logger);
      // A failure notice follows a status already set by the failure itself.
      if (!(await repository.orderExists(trx, event.data.order_id))) throw new Error(`order ${event.data.order_id} does not exist`);
    },
  };
}
