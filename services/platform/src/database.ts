import pg from 'pg';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, Migrator, PostgresDialect, sql, type Migration, type RawBuilder } from 'kysely';
import type { Logger } from './logger.ts';
import { redactUrl } from './config.ts';
import { registerPool } from './metrics.ts';

export { sql, type Kysely, type Migration };
export type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

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

export interface Database<DB> {
  db: Kysely<DB>;
  pool: pg.Pool;
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
    reportOutages(client);
    saveRoundTrips(client);
  });
  // Failing to get a connection at all says nothing about the statement: it is an outage.
  const connect = () => pool.connect().catch((error: unknown) => Promise.reject(new DatabaseUnavailableError(error)));
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: { connect, end: () => pool.end() } }) });
  const unregisterPool = registerPool(options.applicationName, pool);
  let closed = false;
  return {
    db,
    pool,
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

/** No connection to Postgres could be had: it is down, restarting, or refusing new clients. */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    // The logger appends the cause's message.
    super('database unavailable', { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/**
 * Postgres's codes for a server shutting down, crashing, starting up or out of connection
 * slots (class 08, connection exception, is matched as a whole), and Node's for a socket the
 * server dropped. pg's own errors for a connection that went away carry no code.
 */
const outageCodes = new Set(['57P01', '57P02', '57P03', '53300', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
const lostConnectionMessage = /^Connection terminated|is not queryable/;

function isConnectionLoss(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (outageCodes.has(code) || code.startsWith('08'))) return true;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' && lostConnectionMessage.test(message);
}

/**
 * Whether an error comes from Postgres being unreachable or dropping the connection (a
 * restart, a failover) rather than from the statement: the same work succeeds once it is
 * back, so it is answered with 503 and retried without counting against a message's attempts.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return error instanceof DatabaseUnavailableError;
}

/**
 * Turns a statement's failure into a DatabaseUnavailableError when the connection under it
 * went away, so that callers can tell an outage from a bad statement by where it came from
 * rather than by guessing at codes that other libraries (SMTP, AMQP) share.
 */
function reportOutages(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    if (!(result instanceof Promise)) return result;
    return result.catch((error: unknown) => Promise.reject(isConnectionLoss(error) ? new DatabaseUnavailableError(error) : error));
  };
}

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

/** Statement texts given a name so far, process-wide; capped, as each name costs memory in every backend that prepared it. */
const statementNames = new Map<string, string>();
const maxNamedStatements = 1_000;

type QueryResult = { command: string; rowCount: number | null; rows: unknown[] };
const emptyResult = (command: string): Promise<QueryResult> => Promise.resolve({ command, rowCount: null, rows: [] });

const commitMarker = '/* then commit */ ';

/**
 * Marks a transaction's last statement: the COMMIT is written right behind it, and the
 * transaction's own commit then only waits for that one. Nothing may run in the transaction
 * after it. If the statement fails, Postgres answers the COMMIT with a rollback.
 */
export function thenCommit<T>(statement: RawBuilder<T>): RawBuilder<T> {
  return sql<T>`${sql.raw(commitMarker)}${statement}`;
}

/**
 * What a statement does to which table, e.g. "SELECT products": the name of its prepared
 * statement, which the pg instrumentation makes the span name.
 */
export function statementSummary(text: string): string {
  const statement = text.replace(/^\s*(\/\*.*?\*\/\s*)*/s, '');
  const operation = (/^\w+/.exec(statement)?.[0] ?? 'SQL').toUpperCase();
  const target = /\b(?:from|into|update)\s+"?([\w.]+)/i.exec(statement)?.[1];
  return target ? `${operation} ${target}` : operation;
}

/**
 * Spares the client round trips, which on a busy machine cost more than the statements
 * themselves: each wakes Postgres and then the service again, and a transaction waits for all
 * of them in turn.
 *
 * - The client runs in pipeline mode (the pool's `pipeline: true`): a statement is written as
 *   soon as it is issued, behind those still running.
 * - A transaction's BEGIN waits and is written together with its first statement, in one
 *   socket write; a transaction with no statement costs nothing. A BEGIN fails only on a
 *   broken connection, which fails the statement behind it too; its error is reported all
 *   the same.
 * - A statement marked with `thenCommit` is written together with the COMMIT.
 * - Each parameterized statement runs as a named prepared statement: Postgres parses and
 *   plans it once per connection instead of on every execution, which is a good part of its
 *   CPU for the short statements a service runs all the time. kysely emits the same text for
 *   the same query shape, so the set of texts is small; past the cap, a new text runs unnamed
 *   as before. Statements without parameters (begin, commit, DDL) stay on the simple protocol.
 *   The name says what the statement does ("SELECT products #7"), as traces show it.
 */
function saveRoundTrips(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<QueryResult>;
  const send = (args: unknown[]): Promise<QueryResult> => {
    const [text, values] = args;
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || args.length > 2) return query(...args);
    let name = statementNames.get(text);
    if (name === undefined) {
      if (statementNames.size >= maxNamedStatements) return query(...args);
      name = `${statementSummary(text)} #${statementNames.size + 1}`;
      statementNames.set(text, name);
    }
    return query({ name, text, values });
  };
  const stream = (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;
  let beginWaiting = false;
  let commitSent: Promise<QueryResult> | undefined;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const text = args.length <= 2 ? args[0] : undefined;
    const endsTransaction = text === 'commit' || text === 'rollback';
    if (commitSent) {
      // The transaction has ended already, one way or the other: say which, truthfully.
      const sent = commitSent;
      commitSent = undefined;
      if (text === 'commit') return sent.then((answer) => (answer.command === 'ROLLBACK' ? Promise.reject(new Error('the transaction was rolled back: its thenCommit() statement failed')) : answer));
      if (text === 'rollback') return sent.then((answer) => (answer.command === 'COMMIT' ? Promise.reject(new Error('cannot roll back: the transaction committed with its thenCommit() statement')) : answer), () => emptyResult('ROLLBACK'));
      return Promise.reject(new Error('a statement after the one marked thenCommit() would run outside its transaction, which has ended'));
    }
    if (text === 'begin' && !beginWaiting) {
      beginWaiting = true;
      return emptyResult('BEGIN');
    }
    const withCommit = typeof text === 'string' && text.startsWith(commitMarker);
    if (!beginWaiting && !withCommit) return send(args);
    if (beginWaiting && endsTransaction) {
      beginWaiting = false;
      return emptyResult(text.toUpperCase());
    }
    stream.cork();
    try {
      // No span of its own: it goes out with the statement, whose span shows the round trip.
      const begun = beginWaiting ? context.with(suppressTracing(context.active()), () => query('begin')) : undefined;
      beginWaiting = false;
      const result = send(args);
      if (withCommit) {
        commitSent = query('commit');
        commitSent.catch(() => {});
      }
      return begun ? Promise.all([begun, result]).then(([, answer]) => answer) : result;
    } finally {
      stream.uncork();
    }
  };
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

/** Creates the database named in `url` when it is missing, connecting to the server's `postgres` database. */
export async function ensureDatabaseExists(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`refusing to create database with unusual name "${name}"`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot reach Postgres at ${redactUrl(admin.toString())}: ${(error as Error).message}`);
  }
  try {
    const existing = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (existing.rowCount) return false;
    try {
      await client.query(`create database "${name}"`);
      return true;
    } catch (error) {
      // Another process created it between our check and our create.
      if ((error as { code?: string }).code === '42P04' || (error as { code?: string }).code === '23505') return false;
      throw error;
    }
  } finally {
    await client.end();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
}

export interface NotificationListener {
  /** Settles once the first LISTEN is in place; notifications before that are not seen. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * LISTENs on a channel over a dedicated connection and reconnects after failures.
 * `onReconnect` runs after every reconnection, because notifications sent while we were
 * disconnected are lost and the caller must resynchronize.
 */
export function listenForNotifications(options: {
  url: string;
  channel: string;
  logger: Logger;
  onNotification: (payload: string) => void;
  onReconnect?: () => void;
  retryDelayMs?: number;
}): NotificationListener {
  const { url, channel, logger, onNotification, onReconnect } = options;
  const retryDelayMs = options.retryDelayMs ?? 1_000;
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name "${channel}"`);
  let client: pg.Client | undefined;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let connectedBefore = false;
  let failedAttempts = 0;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const scheduleRetry = () => {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, retryDelayMs);
  };

  const connect = async () => {
    const current = new pg.Client({ connectionString: url, application_name: `listen:${channel}` });
    client = current;
    current.on('notification', (message) => {
      if (message.channel === channel) onNotification(message.payload ?? '');
    });
    current.on('error', (error) => {
      logger.warn({ err: error, channel }, 'notification connection failed; reconnecting');
      current.end().catch(() => {});
      scheduleRetry();
    });
    try {
      await current.connect();
      await current.query(`listen ${channel}`);
      if (failedAttempts > 0) logger.info({ channel, failed_attempts: failedAttempts }, 'listening for notifications again');
      failedAttempts = 0;
      if (connectedBefore) onReconnect?.();
      connectedBefore = true;
      markReady();
    } catch (error) {
      if (stopped) return;
      // Once per outage, not once a second for as long as it lasts.
      if (failedAttempts++ === 0) logger.warn({ err: error, channel, retry_every_ms: retryDelayMs }, 'cannot listen for notifications; retrying');
      current.end().catch(() => {});
      scheduleRetry();
    }
  };

  void connect();
  return {
    ready,
    async close() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      await client?.end().catch(() => {});
    },
  };
}
