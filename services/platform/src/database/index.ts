export { sql, type Kysely, type Migration } from 'kysely';
export type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
export { createDatabase, openDatabase, type Database, type DatabaseOptions, type PgQueryable } from './pool.ts';
export { DatabaseUnavailableError, isDatabaseUnavailable } from './outages.ts';
export { migrateToLatest } from './migrations.ts';
export { thenCommit, statementSummary } from './round-trips.ts';
export { ensureDatabaseExists } from './admin.ts';
export { listenForNotifications, type NotificationListener } from './notifications.ts';
