import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { CompiledQuery, Kysely, sql, type Migration } from 'kysely';
import type { Logger } from '../logger.ts';
import { redactUrl } from '../config.ts';
import { registerPool } from '../metrics.ts';
import { migrateToLatest } from './migrations.ts';
import { roundTripSavingDialect, SocketOwningClient } from './round-trips.ts';

/** count(*) and bigserial come back as int8; every count here fits a JS number. */
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface DatabaseOptions {
  url: string;
  poolMax: number;
  logger: Logger;
  applicationName: string;
}

/** What libraries that take a pg pool or client call (rate-limiter-flexible's Postgres store). */
export interface PgQueryable {
  query(statement: { text: string; values?: unknown[] }): Promise<{ rows: unknown[]; rowCount: number }>;
}

export interface Database<DB> {
  db: Kysely<DB>;
  /** Only for watching the pool (tests count its clients' socket writes); statements go through `db`. */
  pool: pg.Pool;
  /** `db` in the shape of a pg pool, for libraries that take one: their statements get the same outage handling. */
  queryable: PgQueryable;
  /** Answers whether Postgres responds right now; used by /health/ready. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function createDatabase<DB>(options: DatabaseOptions): Database<DB> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    application_name: options.applicationName,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    types: typeParsers,
    pipeline: true,
    // pg-pool constructs its clients with the pool's options; the types declare no arguments.
    Client: SocketOwningClient as unknown as new () => pg.ClientBase,
  });
  // An idle client losing its connection (database restart) must not crash the process;
  // the pool discards it and the next query opens a fresh one.
  pool.on('error', (error) => options.logger.warn({ err: error }, 'idle database connection failed'));
  pool.on('connect', (client) => {
    // pg-pool listens for a client's errors only while it is idle. A checked-out client whose
    // server went away between two statements emits one nobody hears, which would end the
    // process. Nothing is lost by ignoring it here: the next statement on that client fails
    // (and is reported by its caller), and the pool discards the client when it comes back.
    client.on('error', () => {});
  });
  const db = new Kysely<DB>({ dialect: roundTripSavingDialect(pool) });
  const unregisterPool = registerPool(options.applicationName, pool);
  let closed = false;
  return {
    db,
    pool,
    queryable: {
      async query({ text, values = [] }) {
        const { rows, numAffectedRows } = await db.executeQuery(CompiledQuery.raw(text, values));
        return { rows, rowCount: numAffectedRows === undefined ? rows.length : Number(numAffectedRows) };
      },
    },
    async ping() {
      try {
        await sql`select 1`.execute(db);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      unregisterPool();
      await db.destroy();
    },
  };
}

/**
 * A service's database, ready to use: the pool is open, every migration applied, and the
 * seed (if any) run. On failure the pool is closed again, so a failed start leaks nothing.
 */
export async function openDatabase<DB>(options: {
  service: string;
  config: { DATABASE_URL: string; DATABASE_POOL_MAX: number };
  logger: Logger;
  migrations: Record<string, Migration>;
  seed?: (db: Kysely<DB>) => Promise<void>;
  /** How long to wait for Postgres to accept connections: in a cluster it may start after us. */
  connectTimeoutMs?: number;
}): Promise<Database<DB>> {
  const database = createDatabase<DB>({
    url: options.config.DATABASE_URL,
    poolMax: options.config.DATABASE_POOL_MAX,
    logger: options.logger,
    applicationName: options.service,
  });
  try {
    await waitForDatabase(database.pool, options.config.DATABASE_URL, options.logger, options.connectTimeoutMs ?? 30_000);
    await migrateToLatest(database.db, options.migrations, options.logger);
    await options.seed?.(database.db);
    return database;
  } catch (error) {
    await database.close();
    throw error;
  }
}

async function waitForDatabase(pool: pg.Pool, url: string, logger: Logger, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await pool.query('select 1');
      return;
    } catch (error) {
      const message = (error as Error).message;
      if (Date.now() + 1_000 > deadline) throw new Error(`cannot reach the database at ${redactUrl(url)}: ${message}`);
      if (attempt === 1) logger.warn({ database: redactUrl(url), error: message }, 'database not reachable yet; retrying');
      await sleep(1_000);
    }
  }
}

