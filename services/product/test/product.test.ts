import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { identityHeadersFor, loadConfig, type App } from '@scaleshop/platform';
import { createTestDatabase, createTestVhost, eventually, testLogger, type TestDatabase, type TestVhost } from '@scaleshop/platform/testing';
import { createProductService } from '../src/app.ts';
import { productConfig } from '../src/config.ts';
import { demoCatalog } from '../src/seed.ts';

const admin = identityHeadersFor({ id: '00000000-0000-4000-8000-000000000001', email: 'admin@example.com', role: 'admin' });
const customer = identityHeadersFor({ id: '00000000-0000-4000-8000-000000000002', email: 'c@example.com', role: 'customer' });

// Every replica joins the checkout saga; a vhost of its own keeps it off the shared broker's queues.
let vhost: TestVhost;
before(async () => {
  vhost = await createTestVhost('product_http');
});
after(async () => {
  await vhost?.drop();
});

function start(database: TestDatabase, overrides: Record<string, string> = {}): Promise<App> {
  const config = loadConfig(productConfig, { DATABASE_URL: database.url, DATABASE_POOL_MAX: '3', RABBITMQ_URL: vhost.url, ...overrides });
  return createProductService(config, testLogger('product'));
}

describe('product service', () => {
  let database: TestDatabase;
  let app: App;

  before(async () => {
    database = await createTestDatabase('product');
    app = await start(database);
  });
  after(async () => {
    await app.close();
    await database.drop();
  });

  test('serves the seeded catalog with exact decimal prices', async () => {
    const response = await app.inject({ method: 'GET', url: '/products?limit=100' });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.ok(body.total >= 10);
    const laptop = body.items.find((p: { name: string }) => p.name === 'Gaming Laptop');
    assert.deepEqual({ price: laptop.price, category: laptop.category }, { price: '1299.99', category: 'Electronics' });
    const categories = new Set(body.items.map((p: { category: string }) => p.category));
    for (const category of ['Electronics', 'Furniture', 'Stationery', 'Accessories']) assert.ok(categories.has(category), category);
  });

  test('filters by category, case-insensitively, and pages', async () => {
    const all = (await app.inject({ url: '/products?category=Furniture&limit=100' })).json();
    assert.ok(all.items.length >= 2);
    assert.ok(all.items.every((p: { category: string }) => p.category === 'Furniture'));
    const page = (await app.inject({ url: '/products?category=furniture&limit=1&offset=1' })).json();
    assert.equal(page.total, all.total);
    assert.equal(page.items.length, 1);
    assert.equal(page.items[0].id, all.items[1].id);
    const none = (await app.inject({ url: '/products?category=Nothing' })).json();
    assert.deepEqual(none, { items: [], total: 0 });
  });

  test('looks up several products by id at once', async () => {
    const body = (await app.inject({ url: '/products?ids=2,1,999999' })).json();
    assert.deepEqual(body.items.map((p: { id: number }) => p.id), [1, 2]);
  });

  test('answers 404 for an unknown product and 400 for a malformed id or query', async () => {
    const missing = await app.inject({ url: '/products/999999' });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { error: { code: 'PRODUCT_NOT_FOUND', message: 'product 999999 not found' } });
    const malformed = await app.inject({ url: '/products/abc' });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().error.code, 'VALIDATION_ERROR');
    assert.match(malformed.json().error.message, /id/);
    const badLimit = await app.inject({ url: '/products?limit=1000' });
    assert.equal(badLimit.statusCode, 400);
    assert.match(badLimit.json().error.message, /limit/);
    // Past what Postgres's OFFSET takes: a 400 naming it, not a failed statement.
    const hugeOffset = await app.inject({ url: '/products?offset=99999999999999999999' });
    assert.equal(hugeOffset.statusCode, 400);
    assert.match(hugeOffset.json().error.message, /querystring\/offset/);
    // Postgres text cannot hold U+0000.
    const nul = await app.inject({ url: '/products?category=a%00b' });
    assert.equal(nul.statusCode, 400);
    assert.deepEqual(nul.json(), { error: { code: 'VALIDATION_ERROR', message: 'querystring/category must not contain the NUL character (\\u0000)' } });
  });

  test('a customer is refused before the body is looked at, so a bad body tells them nothing', async () => {
    for (const [method, url] of [['POST', '/products'], ['PATCH', '/products/1/stock']] as const) {
      const response = await app.inject({ method, url, payload: { nonsense: true }, headers: customer });
      assert.equal(response.statusCode, 403, `${method} ${url}`);
      assert.equal((await app.inject({ method, url, payload: { nonsense: true } })).statusCode, 401, `${method} ${url}`);
    }
  });

  test('lets an admin add a product and refuses customers and anonymous callers', async () => {
    const payload = { name: 'Desk Lamp', description: 'LED lamp', price: '34.5', stock: 12, category: 'Furniture' };
    const anonymous = await app.inject({ method: 'POST', url: '/products', payload });
    assert.equal(anonymous.statusCode, 401);
    const forbidden = await app.inject({ method: 'POST', url: '/products', payload, headers: customer });
    assert.equal(forbidden.statusCode, 403);
    assert.equal(forbidden.json().error.code, 'FORBIDDEN');
    const created = await app.inject({ method: 'POST', url: '/products', payload, headers: admin });
    assert.equal(created.statusCode, 201);
    assert.equal(created.json().price, '34.50');
    const again = await app.inject({ method: 'POST', url: '/products', payload, headers: admin });
    assert.equal(again.statusCode, 409);
  });

  test('rejects a float, negative or oversized price, naming the field, and takes the largest one its column holds', async () => {
    // numeric(12,2) holds at most 9999999999.99.
    for (const price of [19.99, '-1.00', '1.999', 'abc', '10000000000.00', '99999999999.99']) {
      const response = await app.inject({ method: 'POST', url: '/products', payload: { name: `x${price}`, price, stock: 1, category: 'X' }, headers: admin });
      assert.equal(response.statusCode, 400, String(price));
      assert.match(response.json().error.message, /price/);
    }
    const largest = await app.inject({ method: 'POST', url: '/products', payload: { name: 'Largest', price: '9999999999.99', stock: 1, category: 'X' }, headers: admin });
    assert.equal(largest.statusCode, 201);
    assert.equal(largest.json().price, '9999999999.99');
    const nul = await app.inject({ method: 'POST', url: '/products', payload: { name: 'Nul\u0000Lamp', price: '1.00', stock: 1, category: 'X' }, headers: admin });
    assert.equal(nul.statusCode, 400);
    assert.match(nul.json().error.message, /^body\/name must not contain the NUL character/);
  });

  test('sets stock, and a negative stock is refused without changing anything', async () => {
    const updated = await app.inject({ method: 'PATCH', url: '/products/2/stock', payload: { stock: 7 }, headers: admin });
    assert.equal(updated.statusCode, 200);
    assert.equal(updated.json().stock, 7);
    const negative = await app.inject({ method: 'PATCH', url: '/products/2/stock', payload: { stock: -1 }, headers: admin });
    assert.equal(negative.statusCode, 400);
    assert.equal((await app.inject({ url: '/products/2' })).json().stock, 7);
    const missing = await app.inject({ method: 'PATCH', url: '/products/999999/stock', payload: { stock: 1 }, headers: admin });
    assert.equal(missing.statusCode, 404);
  });

  test('a change made through one replica reaches the cache of another', async () => {
    const other = await start(database, { PRODUCT_CACHE_TTL_MS: '600000', SEED_CATALOG: 'false' });
    try {
      assert.equal((await other.inject({ url: '/products/3' })).json().stock, 150);
      await app.inject({ method: 'PATCH', url: '/products/3/stock', payload: { stock: 42 }, headers: admin });
      let seen = 0;
      for (let i = 0; i < 50 && seen !== 42; i++) {
        await sleep(20);
        seen = (await other.inject({ url: '/products/3' })).json().stock;
      }
      assert.equal(seen, 42);
    } finally {
      await other.close();
    }
  });

  test('health reports ready when the database answers', async () => {
    // The broker connects in the background (readiness never waits for it); the report turns true once it has.
    const ready = await eventually(() => app.inject({ url: '/health/ready' }), (answer) => answer.json().optional?.broker === true);
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready', checks: { database: true }, optional: { broker: true } });
  });
});

