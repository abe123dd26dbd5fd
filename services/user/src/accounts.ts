import type { KeyObject } from 'node:crypto';
import { conflict, signAccessToken, unauthorized, type Caller, type Kysely } from '@scaleshop/platform';
import { dummyPasswordHash, hashPassword, verifyPassword } from './passwords.ts';
import type { Throttle } from './throttle.ts';
import * as repository from './repository.ts';
import type { User } from './repository.ts';
import type { UserDatabase } from './schema.ts';

export interface Registration {
  email: string;
  password: string;
  name: string;
}

export interface Credentials {
  email: string;
  password: string;
}

export interface AccessToken {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
}

export interface Accounts {
  /** `clientAddress` is where the request came from, as the gateway saw it. */
  register(registration: Registration, clientAddress: string): Promise<User>;
  login(credentials: Credentials, clientAddress: string): Promise<AccessToken>;
  /** The caller's account as it is now, not as it was when their token was issued. */
  me(caller: Caller): Promise<User>;
}

export interface TokenIssuing {
  signingKey: KeyObject;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

/** Emails compare case-insensitively; storing one spelling lets the unique index enforce that. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** One message for an unknown email and a wrong password, so neither reveals that an account exists. */
const invalidCredentials = () => unauthorized('invalid email or password', 'INVALID_CREDENTIALS');

export function createAccounts(db: Kysely<UserDatabase>, tokens: TokenIssuing, throttle: Throttle): Accounts {
  return {
    async register(registration, clientAddress) {
      const email = normalizeEmail(registration.email);
      const emailTaken = () => conflict(`an account for ${email} already exists`, 'EMAIL_TAKEN');
      await throttle.admitRegistration(clientAddress);
      // Checked first only to spare the hashing cost; insertUser settles concurrent registrations.
      if (await repository.emailExists(db, email)) throw emailTaken();
      const passwordHash = await throttle.hashing(() => hashPassword(registration.password));
      const user = await repository.insertUser(db, { email, name: registration.name, password_hash: passwordHash });
      if (!user) throw emailTaken();
      return user;
    },

    async login(credentials, clientAddress) {
      const email = normalizeEmail(credentials.email);
      // Before any hashing: a refused guess costs the attacker a round trip and the service one lookup.
      await throttle.assertLoginAllowed(email, clientAddress);
      const stored = await repository.findCredentialsByEmail(db, email);
      // An unknown email is checked against a dummy hash and counted alike, so neither time nor throttling tells it apart.
      const valid = await throttle.hashing(() => verifyPassword(stored?.password_hash ?? dummyPasswordHash, credentials.password));
      if (!stored || !valid) {
        await throttle.recordLoginFailure(email, clientAddress);
        throw invalidCredentials();
      }
      await throttle.recordLoginSuccess(email, clientAddress);
      const accessToken = await signAccessToken({ id: stored.id, email: stored.email, role: stored.role }, tokens.signingKey, {
        issuer: tokens.issuer,
        audience: tokens.audience,
        ttlSeconds: tokens.ttlSeconds,
      });
      return { access_token: accessToken, token_type: 'bearer', expires_in: tokens.ttlSeconds };
    },

    async me(caller) {
      // callerOf has checked the id is a UUID, so the uuid comparison cannot fail.
      const user = await repository.findUserById(db, caller.id);
      if (!user) throw unauthorized('account no longer exists');
      return user;
    },
  };
}
