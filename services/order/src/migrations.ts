import { messagingMigration, sql, type Kysely, type Migration } from '@scaleshop/platform';

export const migrations: Record<string, Migration> = {
  '0001_messaging': messagingMigration,
  '0002_orders': {
    async up(db: Kysely<unknown>) {
      const statuses = sql`('pending', 'stock_reserved', 'paid', 'completed', 'rejected', 'payment_failed')`;
      await db.schema
        .createTable('orders')
        .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
        .addColumn('user_id', 'uuid', (c) => c.notNull())
        .addColumn('user_email', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ${statuses}`))
        .addColumn('total_amount', sql`numeric(12,2)`, (c) => c.notNull().check(sql`total_amount >= 0`))
        .addColumn('processing_duration_ms', 'integer')
        .addColumn('failure_reason', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      // Serves "my orders, newest first" without a sort.
      await sql`create index orders_user_id_created_at_idx on orders (user_id, created_at desc)`.execute(db);
      // product_id refers to the product service's database, so it cannot be a foreign key here.
      await db.schema
        .createTable('order_items')
        .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id').onDelete('cascade'))
        .addColumn('product_id', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('price', sql`numeric(12,2)`, (c) => c.notNull().check(sql`price >= 0`))
        .addColumn('quantity', 'integer', (c) => c.notNull().check(sql`quantity > 0`))
        .addPrimaryKeyConstraint('order_items_pkey', ['order_id', 'product_id'])
        .execute();
      // clock_timestamp(), not now(): two statuses recorded in one transaction still get distinct times.
      await db.schema
        .createTable('order_status_history')
        .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id').onDelete('cascade'))
        .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ${statuses}`))
        .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
        .addPrimaryKeyConstraint('order_status_history_pkey', ['order_id', 'status'])
        .execute();
    },
  },
  '0003_idempotency_keys': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('orders').addColumn('idempotency_key', 'text').execute();
      // Per user: a key is the client's, and two clients may well pick the same one.
      await sql`create unique index orders_user_id_idempotency_key_idx on orders (user_id, idempotency_key) where idempotency_key is not null`.execute(db);
    },
  },
  '0004_trace_id': {
    async up(db: Kysely<unknown>) {
      // Null when the checkout ran without tracing, and for every order placed before this column.
      await db.schema.alterTable('orders').addColumn('trace_id', 'text').execute();
    },
  },
};
