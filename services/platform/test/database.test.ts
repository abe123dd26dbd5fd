import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { createDatabase, createHttpApp, isDatabaseUnavailable, sql, thenCommit, type Database } from '@scaleshop/platform';
import { createTestDatabase, cutDatabasesOff, eventually, testLogger, type TestDatabase } from '@scaleshop/platform/testing';

interface Tables {
  notes: { id: number; text: string };
}

let database: TestDatabase;
let db: Database<Tables>;
/** Socket writes of the pool's one client: a write is a round trip begun. */
let writes = 0;

const notes = async () => (await db.db.selectFrom('notes').select('id').orderBy('id').execute()).map((row) => row.id);
const insert = (id: number) => sql`insert into notes (id, text) values (${id}, ${`note ${id}`})`;
const writesDuring = async (work: () => Promise<unknown>) => {
  const before = writes;
  await work();
  return writes - before;
};

before(async () => {
  database = await createTestDatabase('database');
  db = createDatabase<Tables>({ url: database.url, poolMax: 1, logger: testLogger(), applicationName: 'database-test' });
  db.pool.on('connect', (client: pg.PoolClient) => {
    const stream = (client as unknown as { socket: { _write: Function; _writev: Function } }).socket;
    for (const method of ['_write', '_writev'] as const) {
      const original = stream[method];
      stream[method] = function (this: unknown, ...args: unknown[]) {
        writes++;
        return original.apply(this, args);
      };
    }
  });
  await sql`create table notes (id int primary key, text text not null)`.execute(db.db);
});

after(async () => {
  await db?.close();
  await database?.drop();
});

beforeEach(async () => {
  await sql`truncate notes`.execute(db.db);
});

describe('transactions', () => {
  test("write BEGIN together with the first statement: one round trip fewer", async () => {
    const count = await writesDuring(() =>
      db.db.transaction().execute(async (trx) => {
        await insert(1).execute(trx);
        await insert(2).execute(trx);
      }),
    );
    assert.equal(count, 3, 'begin + first insert, second insert, commit');
    assert.deepEqual(await notes(), [1, 2]);
  });

  test('write a statement marked thenCommit together with the COMMIT', async () => {
    const count = await writesDuring(() =>
      db.db.transaction().execute(async (trx) => {
        await insert(1).execute(trx);
        await thenCommit(insert(2)).execute(trx);
      }),
    );
    assert.equal(count, 2, 'begin + first insert, second insert + commit');
    assert.deepEqual(await notes(), [1, 2]);
  });

  test('send nothing at all for a transaction without statements', async () => {
    assert.equal(await writesDuring(() => db.db.transaction().execute(async () => {})), 0);
  });

  test('stay atomic: a failing statement rolls back what the transaction did before it', async () => {
    await insert(5).execute(db.db);
    await assert.rejects(
      db.db.transaction().execute(async (trx) => {
        await insert(1).execute(trx);
        await insert(5).execute(trx);
      }),
      { code: '23505' },
    );
    assert.deepEqual(await notes(), [5]);
  });

  test('stay atomic when the statement marked thenCommit fails: Postgres rolls the COMMIT back, and the caller sees the error', async () => {
    await insert(5).execute(db.db);
    await assert.rejects(
      db.db.transaction().execute(async (trx) => {
        await insert(1).execute(trx);
        await thenCommit(insert(5)).execute(trx);
      }),
      { code: '23505' },
    );
    assert.deepEqual(await notes(), [5]);
    // The connection is out of the failed transaction: the next one works.
    await db.db.transaction().execute((trx) => insert(6).execute(trx));
    assert.deepEqual(await notes(), [5, 6]);
  });

  test('never report a commit that Postgres turned into a rollback, even when the failed statement was ignored', async () => {
    await insert(5).execute(db.db);
    await assert.rejects(
      db.db.transaction().execute(async (trx) => {
        await insert(1).execute(trx);
        await thenCommit(insert(5)).execute(trx).catch(() => {});
      }),
      /rolled back/,
    );
    assert.deepEqual(await notes(), [5]);
  });

  test('never report a rollback once the statement marked thenCommit has committed', async () => {
    await assert.rejects(
      db.db.transaction().execute(async (trx) => {
        await thenCommit(insert(1)).execute(trx);
        throw new Error('too late');
      }),
      /committed/,
    );
    assert.deepEqual(await notes(), [1]);
  });

  test('refuse a statement after the one marked thenCommit, which would run outside the transaction', async () => {
    await assert.rejects(
      db.db.transaction().execute(async (trx) => {
        await thenCommit(insert(1)).execute(trx);
        await insert(2).execute(trx);
      }),
      /outside its transaction/,
    );
    assert.deepEqual(await notes(), [1]);
  });

  test('leave statements outside transactions as they were, each its own round trip', async () => {
    const count = await writesDuring(async () => {
      await insert(1).execute(db.db);
      await insert(2).execute(db.db);
    });
    assert.equal(count, 2);
    assert.deepEqual(await notes(), [1, 2]);
  });
});

