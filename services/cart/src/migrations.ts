import { messagingMigration, sql, type Kysely, type Migration } from '@scaleshop/platform';

export const migrations: Record<string, Migration> = {
  '0001_cart_items': {
    async up(db: Kysely<unknown>) {
      // product_id refers to the product service's database, so it cannot be a foreign key here;
      // an item whose product has gone is left out of the cart view instead.
      await db.schema
        .createTable('cart_items')
        .addColumn('user_id', 'uuid', (c) => c.notNull())
        .addColumn('product_id', 'integer', (c) => c.notNull())
        .addColumn('quantity', 'integer', (c) => c.notNull().check(sql`quantity > 0`))
        .addColumn('added_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('cart_items_pkey', ['user_id', 'product_id'])
        .execute();
    },
  },
  // New migrations go last: existing databases have applied 0001, and kysely refuses a name that sorts before an applied one.
  '0002_messaging': messagingMigration,
};
