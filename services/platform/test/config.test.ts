import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, env, loadConfig } from '@scaleshop/platform';

const spec = {
  ...env.serviceSettings(8004),
  ...env.databaseSettings(),
  FLAG: env.boolean(false),
  RATE: env.number({ default: 0, min: 0, max: 1 }),
};

test('applies defaults and converts types', () => {
  const config = loadConfig(spec, { DATABASE_URL: 'postgres://u@h:5432/db/' });
  assert.deepEqual(config, { HOST: '0.0.0.0', PORT: 8004, METRICS_PORT: undefined, SERVICE_INSTANCE_ID: undefined, REUSE_PORT: false, LOG_LEVEL: 'info', DATABASE_URL: 'postgres://u@h:5432/db', DATABASE_POOL_MAX: 10, FLAG: false, RATE: 0 });
  assert.ok(Object.isFrozen(config));
  assert.equal(loadConfig(spec, { DATABASE_URL: 'postgres://h/db', PORT: '9', FLAG: 'yes', RATE: '0.25' }).RATE, 0.25);
});

test('names every missing or bad variable in one error', () => {
  assert.throws(
    () => loadConfig(spec, { PORT: 'eighty', LOG_LEVEL: 'loud', FLAG: 'maybe', RATE: '2', DATABASE_POOL_MAX: '1.5' }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 6);
      for (const name of ['PORT', 'LOG_LEVEL', 'FLAG', 'RATE', 'DATABASE_POOL_MAX']) assert.ok(error.problems.some((p) => p.startsWith(name)), name);
      assert.ok(error.problems.includes('DATABASE_URL is required but not set'));
      return true;
    },
  );
});

test('rejects a database URL of the wrong scheme without echoing its password', () => {
  assert.throws(() => loadConfig(spec, { DATABASE_URL: 'mysql://u:secret@h/db' }), /DATABASE_URL must use one of postgres, postgresql/);
  assert.throws(
    () => loadConfig(spec, { DATABASE_URL: 'postgres://user:secret@host:notaport/db' }),
    (error: unknown) => error instanceof ConfigError && /DATABASE_URL must be a URL/.test(error.message) && !error.message.includes('secret'),
  );
});

test('reads PEM keys whose newlines arrive escaped', () => {
  const config = loadConfig({ KEY: env.pem() }, { KEY: '-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----' });
  assert.equal(config.KEY, '-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----');
  assert.throws(() => loadConfig({ KEY: env.pem() }, { KEY: 'abc' }), /KEY must be a PEM-encoded key/);
});

test('a setting carries what the documentation shows: description, default, whether it is required, what it takes', () => {
  const described = env.integer({ default: 2_000, min: 100, description: 'Deadline of each call.' });
  assert.deepEqual([described.description, described.default, described.required, described.accepts], ['Deadline of each call.', '2000', false, 'integer ≥ 100']);
  assert.deepEqual([env.pem().required, env.pem().default], [true, undefined]);
  assert.equal(env.integerList([1_000, 5_000]).default, '1000,5000');
  assert.equal(env.url({ protocols: ['smtp', 'smtps'] }).accepts, 'smtp or smtps URL');
  assert.equal(env.optionalString().required, false);
  assert.equal(env.describe(env.boolean(true), 'Seeds.').description, 'Seeds.');
  // The description is documentation only: the builders without one parse as they always did.
  assert.equal(loadConfig({ N: env.integer({ default: 1, description: 'n' }) }, { N: '7' }).N, 7);
});
