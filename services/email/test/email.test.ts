import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Database, type EventData, type OrderLine } from '@scaleshop/platform';
import { freePort } from '../../../scripts/local-shop.ts';
import { startMailCatcher, type CaughtMail, type MailCatcher } from '../../../scripts/mail-catcher.ts';
import { createEmailService } from '../src/app.ts';
import { emailConfig } from '../src/config.ts';
import type { EmailDatabase } from '../src/schema.ts';
import { envelopeOf, startServiceHarness, testLogger, waitFor, type ServiceHarness } from '@scaleshop/platform/testing';

const items: OrderLine[] = [
  { product_id: 1, name: 'Gaming Laptop', price: '1299.99', quantity: 2 },
  { product_id: 7, name: 'Gel Pen Pack', price: '8.49', quantity: 3 },
];

let buyers = 0;
function party() {
  buyers++;
  return { order_id: randomUUID(), user_id: randomUUID(), user_email: `buyer${buyers}@example.com` };
}

const processedPayment = (): EventData['payment.processed'] => ({ ...party(), items, total_amount: '2625.45', payment_id: randomUUID() });


type Harness = ServiceHarness<EmailDatabase>;

/** An email service on a database and a broker virtual host of its own, consuming already. */
const startHarness = (label: string, smtpPort: number, overrides: Record<string, string> = {}): Promise<Harness> =>
  startServiceHarness({
    label,
    observe: ['email.*'],
    consumes: 'email.notifications',
    start: (environment) =>
      createEmailService(loadConfig(emailConfig, { ...environment, SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, EMAIL_LATENCY_MS: '0', ...overrides }), testLogger('email')),
  });

const processed = (db: Database<EmailDatabase>, eventId: string) =>
  db.db.selectFrom('processed_events').select('event_id').where('event_id', '=', eventId).executeTakeFirst();

describe('email service', () => {
  let catcher: MailCatcher;
  let harness: Harness;
  const caughtFor = (orderId: string): CaughtMail[] => catcher.messages().filter((mail) => mail.subject.includes(orderId));

  before(async () => {
    catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
    harness = await startHarness('email', catcher.smtpPort);
  });
  after(async () => {
    await harness?.close();
    await catcher?.close();
  });

  test('health: ready when the database answers and its consumer is attached; the broker is optional', async () => {
    const ready = await harness.app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready', checks: { database: true, consumers: true }, optional: { broker: true } });
  });

  test("health in local mode's setting: the consumer is left out of readiness", async () => {
    const local = await startHarness('email_local', catcher.smtpPort, { READINESS_WAITS_FOR_CONSUMERS: 'false' });
    try {
      const ready = await local.app.inject({ url: '/health/ready' });
      assert.equal(ready.statusCode, 200);
      assert.deepEqual(ready.json(), { status: 'ready', checks: { database: true }, optional: { broker: true } });
    } finally {
      await local.close();
    }
  });

  test('payment.processed sends one confirmation, records it and announces email.sent', async () => {
    const data = processedPayment();
    await harness.broker.publish(envelopeOf('payment.processed', data));
    const event = await harness.broker.nextEventFor(data.order_id);

    const mails = caughtFor(data.order_id);
    assert.equal(mails.length, 1);
    const [mail] = mails;
    assert.ok(mail);
    const messageId = `<order-${data.order_id}-confirmation@scaleshop.local>`;
    assert.equal(mail.subject, `Order ${data.order_id} confirmed`);
    assert.equal(mail.to, data.user_email);
    assert.deepEqual(mail.envelope.to, [data.user_email]);
    assert.equal(mail.from, 'scaleshop <orders@scaleshop.local>');
    assert.equal(mail.message_id, messageId);
    for (const line of ['2 x Gaming Laptop at 1299.99 = 2599.98', '3 x Gel Pen Pack at 8.49 = 25.47', 'Total: 2625.45', data.order_id]) {
      assert.ok(mail.text.includes(line), `body mentions "${line}":\n${mail.text}`);
    }

    assert.equal(event.type, 'email.sent');
    assert.deepEqual(event.data, {
      order_id: data.order_id,
      user_id: data.user_id,
      user_email: data.user_email,
      kind: 'confirmation',
      recipient: data.user_email,
      subject: `Order ${data.order_id} confirmed`,
      message_id: messageId,
    });

    const response = await harness.app.inject({ url: `/emails?order_id=${data.order_id}` });
    assert.equal(response.statusCode, 200);
    const [row, ...others] = response.json().items;
    assert.equal(others.length, 0);
    assert.ok(Math.abs(Date.parse(row.sent_at) - Date.now()) < 60_000);
    assert.deepEqual(
      { ...row, sent_at: undefined },
      { order_id: data.order_id, kind: 'confirmation', recipient: data.user_email, subject: `Order ${data.order_id} confirmed`, message_id: messageId, status: 'sent', sent_at: undefined },
    );
  });

  test('inventory.rejected sends a failure email with the reason', async () => {
    const data: EventData['inventory.rejected'] = { ...party(), items, total_amount: '2625.45', reason: 'only 1 of Gaming Laptop in stock' };
    await harness.broker.publish(envelopeOf('inventory.rejected', data));
    const event = await harness.broker.nextEventFor(data.order_id);
    const mails = caughtFor(data.order_id);
    assert.equal(mails.length, 1);
    assert.equal(mails[0]?.subject, `Order ${data.order_id} could not be completed`);
    assert.equal(mails[0]?.to, data.user_email);
    assert.equal(mails[0]?.message_id, `<order-${data.order_id}-failure@scaleshop.local>`);
    assert.ok(mails[0]?.text.includes('only 1 of Gaming Laptop in stock'), mails[0]?.text);
    assert.equal(event.type, 'email.sent');
    assert.equal((event.data as EventData['email.sent']).kind, 'failure');
    const rows = (await harness.app.inject({ url: `/emails?order_id=${data.order_id}` })).json().items;
    assert.deepEqual(rows.map((row: { kind: string; status: string }) => [row.kind, row.status]), [['failure', 'sent']]);
  });

  test('payment.failed sends a failure email with the reason', async () => {
    const data: EventData['payment.failed'] = { ...party(), items, total_amount: '2625.45', reason: 'card declined by the issuer' };
    await harness.broker.publish(envelopeOf('payment.failed', data));
    const event = await harness.broker.nextEventFor(data.order_id);
    const mails = caughtFor(data.order_id);
    assert.equal(mails.length, 1);
    assert.equal(mails[0]?.subject, `Order ${data.order_id} could not be completed`);
    assert.ok(mails[0]?.text.includes('card declined by the issuer'), mails[0]?.text);
    assert.deepEqual([event.type, (event.data as EventData['email.sent']).kind], ['email.sent', 'failure']);
  });

  test('the same event redelivered sends one email and announces it once', async () => {
    const data = processedPayment();
    const envelope = envelopeOf('payment.processed', data);
    // Twice back to back, so the deliveries are in flight together, and once after.
    await Promise.all([harness.broker.publish(envelope), harness.broker.publish(envelope)]);
    await harness.broker.nextEventFor(data.order_id);
    await harness.broker.publish(envelope);
    await sleep(500);
    assert.equal(caughtFor(data.order_id).length, 1);
    assert.deepEqual(harness.broker.eventsFor(data.order_id).map((event) => event.type), ['email.sent']);
  });

  test('another event asking for an email already sent sends nothing', async () => {
    const data = processedPayment();
    await harness.broker.publish(envelopeOf('payment.processed', data));
    await harness.broker.nextEventFor(data.order_id);
    const second = envelopeOf('payment.processed', data);
    await harness.broker.publish(second);
    await waitFor('the second event to be handled', () => processed(harness.db, second.id));
    await sleep(200);
    assert.equal(caughtFor(data.order_id).length, 1);
    assert.equal(harness.broker.eventsFor(data.order_id).length, 1);
  });

  test('GET /emails lists nothing for an unknown order and answers 400 without a valid order_id', async () => {
    const none = await harness.app.inject({ url: `/emails?order_id=${randomUUID()}` });
    assert.equal(none.statusCode, 200);
    assert.deepEqual(none.json(), { items: [] });
    for (const url of ['/emails', '/emails?order_id=42']) {
      const response = await harness.app.inject({ url });
      assert.equal(response.statusCode, 400, url);
      assert.match(response.json().error.message, /order_id/);
    }
  });
});

