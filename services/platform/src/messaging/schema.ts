import { sql, type Kysely, type Migration } from 'kysely';

/**
 * The messaging tables every service in the saga keeps in its own database: the outbox its
 * writes go through, and the events its consumers have handled. Each service lists this
 * migration among its own, after those its database already ran.
 */

/** Events written in the same transaction as the state change that caused them; relays publish them afterwards. */
async function createOutbox(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('outbox')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('envelope', 'jsonb', (c) => c.notNull())
    .addColumn('headers', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
    .addColumn('published_at', 'timestamptz')
    // The end of the row's lease: until then only its holder (a relay, or the writer) publishes it.
    .addColumn('claimed_until', 'timestamptz')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .execute();
  await sql`create index outbox_unpublished on outbox (created_at) where published_at is null`.execute(db);
}

/** One row per event a consumer has applied: a redelivery finds its row and changes nothing. */
async function createProcessedEvents(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('processed_events')
    .addColumn('consumer', 'text', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('processed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('processed_events_pkey', ['consumer', 'event_id'])
    .execute();
}

export const messagingMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await createOutbox(db);
    await createProcessedEvents(db);
  },
};

export interface MessagingTables {
  outbox: {
    id: string;
    type: string;
    envelope: unknown;
    headers: unknown;
    created_at: Date;
    published_at: Date | null;
    claimed_until: Date | null;
    attempts: number;
    last_error: string | null;
  };
  processed_events: {
    consumer: string;
    event_id: string;
    event_type: string;
    processed_at: Date;
  };
}
