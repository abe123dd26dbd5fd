import type { Kysely } from '@scaleshop/platform';
import type { EmailDatabase, EmailKind } from './schema.ts';

export interface EmailRecord {
  order_id: string;
  kind: EmailKind;
  recipient: string;
  subject: string;
  message_id: string;
  status: 'sending' | 'sent';
  sent_at: Date | null;
}

export interface EmailIdentity {
  order_id: string;
  kind: EmailKind;
  recipient: string;
  subject: string;
  message_id: string;
}

type Db = Kysely<EmailDatabase>;

/** Only the columns: callers pass richer objects, and a spread would carry their other fields into the insert. */
const identityOf = ({ order_id, kind, recipient, subject, message_id }: EmailIdentity): EmailIdentity => ({ order_id, kind, recipient, subject, message_id });

const columns = ['order_id', 'kind', 'recipient', 'subject', 'message_id', 'status', 'sent_at'] as const;

export async function listEmails(db: Db, orderId: string): Promise<EmailRecord[]> {
  return db.selectFrom('emails').select(columns).where('order_id', '=', orderId).orderBy('created_at').orderBy('kind').execute();
}

/**
 * Records that the email is about to be handed to SMTP, unless a row exists already (left as
 * it is), and says whether it was sent before: one statement for the check and the claim.
 */
export async function claimEmail(db: Db, email: EmailIdentity): Promise<{ sentBefore: boolean }> {
  const { order_id, kind } = email;
  const row = await db
    .with('claimed', (qb) =>
      qb
        .insertInto('emails')
        .values({ ...identityOf(email), status: 'sending' })
        .onConflict((oc) => oc.columns(['order_id', 'kind']).doNothing())
        .returning('status'),
    )
    .selectNoFrom((eb) => eb.selectFrom('emails').select('status').where('order_id', '=', order_id).where('kind', '=', kind).as('existing'))
    .executeTakeFirstOrThrow();
  return { sentBefore: row.existing === 'sent' };
}

/**
 * Marks the email sent, creating the row should it be missing. Returns false when it was
 * sent already: under a concurrent update the condition is checked again on the committed
 * row, so of two transactions only one moves it to 'sent'.
 */
export async function markSent(db: Db, email: EmailIdentity, sentAt: Date): Promise<boolean> {
  const updated = await db
    .insertInto('emails')
    .values({ ...identityOf(email), status: 'sent', sent_at: sentAt })
    .onConflict((oc) =>
      oc
        .columns(['order_id', 'kind'])
        .doUpdateSet((eb) => ({ status: 'sent', sent_at: eb.ref('excluded.sent_at'), message_id: eb.ref('excluded.message_id') }))
        .where('emails.status', '<>', 'sent'),
    )
    .returning('order_id')
    .executeTakeFirst();
  return updated !== undefined;
}
