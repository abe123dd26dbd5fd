import { Migrator, type Kysely, type Migration } from 'kysely';
import type { Logger } from '../logger.ts';

/**
 * Applies every pending migration. Kysely's Postgres migrator serializes concurrent
 * runs with a session advisory lock, so replicas starting together are safe.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function migrateToLatest(db: Kysely<any>, migrations: Record<string, Migration>, logger: Logger): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  for (const result of results ?? []) {
    if (result.status === 'Success') logger.info({ migration: result.migrationName }, 'migration applied');
    if (result.status === 'Error') logger.error({ migration: result.migrationName }, 'migration failed');
  }
  if (error) throw error instanceof Error ? error : new Error(String(error));
}
