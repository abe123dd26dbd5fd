import type { Kysely, Role } from '@scaleshop/platform';
import type { UserDatabase } from './schema.ts';

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export interface StoredCredentials {
  id: string;
  email: string;
  role: Role;
  password_hash: string;
}

export interface NewUser {
  email: string;
  name: string;
  password_hash: string;
  role?: Role;
}

type Db = Kysely<UserDatabase>;

export async function findUserById(db: Db, id: string): Promise<User | undefined> {
  return db.selectFrom('users').select(['id', 'email', 'name', 'role']).where('id', '=', id).executeTakeFirst();
}

/** Expects the email already normalized. */
export async function findCredentialsByEmail(db: Db, email: string): Promise<StoredCredentials | undefined> {
  return db.selectFrom('users').select(['id', 'email', 'role', 'password_hash']).where('email', '=', email).executeTakeFirst();
}

export async function emailExists(db: Db, email: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
  return row !== undefined;
}

/**
 * Inserts a user; returns undefined when the email is taken. The conflict clause, not a
 * prior lookup, is what makes two concurrent registrations of one email yield one account.
 */
export async function insertUser(db: Db, user: NewUser): Promise<User | undefined> {
  return db
    .insertInto('users')
    .values(user)
    .onConflict((oc) => oc.column('email').doNothing())
    .returning(['id', 'email', 'name', 'role'])
    .executeTakeFirst();
}
