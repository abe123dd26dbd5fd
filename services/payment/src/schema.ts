import type { ColumnType, Generated, MessagingTables } from '@scaleshop/platform';

/** The payment database as kysely sees it; kept in step with migrations.ts. */
export interface PaymentDatabase extends MessagingTables {
  /** One row per order: the outcome of its one charge. */
  payments: {
    id: Generated<string>;
    order_id: string;
    user_id: string;
    /** numeric(12,2): pg returns it as an exact decimal string. */
    amount: string;
    status: 'succeeded' | 'declined';
    reason: string | null;
    created_at: ColumnType<Date, never, never>;
  };
}
