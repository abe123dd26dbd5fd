import { messagingMigration, runtimeKnobsMigration, sql, type Kysely, type Migration } from '@scaleshop/platform';

export const migrations: Record<string, Migration> = {
  '0001_messaging': messagingMigration,
  '0002_emails': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('emails')
        .addColumn('order_id', 'uuid', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('confirmation', 'failure')`))
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('sending', 'sent')`))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('sent_at', 'timestamptz')
        .addPrimaryKeyConstraint('emails_pkey', ['order_id', 'kind'])
        .execute();
    },
  },
  '0003_runtime_knobs': runtimeKnobsMigration,
};
