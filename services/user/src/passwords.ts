import * as argon2 from 'argon2';

/** OWASP's recommended argon2id settings: 19 MiB of memory, two passes, one lane. */
export const passwordHashing = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * The hash of a random, discarded password at the same settings. Verifying against it when
 * an email is unknown costs what a real check costs, so response times do not reveal which
 * emails have accounts. Regenerate it whenever `passwordHashing` changes (a test checks).
 */
export const dummyPasswordHash = '$argon2id$v=19$m=19456,p=1,t=2$hoWztg46Lu2fg27Y8qyqUA$dcgVa2vjY0/CrT9UGCFbCqXkhza5z1ssisxU/6ydUG4';

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, passwordHashing);
}

export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return argon2.verify(hash, password);
}