describe('email service while the SMTP server is down', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness('email_down', await freePort());
  });
  after(async () => {
    await harness?.close();
  });

  test('retries the email and, after the last retry, dead-letters the event without announcing anything', async () => {
    const data = processedPayment();
    const envelope = envelopeOf('payment.processed', data);
    await harness.broker.publish(envelope);
    await waitFor('the event in email.notifications.dlq', async () => ((await harness.broker.inspect('email.notifications.dlq'))?.messageCount ?? 0) === 1);

    const parked = await harness.broker.take('email.notifications.dlq');
    assert.ok(parked);
    assert.equal(parked.event.id, envelope.id);
    // Tried three times, the first delivery and one per retry delay; the header counts the attempt it would be next.
    assert.equal(parked.headers['x-attempt'], 4);
    assert.match(String(parked.headers['x-last-error']), /ECONNREFUSED|connect/i);
    assert.equal(await processed(harness.db, envelope.id), undefined);
    assert.deepEqual(harness.broker.eventsFor(data.order_id), []);
    const rows = (await harness.app.inject({ url: `/emails?order_id=${data.order_id}` })).json().items;
    assert.deepEqual(rows.map((row: { status: string; sent_at: string | null }) => [row.status, row.sent_at]), [['sending', null]]);
  });
});

describe('email service when the SMTP server comes back', () => {
  let harness: Harness;
  let catcher: MailCatcher | undefined;
  let smtpPort: number;
  before(async () => {
    smtpPort = await freePort();
    harness = await startHarness('email_back', smtpPort, { RETRY_DELAYS_MS: '300,300,300,300,300,300,300,300' });
  });
  after(async () => {
    await harness?.close();
    await catcher?.close();
  });

  test('the email is sent on a later attempt, once', async () => {
    const data = processedPayment();
    await harness.broker.publish(envelopeOf('payment.processed', data));
    // The claim is written just before the first attempt fails.
    await waitFor('the first attempt', async () => {
      const rows = (await harness.app.inject({ url: `/emails?order_id=${data.order_id}` })).json().items;
      return rows.length > 0;
    });
    catcher = await startMailCatcher({ smtpPort, httpPort: 0 });
    const event = await harness.broker.nextEventFor(data.order_id, 10_000);
    assert.equal(event.type, 'email.sent');
    assert.equal(catcher.messages().filter((mail) => mail.subject.includes(data.order_id)).length, 1);
    assert.equal((await harness.broker.inspect('email.notifications.dlq'))?.messageCount, 0);
  });
});
