import { env } from '@scaleshop/platform';

export const emailConfig = {
  ...env.serviceSettings(8003),
  ...env.databaseSettings(),
  // Handlers spend their time waiting on the provider, not on the database.
  ...env.messagingSettings({ prefetch: 100 }),
  /** Where mail is handed over; local mode's mail catcher listens on 1025 (`node scripts/mail-catcher.ts`). */
  SMTP_URL: env.url({ default: 'smtp://127.0.0.1:1025', protocols: ['smtp', 'smtps'] }),
  EMAIL_FROM: env.string('scaleshop <orders@scaleshop.local>'),
  /** Added before each send, standing in for a slow email provider. */
  EMAIL_LATENCY_MS: env.integer({ default: 2_000, min: 0 }),
};
