import type { ColumnType, Generated, MessagingTables } from '@scaleshop/platform';

/** Where an order stands in the checkout saga; the last three are final. */
export const orderStatuses = ['pending', 'stock_reserved', 'paid', 'completed', 'rejected', 'payment_failed'] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export const finalStatuses: ReadonlySet<OrderStatus> = new Set(['completed', 'rejected', 'payment_failed']);

/** The order database as kysely sees it; kept in step with migrations.ts. */
export interface OrderDatabase extends MessagingTables {
  orders: {
    id: Generated<string>;
    user_id: string;
    user_email: string;
    status: OrderStatus;
    /** numeric(12,2): pg returns it as an exact decimal string. */
    total_amount: string;
    processing_duration_ms: number | null;
    failure_reason: string | null;
    /** The client's Idempotency-Key for the checkout that placed the order, unique per user. */
    idempotency_key: ColumnType<string | null, string | null | undefined, never>;
    /** The W3C trace id of the checkout request that placed the order; null when it ran untraced. */
    trace_id: ColumnType<string | null, string | null | undefined, never>;
    created_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, never, Date>;
  };
  /** A copy of each line as it was priced at checkout; later catalog changes do not touch it. */
  order_items: {
    order_id: string;
    product_id: number;
    name: string;
    price: string;
    quantity: number;
  };
  /** One row per status the order has been in, even a status it was not moved to because an event came late. */
  order_status_history: {
    order_id: string;
    status: OrderStatus;
    at: ColumnType<Date, never, never>;
  };
}
