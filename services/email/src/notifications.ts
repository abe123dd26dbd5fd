import { setTimeout as sleep } from 'node:timers/promises';
import { isUuid, money, type EventData, type EventEnvelope, type EventHandler, type Kysely, type Logger, type OrderLine } from '@scaleshop/platform';
import type { Mailer } from './mailer.ts';
import * as repository from './repository.ts';
import type { EmailDatabase, EmailKind } from './schema.ts';

/** The events that end in an email, all consumed from email.notifications. */
export type NotifyingEvent = 'payment.processed' | 'inventory.rejected' | 'payment.failed';

export interface Email {
  order_id: string;
  user_id: string;
  user_email: string;
  kind: EmailKind;
  recipient: string;
  subject: string;
  text: string;
  message_id: string;
}

/** An email as the service recorded it. */
export type EmailView = repository.EmailRecord;

/** What `send` hands the transaction: the email it put on the wire, or nothing when it was sent before. */
type Delivery = { sent: true; email: Email; sentAt: Date } | { sent: false };

/**
 * Sending an email and recording it cannot be one transaction, as SMTP is not part of the
 * database. `send` runs before the transaction: unless the row says the email went out
 * already, it claims the row ('sending', committed at once), waits the provider's latency
 * and hands the message to SMTP. `record` then marks the row 'sent' and enqueues email.sent
 * in the consumer's transaction, so the event is announced exactly once, by whichever
 * transaction moved the row to 'sent'.
 *
 * The window left: a crash after the SMTP server accepted the message and before that commit
 * leaves the event unprocessed and the row 'sending', so the event is redelivered and the
 * email sent again, but with the same Message-ID, derived from the order and the kind, which
 * receiving mail systems use to drop the duplicate. The same holds for two replicas handed
 * the same event at once. Within one replica, every delivery of one email shares one SMTP
 * hand-over until the transactions that record it are over — not only until SMTP answered,
 * or a redelivery arriving between the hand-over and the commit would find the row still
 * 'sending' and send again.
 */
export interface Notifications {
  send(event: EventEnvelope, logger: Logger): Promise<Delivery>;
  /** The event's transaction is over: a later delivery may now read the outcome from the database. */
  settle(event: EventEnvelope): void;
  record: EventHandler<EmailDatabase, NotifyingEvent>;
  listEmails(orderId: string): Promise<EmailView[]>;
}

/** `latencyMs` is read at every send (it may be a getter over the run-time knobs). */
export function createNotifications(options: { db: Kysely<EmailDatabase>; mailer: Mailer; from: string; latencyMs: number }): Notifications {
  const { db, mailer, from } = options;
  const inFlight = new Map<string, { delivery: Promise<Delivery>; holders: number }>();
  const keyOf = (email: Pick<Email, 'order_id' | 'kind'>) => `${email.order_id}/${email.kind}`;

  const deliver = async (email: Email, logger: Logger): Promise<Delivery> => {
    if ((await repository.claimEmail(db, email)).sentBefore) {
      logger.info({ order_id: email.order_id, kind: email.kind }, 'email sent before; not sending again');
      return { sent: false };
    }
    const latencyMs = options.latencyMs;
    if (latencyMs > 0) await sleep(latencyMs);
    await mailer.send({ from, to: email.recipient, subject: email.subject, text: email.text, messageId: email.message_id });
    logger.info({ order_id: email.order_id, kind: email.kind, message_id: email.message_id }, 'email handed to SMTP');
    return { sent: true, email, sentAt: new Date() };
  };

  return {
    async send(event, logger) {
      const email = composeEmail(event as EventEnvelope<EventData[NotifyingEvent]>);
      const key = keyOf(email);
      const pending = inFlight.get(key);
      if (pending) {
        pending.holders++;
        return pending.delivery;
      }
      const entry = { delivery: deliver(email, logger), holders: 1 };
      inFlight.set(key, entry);
      return entry.delivery;
    },

    settle(event) {
      let key: string;
      try {
        key = keyOf(composeEmail(event as EventEnvelope<EventData[NotifyingEvent]>));
      } catch {
        return; // never got as far as sending
      }
      const entry = inFlight.get(key);
      if (entry && --entry.holders <= 0) inFlight.delete(key);
    },

    async record(_event, trx, { logger, prepared, emit }) {
      const delivery = prepared as Delivery | undefined;
      if (!delivery) throw new Error('nothing was sent: the consumer must run send() as its prepare step');
      if (!delivery.sent) return;
      const { email } = delivery;
      if (!(await repository.markSent(trx, email, delivery.sentAt))) {
        logger.info({ order_id: email.order_id, kind: email.kind }, 'email recorded as sent already; not announcing it again');
        return;
      }
      const { order_id, user_id, user_email, kind, recipient, subject, message_id } = email;
      await emit('email.sent', { order_id, user_id, user_email, kind, recipient, subject, message_id });
    },

    listEmails: (orderId) => repository.listEmails(db, orderId),
  };
}

export const messageIdOf = (orderId: string, kind: EmailKind) => `<order-${orderId.toLowerCase()}-${kind}@scaleshop.local>`;

/** The email an event calls for. Throws on an event that cannot be mailed, which dead-letters it after the retries. */
export function composeEmail(event: EventEnvelope<EventData[NotifyingEvent]>): Email {
  const { order_id, user_id, user_email } = event.data;
  // The order id goes into the subject and the Message-ID, so it must be what it claims to be.
  if (typeof order_id !== 'string' || !isUuid(order_id)) throw new Error(`event ${event.id} has no valid order_id`);
  if (typeof user_email !== 'string' || !user_email.includes('@')) throw new Error(`event ${event.id} has no recipient (user_email)`);
  const kind: EmailKind = event.type === 'payment.processed' ? 'confirmation' : 'failure';
  const base = { order_id, user_id, user_email, kind, recipient: user_email, message_id: messageIdOf(order_id, kind) };
  if (kind === 'confirmation') {
    const data = event.data as EventData['payment.processed'];
    return { ...base, subject: `Order ${order_id} confirmed`, text: confirmationText(data) };
  }
  const data = event.data as EventData['inventory.rejected'] | EventData['payment.failed'];
  return { ...base, subject: `Order ${order_id} could not be completed`, text: failureText(data) };
}

function confirmationText(data: EventData['payment.processed']): string {
  return [
    `Thank you for your order ${data.order_id}: it is paid and confirmed.`,
    '',
    ...lines(data.items),
    '',
    `Total: ${data.total_amount}`,
    `Payment: ${data.payment_id}`,
    '',
    '-- scaleshop',
  ].join('\n');
}

function failureText(data: EventData['inventory.rejected'] | EventData['payment.failed']): string {
  return [
    `We are sorry: your order ${data.order_id} could not be completed.`,
    '',
    `Reason: ${data.reason}`,
    '',
    'You have not been charged for it.',
    '',
    '-- scaleshop',
  ].join('\n');
}

function lines(items: readonly OrderLine[]): string[] {
  return items.map((item) => `  ${item.quantity} x ${item.name} at ${item.price} = ${money.multiply(item.price, item.quantity)}`);
}
