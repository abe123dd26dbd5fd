import { Socket } from 'node:net';
import pg from 'pg';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type RawBuilder,
  type TransactionSettings,
} from 'kysely';
import { asOutage, DatabaseUnavailableError } from './outages.ts';

/**
 * kysely's Postgres dialect with a driver that spares round trips, which on a busy machine
 * cost more than the statements themselves: each wakes Postgres and then the service again,
 * and a transaction waits for all of them in turn.
 *
 * - The pool's clients run in pipeline mode: a statement is written as soon as it is issued,
 *   behind those still running.
 * - A transaction's BEGIN waits and is written together with its first statement, in one
 *   socket write; a transaction with no statement costs nothing.
 * - A statement marked with `thenCommit` is written together with the COMMIT.
 * - Each parameterized statement runs as a named prepared statement: Postgres parses and
 *   plans it once per connection instead of on every execution. kysely emits the same text for
 *   the same query shape, so the set of texts is small; past the cap, a new text runs unnamed.
 *   The name says what the statement does ("SELECT products #7"), as traces show it.
 * - A statement whose connection went away fails with DatabaseUnavailableError.
 *
 * The driver owns how statements reach the client, and the client owns its socket (so it can
 * write several messages in one go): nothing of pg or kysely is patched.
 */

/** A pg client that keeps its socket, so the driver can write a BEGIN and a statement in one go. */
export class SocketOwningClient extends pg.Client {
  readonly socket: Socket;
  constructor(config: pg.ClientConfig) {
    const socket = new Socket();
    super({ ...config, stream: () => socket });
    this.socket = socket;
  }
}

/** Statement texts given a name so far, process-wide; capped, as each name costs memory in every backend that prepared it. */
const statementNames = new Map<string, string>();
const maxNamedStatements = 1_000;

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

function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < maxNamedStatements) {
    name = `${statementSummary(text)} #${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return name;
}

type PgResult = { command: string; rowCount: number | null; rows: unknown[] };

const changesRows = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

function toQueryResult<R>({ command, rowCount, rows }: PgResult): QueryResult<R> {
  return { rows: (rows ?? []) as R[], ...(changesRows.has(command) ? { numAffectedRows: BigInt(rowCount ?? 0) } : {}) };
}

/** One checked-out client, and where its transaction stands. */
interface Connection extends DatabaseConnection {
  begin(statement: string): void;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  release(): void;
}

function connectionOver(client: pg.PoolClient & { socket: Socket }): Connection {
  /** The BEGIN (or START TRANSACTION …) not yet written: it goes out with the first statement. */
  let pendingBegin: string | undefined;
  /** Set once a statement marked thenCommit has gone out with its COMMIT. */
  let commitSent: Promise<PgResult> | undefined;

  const plain = (text: string) => (client.query(text) as Promise<PgResult>).catch((error: unknown) => Promise.reject(asOutage(error)));
  const send = (query: CompiledQuery): Promise<PgResult> => {
    const values = [...query.parameters];
    const name = values.length > 0 ? statementName(query.sql) : undefined;
    const sent = name === undefined ? client.query(query.sql, values) : client.query({ name, text: query.sql, values });
    return (sent as Promise<PgResult>).catch((error: unknown) => Promise.reject(asOutage(error)));
  };
  /** What a transaction that ended with its thenCommit statement ended as. */
  const settleCommitSent = () => {
    const sent = commitSent!;
    commitSent = undefined;
    return sent;
  };

  return {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      if (commitSent) {
        settleCommitSent();
        throw new Error('a statement after the one marked thenCommit() would run outside its transaction, which has ended');
      }
      const withCommit = query.sql.startsWith(commitMarker);
      if (pendingBegin === undefined && !withCommit) return toQueryResult<R>(await send(query));
      client.socket.cork();
      let begun: Promise<PgResult> | undefined;
      let result: Promise<PgResult>;
      try {
        // No span of its own: it goes out with the statement, whose span shows the round trip.
        const begin = pendingBegin;
        begun = begin === undefined ? undefined : context.with(suppressTracing(context.active()), () => plain(begin));
        pendingBegin = undefined;
        result = send(query);
        if (withCommit) {
          commitSent = plain('commit');
          commitSent.catch(() => {});
        }
      } finally {
        client.socket.uncork();
      }
      // A BEGIN fails only on a broken connection, which fails the statement behind it too.
      const answer = begun ? (await Promise.all([begun, result]))[1] : await result;
      return toQueryResult<R>(answer);
    },

    // eslint-disable-next-line require-yield -- no caller streams; refusing is clearer than a half-implemented cursor
    async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
      throw new Error('streaming queries are not supported by this driver');
    },

    begin(statement) {
      pendingBegin = statement;
    },

    async commit() {
      if (pendingBegin !== undefined) {
        pendingBegin = undefined;
        return;
      }
      if (commitSent) {
        const answer = await settleCommitSent();
        if (answer.command === 'ROLLBACK') throw new Error('the transaction was rolled back: its thenCommit() statement failed');
        return;
      }
      await plain('commit');
    },

    async rollback() {
      if (pendingBegin !== undefined) {
        pendingBegin = undefined;
        return;
      }
      if (commitSent) {
        const answer = await settleCommitSent().catch(() => ({ command: 'ROLLBACK' }) as PgResult);
        if (answer.command === 'COMMIT') throw new Error('cannot roll back: the transaction committed with its thenCommit() statement');
        return;
      }
      await plain('rollback');
    },

    release() {
      pendingBegin = undefined;
      commitSent = undefined;
      client.release();
    },
  };
}

function beginStatement(settings: TransactionSettings): string {
  if (!settings.isolationLevel && !settings.accessMode) return 'begin';
  return ['start transaction', settings.isolationLevel && `isolation level ${settings.isolationLevel}`, settings.accessMode].filter(Boolean).join(' ');
}

function roundTripSavingDriver(pool: pg.Pool): Driver {
  const connections = new WeakMap<pg.PoolClient, Connection>();
  const asConnection = (connection: DatabaseConnection) => connection as Connection;
  return {
    async init() {},
    async acquireConnection() {
      // Failing to get a connection at all says nothing about the statement: it is an outage.
      const client = await pool.connect().catch((error: unknown) => Promise.reject(new DatabaseUnavailableError(error)));
      let connection = connections.get(client);
      if (!connection) {
        connection = connectionOver(client as pg.PoolClient & SocketOwningClient);
        connections.set(client, connection);
      }
      return connection;
    },
    async beginTransaction(connection, settings) {
      asConnection(connection).begin(beginStatement(settings));
    },
    commitTransaction: (connection) => asConnection(connection).commit(),
    rollbackTransaction: (connection) => asConnection(connection).rollback(),
    async releaseConnection(connection) {
      asConnection(connection).release();
    },
    destroy: () => pool.end(),
  };
}

/** kysely's Postgres dialect over `pool`, whose clients must be SocketOwningClients in pipeline mode. */
export function roundTripSavingDialect(pool: pg.Pool): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => roundTripSavingDriver(pool),
    createIntrospector: (db: Kysely<unknown>) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}
