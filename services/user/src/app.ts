import type { KeyObject } from 'node:crypto';
import {
  createHttpApp,
  loadPrivateKey,
  openDatabase,
  type App,
  type ConfigOf,
  type Logger,
} from '@scaleshop/platform';
import { createAccounts } from './accounts.ts';
import type { userConfig } from './config.ts';
import { migrations } from './migrations.ts';
import { registerRoutes } from './routes.ts';
import type { UserDatabase } from './schema.ts';
import { seedDevUsers } from './seed.ts';
import { createThrottle } from './throttle.ts';

/** Wires the user service: signing key, migrate, seed, routes. Returns the app unstarted. */
export async function createUserService(config: ConfigOf<typeof userConfig>, logger: Logger): Promise<App> {
  // Before touching the database: a bad key is a configuration error and should fail fast.
  const signingKey = signingKeyFrom(config.JWT_PRIVATE_KEY);

  const database = await openDatabase<UserDatabase>({
    service: 'user',
    config,
    logger,
    migrations,
    ...(config.SEED_DEV_USERS ? { seed: (db) => seedDevUsers(db, logger) } : {}),
  });

  const throttle = createThrottle(database.queryable, {
    failuresPerAccountAndAddress: { points: config.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS, windowSeconds: 15 * 60 },
    failuresPerAddress: { points: config.LOGIN_FAILURES_PER_ADDRESS, windowSeconds: 60 * 60 },
    failuresPerAccount: { points: config.LOGIN_FAILURES_PER_ACCOUNT, windowSeconds: 5 * 60 },
    registrationsPerAddress: { points: config.REGISTRATIONS_PER_ADDRESS, windowSeconds: 60 * 60 },
    hashingConcurrency: config.PASSWORD_HASHING_CONCURRENCY,
    hashingQueue: config.PASSWORD_HASHING_QUEUE,
  });
  const accounts = createAccounts(
    database.db,
    { signingKey, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS },
    throttle,
  );

  const app = await createHttpApp({
    service: 'user',
    logger,
    ...(config.METRICS_PORT === undefined ? {} : { metricsPort: config.METRICS_PORT }),
    readiness: { database: database.ping },
    openapi: { title: 'user', description: 'Accounts: registration, login and access tokens' },
    closeOnShutdown: [database],
  });
  registerRoutes(app, accounts);
  return app;
}

function signingKeyFrom(pem: string): KeyObject {
  try {
    return loadPrivateKey(pem);
  } catch (error) {
    throw new Error(`JWT_PRIVATE_KEY is not a usable Ed25519 private key: ${(error as Error).message}`);
  }
}
