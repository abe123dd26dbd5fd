import type { ColumnType, MessagingTables } from '@scaleshop/platform';

/** The cart database as kysely sees it; kept in step with migrations.ts. */
export interface CartDatabase extends MessagingTables {
  /** A user's cart is the set of that user's rows; there is no cart row of its own. */
  cart_items: {
    user_id: string;
    product_id: number;
    quantity: number;
    added_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, never, Date>;
  };
}
