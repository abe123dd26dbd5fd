import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabaseExists } from './database.ts';
import { createLogger, type Logger } from './logger.ts';

/** The server tests create their databases on; each test file gets databases of its own. */
export const testPostgresUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const url = new URL(testPostgresUrl);
  url.pathname = `/test_${label}_${randomBytes(5).toString('hex')}`;
  await ensureDatabaseExists(url.toString());
  return { url: url.toString(), drop: () => dropDatabase(url.toString()) };
}

export function testLogger(service = 'test'): Logger {
  return createLogger({ service, level: (process.env.TEST_LOG_LEVEL as 'silent' | undefined) ?? 'silent' });
}
