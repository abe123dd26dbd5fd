import { money, notFound, type EventData, type EventEnvelope, type EventHandler, type Kysely, type Logger } from '@scaleshop/platform';
import type { ChargeResult, PaymentProvider } from './provider.ts';
import * as repository from './repository.ts';
import type { PaymentDatabase } from './schema.ts';

export interface PaymentView {
  order_id: string;
  amount: string;
  status: 'succeeded' | 'declined';
  reason: string | null;
  created_at: Date;
}

/**
 * The payment step of the checkout saga, split in two for the consumer: `charge` calls the
 * provider before any transaction opens, so no database connection waits on it, and
 * `recordCharge` stores the outcome and its event in the consumer's transaction.
 */
export interface Payments {
  charge(event: EventEnvelope, logger: Logger): Promise<ChargeResult>;
  recordCharge: EventHandler<PaymentDatabase, 'inventory.reserved'>;
  getPayment(orderId: string): Promise<PaymentView>;
}

export function createPayments(db: Kysely<PaymentDatabase>, provider: PaymentProvider): Payments {
  return {
    async charge(event, logger) {
      const { order_id, total_amount } = event.data as EventData['inventory.reserved'];
      // Checked here, as the provider would reject it too, but with a message that names the event.
      if (typeof total_amount !== 'string' || !money.isMoney(total_amount)) {
        throw new Error(`order ${order_id} has no valid total_amount: ${JSON.stringify(total_amount)}`);
      }
      const result = await provider.charge({ order_id, amount: total_amount });
      logger.info({ order_id, amount: total_amount, ...result }, result.status === 'succeeded' ? 'charge succeeded' : 'charge declined');
      return result;
    },

    async recordCharge(event, trx, { logger, prepared, emit }) {
      const result = prepared as ChargeResult | undefined;
      if (!result) throw new Error('no charge result: the consumer must run charge() as its prepare step');
      const { order_id, user_id, user_email, items, total_amount } = event.data;
      const paymentId = await repository.insertPayment(trx, {
        order_id,
        user_id,
        amount: total_amount,
        status: result.status,
        reason: result.status === 'declined' ? result.reason : null,
      });
      // The order was settled by an earlier event (another envelope for the same order):
      // its outcome was announced then, and announcing this one could contradict it.
      if (paymentId === undefined) {
        logger.warn({ order_id }, 'order already has a payment; nothing new to announce');
        return;
      }
      if (result.status === 'succeeded') {
        await emit('payment.processed', { order_id, user_id, user_email, items, total_amount, payment_id: paymentId });
      } else {
        await emit('payment.failed', { order_id, user_id, user_email, items, total_amount, reason: result.reason });
      }
    },

    async getPayment(orderId) {
      const payment = await repository.findPayment(db, orderId);
      if (!payment) throw notFound(`no payment for order ${orderId}`, 'PAYMENT_NOT_FOUND');
      return { order_id: payment.order_id, amount: money.normalize(payment.amount), status: payment.status, reason: payment.reason, created_at: payment.created_at };
    },
  };
}
