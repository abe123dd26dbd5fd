import { messagingMigration, sql, type Kysely, type Migration } from '@scaleshop/platform';

export const migrations: Record<string, Migration> = {
  '0001_catalog': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('categories')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .execute();
      await db.schema
        .createTable('products')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('price', sql`numeric(12,2)`, (c) => c.notNull().check(sql`price >= 0`))
        .addColumn('stock', 'integer', (c) => c.notNull().check(sql`stock >= 0`))
        .addColumn('category_id', 'integer', (c) => c.notNull().references('categories.id'))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createIndex('products_category_id_idx').on('products').column('category_id').execute();
      // Every replica caches the catalog; this tells all of them, whoever made the change.
      await sql`
        create function notify_product_changed() returns trigger language plpgsql as $$
        begin
          perform pg_notify('product_changed', coalesce(new.id, old.id)::text);
          return null;
        end $$`.execute(db);
      await sql`
        create trigger product_changed after insert or update or delete on products
        for each row execute function notify_product_changed()`.execute(db);
    },
  },
  // New migrations go last: existing databases have applied 0001, and kysely refuses a name that sorts before an applied one.
  '0002_messaging': messagingMigration,
  '0003_reservations': {
    async up(db: Kysely<unknown>) {
      // One row per order whose stock was taken, so that a failed payment gives back exactly
      // what was taken, once: the items are the reservation's, not the compensating event's.
      await db.schema
        .createTable('reservations')
        .addColumn('order_id', 'uuid', (c) => c.primaryKey())
        .addColumn('items', 'jsonb', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('reserved').check(sql`status in ('reserved', 'released')`))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('released_at', 'timestamptz')
        .addCheckConstraint('reservations_released_at_check', sql`(status = 'released') = (released_at is not null)`)
        .execute();
    },
  },
};
