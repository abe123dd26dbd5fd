import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createDatabase, migrateToLatest, type Database, type EventEnvelope } from '@scaleshop/platform';
import { createTestDatabase, testLogger, type TestDatabase } from '@scaleshop/platform/testing';
import { migrations } from '../src/migrations.ts';
import { createNotifications } from '../src/notifications.ts';
import type { EmailDatabase } from '../src/schema.ts';

const logger = testLogger('email');
let database: TestDatabase;
let db: Database<EmailDatabase>;

before(async () => {
  database = await createTestDatabase('notifications');
  db = createDatabase<EmailDatabase>({ url: database.url, poolMax: 2, logger, applicationName: 'test' });
  await migrateToLatest(db.db, migrations, logger);
});
after(async () => {
  await db.close();
  await database.drop();
});

test('a delivery arriving after the SMTP hand-over but before the commit does not send again', async () => {
  const sent: string[] = [];
  const notifications = createNotifications({
    db: db.db,
    mailer: { send: async (mail) => void sent.push(mail.messageId), close: async () => {} },
    from: 'shop@example.com',
    latencyMs: 0,
  });
  const orderId = randomUUID();
  const event: EventEnvelope = {
    id: randomUUID(),
    type: 'payment.processed',
    occurred_at: new Date().toISOString(),
    data: { order_id: orderId, user_id: randomUUID(), user_email: 'a@example.com', items: [], total_amount: '1.00', payment_id: randomUUID() },
  };
  const first = await notifications.send(event, logger);
  // The first delivery's transaction has not committed: the row still says 'sending'.
  const second = await notifications.send(event, logger);
  assert.equal(sent.length, 1);
  assert.deepEqual(second, first);
  notifications.settle(event);
  notifications.settle(event);
});
