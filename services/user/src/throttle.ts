import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { HttpError, type PgQueryable } from '@scaleshop/platform';

/**
 * Brute-force protection for the account routes, after OWASP's Authentication Cheat Sheet
 * and rate-limiter-flexible's login-protection recipe. Only failed logins count, so a user
 * who types the right password is never slowed down:
 * - per account and address: a guesser is stopped after a few tries, while the same account
 *   logging in from anywhere else is not locked out;
 * - per address: one client spraying many accounts;
 * - per account from every address: a distributed guess at one account; its window is short,
 *   because it also keeps the account's owner out while it lasts.
 * Counters live in the service's own Postgres, so replicas share them and a restart keeps them;
 * during an outage a login is a 503, as any statement's failure is.
 */
export interface ThrottleSettings {
  failuresPerAccountAndAddress: Allowance;
  failuresPerAddress: Allowance;
  failuresPerAccount: Allowance;
  registrationsPerAddress: Allowance;
  /** argon2 runs on libuv's pool of 4 threads; more at once only queues there, 19 MiB each. */
  hashingConcurrency: number;
  /** Hashes allowed to wait for a slot; beyond them a request is refused at once instead of piling up. */
  hashingQueue: number;
}

/**
 * `points` attempts per window, counted from the first; once they are spent, the next is
 * refused until the window ends. So the window is also the longest anyone waits.
 */
export interface Allowance {
  points: number;
  windowSeconds: number;
}

/** The table rate-limiter-flexible reads and writes; created by migration 0002, not by the library. */
export const throttleTable = 'login_throttle';

export interface Throttle {
  /** Refuses with 429 when any of the login counters for this account and address is blocked. */
  assertLoginAllowed(email: string, address: string): Promise<void>;
  recordLoginFailure(email: string, address: string): Promise<void>;
  recordLoginSuccess(email: string, address: string): Promise<void>;
  /** Counts a registration attempt, refusing with 429 past the address's allowance. */
  admitRegistration(address: string): Promise<void>;
  /** Runs password hashing within the concurrency bound, or refuses with 503 when the queue is full. */
  hashing<T>(work: () => Promise<T>): Promise<T>;
}

/** Keys hold a digest: emails can be 254 characters, and the table need not hold them in clear. */
const digest = (text: string) => createHash('sha256').update(text).digest('base64url');

export function tooManyAttempts(retryAfterSeconds: number, message: string): HttpError {
  return new HttpError(429, 'TOO_MANY_ATTEMPTS', `${message}; retry in ${retryAfterSeconds} s`, { 'retry-after': String(retryAfterSeconds) });
}

export function createThrottle(store: PgQueryable, settings: ThrottleSettings): Throttle {
  const limiter = (keyPrefix: string, allowance: Allowance) =>
    new RateLimiterPostgres({
      storeClient: store,
      storeType: 'pool',
      tableName: throttleTable,
      tableCreated: true,
      keyPrefix,
      points: allowance.points,
      duration: allowance.windowSeconds,
    });
  const byAccountAndAddress = limiter('login_account_address', settings.failuresPerAccountAndAddress);
  const byAddress = limiter('login_address', settings.failuresPerAddress);
  const byAccount = limiter('login_account', settings.failuresPerAccount);
  const registrations = limiter('register_address', settings.registrationsPerAddress);
  const hashingSlots = pLimit(settings.hashingConcurrency);

  const keysFor = (email: string, address: string) =>
    [
      [byAccountAndAddress, digest(`${email}\n${address}`)],
      [byAddress, digest(address)],
      [byAccount, digest(email)],
    ] as const;

  return {
    async assertLoginAllowed(email, address) {
      const states = await Promise.all(keysFor(email, address).map(([counter, key]) => counter.get(key).then((state) => ({ counter, state }))));
      const waits = states
        .filter(({ counter, state }) => state !== null && state.consumedPoints >= counter.points && state.msBeforeNext > 0)
        .map(({ state }) => state!.msBeforeNext);
      if (waits.length > 0) throw tooManyAttempts(Math.ceil(Math.max(...waits) / 1000), 'too many failed logins');
    },

    async recordLoginFailure(email, address) {
      // Rejected once a counter has passed its limit (concurrent attempts can): the next attempt is refused all the same.
      await Promise.all(keysFor(email, address).map(([counter, key]) => counter.consume(key, 1).then(() => undefined, rethrowUnlessLimit)));
    },

    // The address's count stays: an attacker holding an account of their own could otherwise
    // reset it between guesses at others. Only the account's owner can reset the account's counts.
    async recordLoginSuccess(email, address) {
      await Promise.all([byAccountAndAddress.delete(digest(`${email}\n${address}`)), byAccount.delete(digest(email))]);
    },

    async admitRegistration(address) {
      try {
        await registrations.consume(digest(address), 1);
      } catch (error) {
        rethrowUnlessLimit(error);
        throw tooManyAttempts(Math.ceil((error as RateLimiterRes).msBeforeNext / 1000), 'too many registrations from this address');
      }
    },

    hashing(work) {
      if (hashingSlots.pendingCount >= settings.hashingQueue) {
        return Promise.reject(new HttpError(503, 'BUSY', 'too many password checks at once; try again shortly', { 'retry-after': '1' }));
      }
      return hashingSlots(work);
    },
  };
}

function rethrowUnlessLimit(error: unknown): void {
  if (!(error instanceof RateLimiterRes)) throw error;
}
