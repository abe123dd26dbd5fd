import nodemailer from 'nodemailer';
import { withSpan } from '@scaleshop/platform';

export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** With angle brackets: "<local@domain>". */
  messageId: string;
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
  close(): Promise<void>;
}

/**
 * One pooled SMTP transport for the process: connections are kept and reused, instead of a
 * connect, greeting and handshake for every email. nodemailer waits minutes by default for a
 * server that does not answer; these bounds make such a send fail soon and go through the
 * retry queues, instead of holding a consumer slot.
 */
export function createMailer(smtpUrl: string): Mailer {
  const smtpHost = new URL(smtpUrl).hostname;
  const transport = nodemailer.createTransport({
    url: smtpUrl,
    pool: true,
    maxConnections: 5,
    maxMessages: 1_000,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(mail) {
      // No instrumentation covers nodemailer: the hand-over to SMTP gets a span of its own.
      await withSpan('smtp send', { 'email.message_id': mail.messageId, 'server.address': smtpHost }, async () => {
        await transport.sendMail(mail);
      });
    },
    async close() {
      transport.close();
    },
  };
}
