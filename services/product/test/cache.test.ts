/**
 * PRODUCT_CACHE=redis: one cache shared by the product replicas, invalidated on every change
 * whoever makes it, and an outage of Redis that only sends reads to Postgres. The test runs a
 * redis-server of its own, so that it can stop it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createDatabase, loadConfig, sql, type App } from '@scaleshop/platform';
import { createTestDatabase, createTestVhost, eventually, testLogger, type TestDatabase, type TestVhost } from '@scaleshop/platform/testing';
import { createProductService } from '../src/app.ts';
import { productConfig } from '../src/config.ts';

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  await eventually(() => probe.connect().then(() => true, () => false), Boolean, 5_000);
  probe.disconnect();
  return child;
}

const stopRedis = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

describe('the shared Redis catalog cache', () => {
  let vhost: TestVhost;
  let database: TestDatabase;
  let redisPort: number;
  let redisServer: ChildProcess;
  let redis: Redis;
  let replicas: App[];

  before(async () => {
    vhost = await createTestVhost('product_cache');
    database = await createTestDatabase('product_cache');
    redisPort = await freePort();
    redisServer = await startRedis(redisPort);
    redis = new Redis(redisPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
    // The outage test stops the server under this client too.
    redis.on('error', () => {});
    const config = loadConfig(productConfig, {
      DATABASE_URL: database.url,
      DATABASE_POOL_MAX: '3',
      RABBITMQ_URL: vhost.url,
      PRODUCT_CACHE: 'redis',
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    });
    replicas = [await createProductService(config, testLogger('product')), await createProductService(config, testLogger('product'))];
  });
  after(async () => {
    await Promise.all(replicas.map((app) => app.close()));
    redis.disconnect();
    if (redisServer.exitCode === null) await stopRedis(redisServer);
    await database.drop();
    await vhost.drop();
  });

  const stockOf = async (app: App, id: number) => {
    const response = await app.inject({ url: `/products/${id}` });
    assert.equal(response.statusCode, 200);
    return (response.json() as { stock: number }).stock;
  };

  test('one replica reads into Redis and the other is served from it', async () => {
    const [first, second] = replicas as [App, App];
    await stockOf(first, 1);
    const cached = JSON.parse((await redis.get('scaleshop:product:1'))!) as { id: number; stock: number };
    assert.equal(cached.id, 1);
    // Changed behind the cache's back, without the trigger: only a cache hit still shows the old stock.
    const direct = createDatabase({ url: database.url, poolMax: 1, logger: testLogger(), applicationName: 'cache-test' });
    try {
      await sql`alter table products disable trigger user`.execute(direct.db);
      await sql`update products set stock = stock + 1000 where id = 1`.execute(direct.db);
      await sql`alter table products enable trigger user`.execute(direct.db);
    } finally {
      await direct.close();
    }
    assert.equal(await stockOf(second, 1), cached.stock, 'served from the shared cache');
    assert.ok(await redis.exists('scaleshop:product:1'));
    const lists = (await replicas[1]!.inject({ url: '/products?category=Electronics' })).json() as { total: number };
    assert.ok(lists.total > 0);
    assert.ok((await redis.keys('scaleshop:products:list:*')).length > 0);
  });

  test('a change made anywhere is seen by every replica at once: item and lists are invalidated', async () => {
    const [first, second] = replicas as [App, App];
    const before = await stockOf(second, 2);
    const listsBefore = await redis.keys('scaleshop:products:list:*');
    // An admin change through one replica; the trigger's NOTIFY reaches both.
    const admin = { 'x-user-id': '00000000-0000-4000-8000-000000000001', 'x-user-email': 'a@example.com', 'x-user-role': 'admin' };
    assert.equal((await first.inject({ method: 'PATCH', url: '/products/2/stock', headers: admin, payload: { stock: before + 7 } })).statusCode, 200);
    assert.equal(await eventually(() => stockOf(second, 2), (stock) => stock === before + 7, 3_000), before + 7);
    const version = await redis.get('scaleshop:products:list-version');
    assert.ok(listsBefore.every((key) => !key.includes(`:list:${version}:`)), 'lists read before the change are under an old version');
  });

  test('with Redis down, reads come from Postgres and nothing fails; when it is back, it is used again', async () => {
    await stopRedis(redisServer);
    for (const app of replicas) {
      for (const id of [1, 2, 3]) assert.equal((await app.inject({ url: `/products/${id}` })).statusCode, 200);
      assert.equal((await app.inject({ url: '/products?limit=5' })).statusCode, 200);
    }
    redisServer = await startRedis(redisPort);
    await sleep(2_500); // the client's reconnection back-off is at most 2 s
    await eventually(
      async () => {
        await replicas[0]!.inject({ url: '/products/3' });
        return redis.exists('scaleshop:product:3').catch(() => 0);
      },
      (exists) => exists === 1,
      5_000,
    );
    assert.equal(await redis.exists('scaleshop:product:3'), 1);
  });
});
