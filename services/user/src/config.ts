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
  /** Failed logins for one account from one address per 15 minutes; the next is refused until the window ends. */
  LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS: env.integer({ default: 10, min: 1 }),
  /** Failed logins from one address, to any accounts, per hour. */
  LOGIN_FAILURES_PER_ADDRESS: env.integer({ default: 100, min: 1 }),
  /** Failed logins for one account, from any address, per 5 minutes: short, since the owner waits it out too. */
  LOGIN_FAILURES_PER_ACCOUNT: env.integer({ default: 30, min: 1 }),
  /** Registrations from one address per hour. Local mode raises it: every client there is 127.0.0.1. */
  REGISTRATIONS_PER_ADDRESS: env.integer({ default: 100, min: 1 }),
  /** Password hashes computed at once (argon2id, 19 MiB each), and those that may wait for a turn. */
  PASSWORD_HASHING_CONCURRENCY: env.integer({ default: 4, min: 1, max: 64 }),
  PASSWORD_HASHING_QUEUE: env.integer({ default: 64, min: 0 }),
};
