import { messagingMigration, runtimeKnobsMigration, sql, type Kysely, type Migration } from '@scaleshop/platform';

export const migrations: Record<string, Migration> = {
  '0001_messaging': messagingMigration,
  '0002_payments': {
    async up(db: Kysely<unknown>) {
      // order_id is unique: an order is charged at most once, whatever the broker redelivers.
      await db.schema
        .createTable('payments')
        .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
        .addColumn('order_id', 'uuid', (c) => c.notNull().unique())
        .addColumn('user_id', 'uuid', (c) => c.notNull())
        .addColumn('amount', sql`numeric(12,2)`, (c) => c.notNull().check(sql`amount >= 0`))
        .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('succeeded', 'declined')`))
        .addColumn('reason', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
  '0003_runtime_knobs': runtimeKnobsMigration,
};
