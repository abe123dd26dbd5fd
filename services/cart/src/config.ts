import { env } from '@scaleshop/platform';

export const cartConfig = {
  ...env.serviceSettings(8006),
  ...env.databaseSettings(),
  ...env.messagingSettings(),
  /** The catalog: names, current prices and stock of the products in carts. */
  PRODUCT_URL: env.url({ default: 'http://127.0.0.1:8004' }),
  /** Deadline of each call to the product service (each retry gets its own). */
  PRODUCT_TIMEOUT_MS: env.integer({ default: 2_000, min: 100 }),
};
