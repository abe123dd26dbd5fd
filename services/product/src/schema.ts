import type { ColumnType, Generated, MessagingTables } from '@scaleshop/platform';

/** A product and how many of it an order took; reservations keep these as jsonb. */
export interface StockLine {
  product_id: number;
  quantity: number;
}

/** The product database as kysely sees it; kept in step with migrations.ts. */
export interface ProductDatabase extends MessagingTables {
  categories: {
    id: Generated<number>;
    name: string;
  };
  products: {
    id: Generated<number>;
    name: string;
    description: string;
    /** numeric(12,2): pg returns it as an exact decimal string. */
    price: string;
    stock: number;
    category_id: number;
    created_at: ColumnType<Date, never, never>;
    updated_at: ColumnType<Date, never, Date>;
  };
  reservations: {
    order_id: string;
    /** Written as JSON text: pg would send a JS array as a Postgres array, not as JSON. */
    items: ColumnType<StockLine[], string, never>;
    status: ColumnType<'reserved' | 'released', never, 'released'>;
    created_at: ColumnType<Date, never, never>;
    released_at: ColumnType<Date | null, never, Date>;
  };
}
