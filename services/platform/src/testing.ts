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

/** The broker tests use; each test file gets a virtual host of its own. */
export const testRabbitMqUrl = process.env.TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export interface TestVhost {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createTestVhost(label: string): Promise<TestVhost> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const run = promisify(execFile);
  const name = `test_${label}_${randomBytes(5).toString('hex')}`;
  const user = decodeURIComponent(new URL(testRabbitMqUrl).username || 'guest');
  await run('rabbitmqctl', ['-q', 'add_vhost', name]);
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', name, user, '.*', '.*', '.*']);
  const url = new URL(testRabbitMqUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), name, drop: async () => void (await run('rabbitmqctl', ['-q', 'delete_vhost', name])) };
}
export * from './test-broker.ts';
