import { env } from '@scaleshop/platform';

export const productConfig = {
  ...env.serviceSettings(8004),
  ...env.databaseSettings(),
  ...env.messagingSettings(),
  /** Loads the demo catalog at start; safe to repeat. */
  SEED_CATALOG: env.boolean(true),
  /** Upper bound on how stale a cached read may be should a change notification be missed. */
  PRODUCT_CACHE_TTL_MS: env.integer({ default: 5_000, min: 0 }),
};
