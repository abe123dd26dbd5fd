import type { Kysely } from '@scaleshop/platform';
import type { PaymentDatabase } from './schema.ts';

export interface Payment {
  id: string;
  order_id: string;
  amount: string;
  status: 'succeeded' | 'declined';
  reason: string | null;
  created_at: Date;
}

export interface NewPayment {
  order_id: string;
  user_id: string;
  amount: string;
  status: 'succeeded' | 'declined';
  reason: string | null;
}

type Db = Kysely<PaymentDatabase>;

/** Returns the new payment's id, or undefined when the order already has a payment. */
export async function insertPayment(db: Db, payment: NewPayment): Promise<string | undefined> {
  const inserted = await db
    .insertInto('payments')
    .values(payment)
    .onConflict((oc) => oc.column('order_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted?.id;
}

export async function findPayment(db: Db, orderId: string): Promise<Payment | undefined> {
  return db
    .selectFrom('payments')
    .select(['id', 'order_id', 'amount', 'status', 'reason', 'created_at'])
    .where('order_id', '=', orderId)
    .executeTakeFirst();
}
