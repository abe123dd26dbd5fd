import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDatabase, identityHeadersFor, loadConfig, type App, type Database } from '@scaleshop/platform';
import { createTestDatabase, createTestVhost, eventually, testLogger, type TestDatabase, type TestVhost } from '@scaleshop/platform/testing';
import { createProductService } from '../../product/src/app.ts';
import { productConfig } from '../../product/src/config.ts';
import { createCartService } from '../src/app.ts';
import { cartConfig } from '../src/config.ts';
import type { CartDatabase } from '../src/schema.ts';

let userCount = 0;
/** A fresh customer per test keeps each test's cart its own. */
function newCustomer(): { id: string; headers: Record<string, string> } {
  userCount++;
  const id = `00000000-0000-4000-8000-${String(userCount).padStart(12, '0')}`;
  return { id, headers: identityHeadersFor({ id, email: `c${userCount}@example.com`, role: 'customer' }) };
}

describe('cart service', () => {
  let productDatabase: TestDatabase;
  let cartDatabase: TestDatabase;
  // Both services join the checkout saga; a vhost of their own keeps them off the shared broker's queues.
  let vhost: TestVhost;
  let productApp: App;
  let app: App;
  let db: Database<CartDatabase>;
  /** Product ids by seeded name; the ids are the product service's, the rest comes from the seed. */
  const ids = new Map<string, number>();
  const productRequests: { url: string; requestId: string | undefined }[] = [];
  const idOf = (name: string) => {
    const id = ids.get(name);
    assert.ok(id, `seeded product ${name}`);
    return id;
  };

  before(async () => {
    [productDatabase, cartDatabase, vhost] = await Promise.all([createTestDatabase('cart_product'), createTestDatabase('cart'), createTestVhost('cart_http')]);
    productApp = await createProductService(
      loadConfig(productConfig, { DATABASE_URL: productDatabase.url, DATABASE_POOL_MAX: '3', RABBITMQ_URL: vhost.url }),
      testLogger('product'),
    );
    productApp.addHook('onRequest', async (request) => {
      const header = request.headers['x-request-id'];
      productRequests.push({ url: request.url, requestId: typeof header === 'string' ? header : undefined });
    });
    await productApp.listen({ port: 0, host: '127.0.0.1' });
    const address = productApp.server.address();
    assert.ok(address && typeof address === 'object');
    const catalog = (await productApp.inject({ url: '/products?limit=100' })).json();
    for (const product of catalog.items) ids.set(product.name, product.id);

    app = await createCartService(
      loadConfig(cartConfig, {
        DATABASE_URL: cartDatabase.url,
        DATABASE_POOL_MAX: '3',
        RABBITMQ_URL: vhost.url,
        PRODUCT_URL: `http://127.0.0.1:${address.port}`,
        PRODUCT_TIMEOUT_MS: '500',
      }),
      testLogger('cart'),
    );
    db = createDatabase<CartDatabase>({ url: cartDatabase.url, poolMax: 1, logger: testLogger('cart'), applicationName: 'cart-test' });
  });

  after(async () => {
    await app?.close();
    await productApp?.close();
    await db?.close();
    await Promise.all([cartDatabase?.drop(), productDatabase?.drop(), vhost?.drop()]);
  });

  const rowsOf = (userId: string) =>
    db.db.selectFrom('cart_items').select(['product_id', 'quantity']).where('user_id', '=', userId).orderBy('product_id').execute();

  test('a new customer has an empty cart', async () => {
    const { headers } = newCustomer();
    const response = await app.inject({ url: '/cart', headers });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { items: [], total: '0.00' });
  });

  test('adding items prices them exactly at current catalog prices, in the order added', async () => {
    const { headers } = newCustomer();
    const pens = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Gel Pen Pack'), quantity: 3 } });
    assert.equal(pens.statusCode, 201);
    assert.deepEqual(pens.json(), {
      items: [{ product_id: idOf('Gel Pen Pack'), name: 'Gel Pen Pack', price: '8.49', quantity: 3, line_total: '25.47' }],
      total: '25.47',
    });

    const laptops = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Gaming Laptop'), quantity: 2 } });
    assert.equal(laptops.statusCode, 201);
    assert.deepEqual(laptops.json(), {
      items: [
        { product_id: idOf('Gel Pen Pack'), name: 'Gel Pen Pack', price: '8.49', quantity: 3, line_total: '25.47' },
        { product_id: idOf('Gaming Laptop'), name: 'Gaming Laptop', price: '1299.99', quantity: 2, line_total: '2599.98' },
      ],
      total: '2625.45',
    });

    // Summed as floats this total would come out as 2716.3799999999997.
    const notebooks = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Notebook Set'), quantity: 7 } });
    assert.equal(notebooks.json().items[2].line_total, '90.93');
    assert.equal(notebooks.json().total, '2716.38');

    assert.deepEqual((await app.inject({ url: '/cart', headers })).json(), notebooks.json());
  });

  test('adding a product already in the cart adds to its quantity and keeps its place', async () => {
    const { headers } = newCustomer();
    await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Phone Stand'), quantity: 1 } });
    await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('USB-C Hub'), quantity: 1 } });
    const again = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Phone Stand'), quantity: 4 } });
    assert.equal(again.statusCode, 201);
    assert.deepEqual(again.json(), {
      items: [
        { product_id: idOf('Phone Stand'), name: 'Phone Stand', price: '15.99', quantity: 5, line_total: '79.95' },
        { product_id: idOf('USB-C Hub'), name: 'USB-C Hub', price: '39.99', quantity: 1, line_total: '39.99' },
      ],
      total: '119.94',
    });
  });

  test('adding beyond the stock is refused and leaves the cart as it was', async () => {
    const { headers } = newCustomer();
    // Gaming Laptop: 50 in stock.
    const first = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Gaming Laptop'), quantity: 48 } });
    assert.equal(first.statusCode, 201);

    const tooMany = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Gaming Laptop'), quantity: 3 } });
    assert.equal(tooMany.statusCode, 409);
    assert.deepEqual(tooMany.json(), { error: { code: 'INSUFFICIENT_STOCK', message: 'only 50 of Gaming Laptop in stock' } });
    assert.deepEqual((await app.inject({ url: '/cart', headers })).json(), first.json());

    const exactly = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Gaming Laptop'), quantity: 2 } });
    assert.equal(exactly.statusCode, 201);
    assert.equal(exactly.json().items[0].quantity, 50);

    // Standing Desk: 25 in stock, and not yet in the cart.
    const firstTooMany = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Standing Desk'), quantity: 26 } });
    assert.equal(firstTooMany.statusCode, 409);
    assert.equal(firstTooMany.json().error.code, 'INSUFFICIENT_STOCK');
    assert.match(firstTooMany.json().error.message, /only 25 of Standing Desk in stock/);
    assert.deepEqual((await app.inject({ url: '/cart', headers })).json(), exactly.json());
  });

  test('concurrent adds never take the cart past the stock', async () => {
    const { id, headers } = newCustomer();
    // Bookshelf: 30 in stock; 10 adds of 4 can fit 7 times (28), never 8 (32).
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Bookshelf'), quantity: 4 } })),
    );
    const statuses = responses.map((response) => response.statusCode).sort();
    assert.deepEqual(statuses, [201, 201, 201, 201, 201, 201, 201, 409, 409, 409]);
    assert.deepEqual(await rowsOf(id), [{ product_id: idOf('Bookshelf'), quantity: 28 }]);
  });

  test('an unknown product is 404 and nothing is added', async () => {
    const { id, headers } = newCustomer();
    const response = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: 999999, quantity: 1 } });
    assert.equal(response.statusCode, 404);
    assert.deepEqual(response.json(), { error: { code: 'PRODUCT_NOT_FOUND', message: 'product 999999 not found' } });
    assert.deepEqual(await rowsOf(id), []);
  });

  test('a zero, negative, fractional, textual, too large or missing quantity is a validation error naming the field', async () => {
    const { id, headers } = newCustomer();
    const productId = idOf('Wireless Mouse');
    for (const quantity of [0, -1, 1.5, '2', 1001, undefined]) {
      const response = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: productId, quantity } });
      assert.equal(response.statusCode, 400, String(quantity));
      assert.equal(response.json().error.code, 'VALIDATION_ERROR');
      assert.match(response.json().error.message, /quantity/, String(quantity));
    }
    const noProduct = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { quantity: 1 } });
    assert.equal(noProduct.statusCode, 400);
    assert.match(noProduct.json().error.message, /product_id/);
    assert.deepEqual(await rowsOf(id), []);
  });

  test('PATCH sets the quantity, within the stock, of an item in the cart', async () => {
    const { headers } = newCustomer();
    const chair = idOf('Office Chair'); // 40 in stock at 249.99
    await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: chair, quantity: 5 } });

    const updated = await app.inject({ method: 'PATCH', url: `/cart/items/${chair}`, headers, payload: { quantity: 2 } });
    assert.equal(updated.statusCode, 200);
    assert.deepEqual(updated.json(), {
      items: [{ product_id: chair, name: 'Office Chair', price: '249.99', quantity: 2, line_total: '499.98' }],
      total: '499.98',
    });

    const tooMany = await app.inject({ method: 'PATCH', url: `/cart/items/${chair}`, headers, payload: { quantity: 41 } });
    assert.equal(tooMany.statusCode, 409);
    assert.deepEqual(tooMany.json(), { error: { code: 'INSUFFICIENT_STOCK', message: 'only 40 of Office Chair in stock' } });

    const zero = await app.inject({ method: 'PATCH', url: `/cart/items/${chair}`, headers, payload: { quantity: 0 } });
    assert.equal(zero.statusCode, 400);
    assert.match(zero.json().error.message, /quantity/);

    const absent = await app.inject({ method: 'PATCH', url: `/cart/items/${idOf('Bookshelf')}`, headers, payload: { quantity: 1 } });
    assert.equal(absent.statusCode, 404);
    assert.equal(absent.json().error.code, 'ITEM_NOT_IN_CART');

    const badId = await app.inject({ method: 'PATCH', url: '/cart/items/abc', headers, payload: { quantity: 1 } });
    assert.equal(badId.statusCode, 400);
    assert.match(badId.json().error.message, /product_id/);

    assert.deepEqual((await app.inject({ url: '/cart', headers })).json(), updated.json());
  });

  test('DELETE removes an item; removing one not in the cart is 404', async () => {
    const { headers } = newCustomer();
    await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Desk Organizer'), quantity: 1 } });
    await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Laptop Backpack'), quantity: 2 } });

    const removed = await app.inject({ method: 'DELETE', url: `/cart/items/${idOf('Desk Organizer')}`, headers });
    assert.equal(removed.statusCode, 200);
    assert.deepEqual(removed.json(), {
      items: [{ product_id: idOf('Laptop Backpack'), name: 'Laptop Backpack', price: '59.99', quantity: 2, line_total: '119.98' }],
      total: '119.98',
    });

    const again = await app.inject({ method: 'DELETE', url: `/cart/items/${idOf('Desk Organizer')}`, headers });
    assert.equal(again.statusCode, 404);
    assert.deepEqual(again.json(), { error: { code: 'ITEM_NOT_IN_CART', message: `product ${idOf('Desk Organizer')} is not in the cart` } });

    const last = await app.inject({ method: 'DELETE', url: `/cart/items/${idOf('Laptop Backpack')}`, headers });
    assert.deepEqual(last.json(), { items: [], total: '0.00' });
  });

  test('carts are per user: one cannot see, change or remove another\'s items', async () => {
    const a = newCustomer();
    const b = newCustomer();
    const monitor = idOf('4K Monitor');
    const added = await app.inject({ method: 'POST', url: '/cart/items', headers: a.headers, payload: { product_id: monitor, quantity: 1 } });
    assert.equal(added.statusCode, 201);

    assert.deepEqual((await app.inject({ url: '/cart', headers: b.headers })).json(), { items: [], total: '0.00' });
    const deleted = await app.inject({ method: 'DELETE', url: `/cart/items/${monitor}`, headers: b.headers });
    assert.equal(deleted.statusCode, 404);
    assert.equal(deleted.json().error.code, 'ITEM_NOT_IN_CART');
    const patched = await app.inject({ method: 'PATCH', url: `/cart/items/${monitor}`, headers: b.headers, payload: { quantity: 3 } });
    assert.equal(patched.statusCode, 404);

    // B adding the same product starts B's own line.
    const own = await app.inject({ method: 'POST', url: '/cart/items', headers: b.headers, payload: { product_id: monitor, quantity: 2 } });
    assert.equal(own.json().items[0].quantity, 2);
    assert.deepEqual((await app.inject({ url: '/cart', headers: a.headers })).json(), {
      items: [{ product_id: monitor, name: '4K Monitor', price: '399.99', quantity: 1, line_total: '399.99' }],
      total: '399.99',
    });
  });

  test('every cart route requires the caller\'s identity, checked before the body', async () => {
    const requests = [
      { method: 'GET', url: '/cart' },
      { method: 'POST', url: '/cart/items', payload: { product_id: 1, quantity: 1 } },
      { method: 'POST', url: '/cart/items', payload: { quantity: 0 } },
      { method: 'PATCH', url: '/cart/items/1', payload: { quantity: 1 } },
      { method: 'DELETE', url: '/cart/items/1' },
    ] as const;
    for (const request of requests) {
      const response = await app.inject(request);
      assert.equal(response.statusCode, 401, `${request.method} ${request.url}`);
      assert.equal(response.json().error.code, 'UNAUTHORIZED');
    }
    const notUuid = await app.inject({ url: '/cart', headers: identityHeadersFor({ id: 'not-a-uuid', email: 'x@example.com', role: 'customer' }) });
    assert.equal(notUuid.statusCode, 401);
  });

  test('a view asks the catalog once for all items, forwarding the request id', async () => {
    const { headers } = newCustomer();
    for (const name of ['Wireless Mouse', 'Mechanical Keyboard', 'Noise-Cancelling Headphones']) {
      await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf(name), quantity: 1 } });
    }
    productRequests.length = 0;
    const response = await app.inject({ url: '/cart', headers: { ...headers, 'x-request-id': 'trace-cart-view' } });
    assert.equal(response.json().total, '319.97'); // 29.99 + 89.99 + 199.99
    assert.equal(productRequests.length, 1);
    assert.match(productRequests[0]!.url, /^\/products\?/);
    assert.equal(productRequests[0]!.requestId, 'trace-cart-view');
  });

  test('an item whose product left the catalog is left out of the view', async () => {
    const { id, headers } = newCustomer();
    await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Gel Pen Pack'), quantity: 2 } });
    await db.db.insertInto('cart_items').values({ user_id: id, product_id: 999999, quantity: 1 }).execute();
    assert.deepEqual((await app.inject({ url: '/cart', headers })).json(), {
      items: [{ product_id: idOf('Gel Pen Pack'), name: 'Gel Pen Pack', price: '8.49', quantity: 2, line_total: '16.98' }],
      total: '16.98',
    });
  });

  // Stops the product service, so it must stay the last test here.
  test('with the product service down, adding answers 503 and writes nothing, and the cart stays ready', async () => {
    const { id, headers } = newCustomer();
    await productApp.close();
    const response = await app.inject({ method: 'POST', url: '/cart/items', headers, payload: { product_id: idOf('Wireless Mouse'), quantity: 1 } });
    assert.equal(response.statusCode, 503);
    const body = response.json();
    assert.deepEqual(Object.keys(body), ['error']);
    assert.equal(body.error.code, 'UPSTREAM_UNAVAILABLE');
    assert.match(body.error.message, /product/);
    assert.equal(response.headers['retry-after'], '1');
    assert.deepEqual(await rowsOf(id), []);

    assert.equal((await app.inject({ url: '/cart', headers })).statusCode, 200); // empty: nothing to look up
    // The broker connects in the background (readiness never waits for it); the report turns true once it has.
    const ready = await eventually(() => app.inject({ url: '/health/ready' }), (answer) => answer.json().optional?.broker === true);
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready', checks: { database: true }, optional: { broker: true } });
  });
});