describe('an outage', () => {
  let outageDatabase: TestDatabase;
  let outageDb: Database<Tables>;
  const failureOf = async (work: Promise<unknown>) => {
    try {
      await work;
    } catch (error) {
      return error;
    }
    assert.fail('expected the statement to fail');
  };

  before(async () => {
    outageDatabase = await createTestDatabase('outage');
    outageDb = createDatabase<Tables>({ url: outageDatabase.url, poolMax: 2, logger: testLogger(), applicationName: 'outage-test' });
    await sql`create table notes (id int primary key, text text not null)`.execute(outageDb.db);
  });

  after(async () => {
    await outageDb?.close();
    await outageDatabase?.drop();
  });

  test('a server that cuts every connection and refuses new ones is unavailable, and the pool recovers by itself once it is back', async () => {
    await insert(1).execute(outageDb.db);
    const reopen = await cutDatabasesOff([outageDatabase.url]);
    try {
      assert.ok(isDatabaseUnavailable(await failureOf(insert(2).execute(outageDb.db))));
      assert.ok(isDatabaseUnavailable(await failureOf(outageDb.db.transaction().execute((trx) => insert(3).execute(trx)))));
    } finally {
      await reopen();
    }
    await insert(4).execute(outageDb.db);
    assert.deepEqual((await outageDb.db.selectFrom('notes').select('id').orderBy('id').execute()).map((row) => row.id), [1, 4]);
  });

  test('a transaction whose connection is terminated half-way is unavailable, and nothing of it is written', async () => {
    const failure = await failureOf(
      outageDb.db.transaction().execute(async (trx) => {
        await insert(10).execute(trx);
        await sql`select pg_terminate_backend(pg_backend_pid())`.execute(trx);
      }),
    );
    assert.ok(isDatabaseUnavailable(failure), String(failure));
    assert.deepEqual((await outageDb.db.selectFrom('notes').select('id').where('id', '=', 10).execute()), []);
  });

  test('a server that nothing listens for is unavailable', async () => {
    const nowhere = createDatabase<Tables>({ url: 'postgres://postgres@127.0.0.1:1/nowhere', poolMax: 1, logger: testLogger(), applicationName: 'nowhere' });
    try {
      assert.ok(isDatabaseUnavailable(await failureOf(insert(1).execute(nowhere.db))));
    } finally {
      await nowhere.close();
    }
  });

  test('a statement that fails on its own merits is not an outage, and keeps its code', async () => {
    await insert(20).execute(outageDb.db);
    const duplicate = await failureOf(insert(20).execute(outageDb.db));
    assert.equal((duplicate as { code?: string }).code, '23505');
    assert.equal(isDatabaseUnavailable(duplicate), false);
    const invalid = await failureOf(sql`select * from no_such_table where id = ${1}`.execute(outageDb.db));
    assert.equal((invalid as { code?: string }).code, '42P01');
    assert.equal(isDatabaseUnavailable(invalid), false);
  });

  test('a request that needs an unavailable database answers 503 with a message and Retry-After, not 500', async () => {
    const app = await createHttpApp({ service: 'outage-test', logger: testLogger() });
    app.post('/notes', async () => {
      await insert(30).execute(outageDb.db);
      return { ok: true };
    });
    app.get('/broken', async () => {
      await sql`select * from no_such_table where id = ${1}`.execute(outageDb.db);
      return {};
    });
    await app.ready();
    try {
      const reopen = await cutDatabasesOff([outageDatabase.url]);
      let response;
      try {
        response = await app.inject({ method: 'POST', url: '/notes' });
      } finally {
        await reopen();
      }
      assert.equal(response.statusCode, 503);
      assert.equal(response.headers['retry-after'], '2');
      assert.deepEqual(response.json(), { error: { code: 'DATABASE_UNAVAILABLE', message: 'the database is unavailable; try again shortly' } });
      // A pooled connection the outage ended may be handed out once more before its error arrives: a
      // request may still get the 503 (with its Retry-After) right after, but the next ones succeed.
      const recovered = await eventually(() => app.inject({ method: 'POST', url: '/notes' }), (answer) => answer.statusCode === 200, 5_000);
      assert.equal(recovered.statusCode, 200, 'answers again once the database is back');
      const broken = await app.inject({ method: 'GET', url: '/broken' });
      assert.equal(broken.statusCode, 500, 'a statement that is wrong is our bug, not an outage');
    } finally {
      await app.close();
    }
  });
});
