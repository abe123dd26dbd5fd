import type { ColumnType, Generated } from '@scaleshop/platform';

/** The product database as kysely sees it; kept in step with migrations.ts. */
export interface ProductDatabase {
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
}
