import type { Kysely, Logger, Role } from '@scaleshop/platform';
import { normalizeEmail } from './accounts.ts';
import { hashPassword } from './passwords.ts';
import { emailExists, insertUser } from './repository.ts';
import type { UserDatabase } from './schema.ts';

interface DevUser {
  email: string;
  password: string;
  name: string;
  role: Role;
}

/** Well-known accounts for local development and the end-to-end tests. */
export const devUsers: readonly DevUser[] = [
  { email: 'paintest@example.com', password: 'password123', name: 'Pain Test', role: 'customer' },
  { email: 'admin@example.com', password: 'admin123', name: 'Admin', role: 'admin' },
];

/** Adds the missing dev users; existing accounts, passwords included, are left as they are. */
export async function seedDevUsers(db: Kysely<UserDatabase>, logger: Logger): Promise<void> {
  let inserted = 0;
  for (const user of devUsers) {
    const email = normalizeEmail(user.email);
    // Looked up first so a restart does not pay for hashing passwords it will not store.
    if (await emailExists(db, email)) continue;
    const created = await insertUser(db, { email, name: user.name, role: user.role, password_hash: await hashPassword(user.password) });
    if (created) inserted++;
  }
  logger.info({ inserted, dev_users: devUsers.length }, 'dev users seeded');
}
