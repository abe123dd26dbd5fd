/**
 * The Shop spec's fault knobs, through a file as the kubelet keeps a ConfigMap volume (the file
 * a symlink through `..data`, replaced by swapping that link), against a real Postgres: two
 * replicas converge on a changed file, an admin's change since survives a restart, and a bad
 * file changes nothing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { faultKnobs, openDatabase, runtimeKnobsMigration, startRuntimeKnobs, type Database, type RuntimeKnobs } from '@scaleshop/platform';
import { createTestDatabase, testLogger, waitFor, type TestDatabase } from '@scaleshop/platform/testing';

type PaymentKnob = keyof typeof faultKnobs.payment;

/** A ConfigMap volume as the kubelet lays it out: fault-knobs.json → ..data/fault-knobs.json, ..data → a timestamped directory. */
function configMapVolume() {
  const root = mkdtempSync(join(tmpdir(), 'knobs-volume-'));
  let version = 0;
  const write = (content: string) => {
    const directory = `..${Date.now()}_${++version}`;
    mkdirSync(join(root, directory));
    writeFileSync(join(root, directory, 'fault-knobs.json'), content);
    symlinkSync(directory, join(root, '..data_tmp'));
    // The atomic swap the kubelet's AtomicWriter makes.
    renameSync(join(root, '..data_tmp'), join(root, '..data'));
  };
  return {
    path: join(root, 'fault-knobs.json'),
    write,
    init(content: string) {
      write(content);
      symlinkSync('..data/fault-knobs.json', join(root, 'fault-knobs.json'));
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

describe('fault knobs from the Shop spec’s file', () => {
  let testDatabase: TestDatabase;
  let database: Database<unknown>;
  const volume = configMapVolume();
  const replicas: RuntimeKnobs<PaymentKnob>[] = [];
  const logger = testLogger('payment');
  const start = async () => {
    const knobs = startRuntimeKnobs<PaymentKnob>({
      db: database.db,
      databaseUrl: testDatabase.url,
      logger,
      defaults: { failure_rate: 0, latency_ms: 1000 },
      specFile: { path: volume.path, specs: faultKnobs.payment, intervalMs: 50 },
    });
    await knobs.ready;
    replicas.push(knobs);
    return knobs;
  };

  before(async () => {
    testDatabase = await createTestDatabase('knob_file');
    database = await openDatabase({ service: 'payment', config: { DATABASE_URL: testDatabase.url, DATABASE_POOL_MAX: 4 }, logger, migrations: { '0001_runtime_knobs': runtimeKnobsMigration } });
    volume.init(JSON.stringify({ failure_rate: 0.25, latency_ms: 200 }));
  });
  after(async () => {
    for (const knobs of replicas) await knobs.close();
    await database?.close();
    await testDatabase?.drop();
    volume.remove();
  });

  test('the file’s values are in force once a replica is ready, and a changed file reaches every replica', async () => {
    const first = await start();
    assert.deepEqual(first.current(), { failure_rate: 0.25, latency_ms: 200 });
    const second = await start();
    assert.deepEqual(second.current(), { failure_rate: 0.25, latency_ms: 200 });
    volume.write(JSON.stringify({ failure_rate: 0.5, latency_ms: 200 }));
    await waitFor('both replicas at 0.5', async () => first.current().failure_rate === 0.5 && second.current().failure_rate === 0.5);
    const { rows } = await database.pool.query("select updated_by from runtime_knobs where name = 'failure_rate'");
    assert.equal(rows[0].updated_by, 'shop-spec');
  });

  test('an admin’s change since the spec last changed survives a restart; the next change of the spec wins', async () => {
    const [first] = replicas as [RuntimeKnobs<PaymentKnob>];
    await first.set({ latency_ms: 5 }, 'admin@example.com');
    const restarted = await start();
    assert.equal(restarted.current().latency_ms, 5, 'the spec did not change: the admin’s value stands');
    volume.write(JSON.stringify({ failure_rate: 0.5, latency_ms: 300 }));
    await waitFor('every replica at 300 ms', async () => replicas.every((knobs) => knobs.current().latency_ms === 300));
  });

  test('a file that is not valid knobs changes nothing', async () => {
    volume.write(JSON.stringify({ failure_rate: 7, latency_ms: 300 }));
    volume.write('{not json');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(replicas.map((knobs) => knobs.current()), replicas.map(() => ({ failure_rate: 0.5, latency_ms: 300 })));
  });
});
