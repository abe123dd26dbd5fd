import { env } from '@scaleshop/platform';

export const paymentConfig = {
  ...env.serviceSettings(8002),
  ...env.databaseSettings(),
  // Handlers spend their time waiting on the provider, not on the database.
  ...env.messagingSettings({ prefetch: 100 }),
  /** How long the simulated provider takes to answer a charge. */
  PAYMENT_LATENCY_MS: env.integer({ default: 1_000, min: 0 }),
  /** Charges above this amount are declined, so the failure path can be tried on purpose. */
  PAYMENT_DECLINE_OVER: env.amount('10000.00'),
  /** Share of the remaining charges declined at random, 0 to 1. */
  PAYMENT_FAILURE_RATE: env.number({ default: 0, min: 0, max: 1 }),
};
