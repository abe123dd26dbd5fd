import { env } from '@scaleshop/platform';

export const userConfig = {
  ...env.serviceSettings(8005),
  ...env.databaseSettings(),
  /** Ed25519 PKCS8 PEM; only this service signs access tokens, the gateway holds the public half. */
  JWT_PRIVATE_KEY: env.pem(),
  JWT_ISSUER: env.string('scaleshop'),
  JWT_AUDIENCE: env.string('scaleshop-api'),
  /** Tokens cannot be revoked, so their lifetime is what bounds a stolen one; capped at 15 minutes. */
  ACCESS_TOKEN_TTL_SECONDS: env.integer({ default: 900, min: 60, max: 900 }),
  /** Creates the development accounts with well-known passwords; never enable in production. */
  SEED_DEV_USERS: env.boolean(false),
};
