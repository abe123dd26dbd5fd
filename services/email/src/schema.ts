import type { ColumnType, MessagingTables } from '@scaleshop/platform';

export type EmailKind = 'confirmation' | 'failure';

/** The email database as kysely sees it; kept in step with migrations.ts. */
export interface EmailDatabase extends MessagingTables {
  /** At most one email of each kind per order: the row is what keeps a redelivery from mailing twice. */
  emails: {
    order_id: string;
    kind: EmailKind;
    recipient: string;
    subject: string;
    message_id: string;
    /** 'sending' from just before the SMTP hand-over until the commit that records it. */
    status: 'sending' | 'sent';
    created_at: ColumnType<Date, never, never>;
    sent_at: Date | null;
  };
}