describe('product service start-up', () => {
  // The README's examples name demo products by id (product 1 is the laptop), so the ids must not
  // depend on which replica won a race or on how often the service restarted.
  test('replicas starting at once on an empty database migrate and seed exactly once, the catalog in order from id 1', async () => {
    const database = await createTestDatabase('product_race');
    const running: App[] = [];
    try {
      running.push(...(await Promise.all([start(database), start(database), start(database)])));
      const seeded = (await running[0]!.inject({ url: '/products?limit=100' })).json();
      assert.deepEqual(
        seeded.items.map((product: { id: number; name: string }) => [product.id, product.name]),
        demoCatalog.map((product, index) => [index + 1, product.name]),
      );
      await Promise.all(running.splice(0).map((replica) => replica.close()));

      const again = await start(database);
      running.push(again);
      assert.equal((await again.inject({ url: '/products?limit=100' })).json().total, demoCatalog.length);
      const created = await again.inject({ method: 'POST', url: '/products', payload: { name: 'Desk Lamp', price: '19.99', stock: 5, category: 'Furniture' }, headers: admin });
      assert.equal(created.statusCode, 201);
      assert.equal(created.json().id, demoCatalog.length + 1, 'seeding again took no ids');
    } finally {
      await Promise.all(running.map((replica) => replica.close()));
      await database.drop();
    }
  });
});
