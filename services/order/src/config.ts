import { env } from '@scaleshop/platform';

export const orderConfig = {
  ...env.serviceSettings(8001),
  ...env.databaseSettings(),
  ...env.messagingSettings(),
  /** Where checkout reads the caller's cart, priced at current catalog prices. */
  CART_URL: env.url({ default: 'http://127.0.0.1:8006' }),
  /** Deadline of each call to the cart service (each retry gets its own). */
  CART_TIMEOUT_MS: env.integer({ default: 2_000, min: 100 }),
  /** How long a `?mode=sync` checkout waits for the saga to finish before answering 202 anyway. */
  SYNC_CHECKOUT_TIMEOUT_MS: env.integer({ default: 30_000, min: 100 }),
};
