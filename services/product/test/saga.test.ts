import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { createDatabase, identityHeadersFor, loadConfig, type App, type Database, type EventData, type EventEnvelope, type Logger } from '@scaleshop/platform';
import {
  connectTestBroker,
  createTestDatabase,
  createTestVhost,
  envelopeOf as envelope,
  queuesDrained,
  waitFor,
  type TestBroker,
  type TestDatabase,
  type TestVhost,
} from '@scaleshop/platform/testing';
import { createProductService } from '../src/app.ts';
import { productConfig } from '../src/config.ts';
import type { ProductDatabase } from '../src/schema.ts';

const admin = identityHeadersFor({ id: '00000000-0000-4000-8000-000000000001', email: 'admin@example.com', role: 'admin' });
const customer = { user_id: '00000000-0000-4000-8000-000000000002', user_email: 'c@example.com' };

/**
 * A failed attempt is retried, so the counts alone could hide a handler that broke the
 * stock check and was saved by the constraint on the retry; these are kept to assert on.
 */
const failures: string[] = [];
const logger: Logger = pino(
  { level: 'warn' },
  {
    write(line: string) {
      const entry = JSON.parse(line) as { msg: string; err?: { message?: string } };
      failures.push(entry.err?.message ? `${entry.msg}: ${entry.err.message}` : entry.msg);
    },
  },
);

function start(database: TestDatabase, vhost: TestVhost, overrides: Record<string, string> = {}): Promise<App> {
  const config = loadConfig(productConfig, {
    DATABASE_URL: database.url,
    DATABASE_POOL_MAX: '5',
    RABBITMQ_URL: vhost.url,
    RETRY_DELAYS_MS: '50,100',
    OUTBOX_POLL_INTERVAL_MS: '50',
    CONSUMER_PREFETCH: '20',
    // Long enough that a fresh read after a reservation can only come from the change notification.
    PRODUCT_CACHE_TTL_MS: '600000',
    ...overrides,
  });
  return createProductService(config, logger);
}

type Line = { product_id: number; quantity: number };

function order(lines: Line[]): EventData['order.created'] {
  return {
    order_id: randomUUID(),
    ...customer,
    items: lines.map((line) => ({ ...line, name: `product ${line.product_id}`, price: '10.00' })),
    total_amount: `${lines.reduce((sum, line) => sum + 10 * line.quantity, 0)}.00`,
  };
}

function paymentFailed(placed: EventData['order.created']): EventData['payment.failed'] {
  return { ...placed, reason: 'card declined' };
}

describe('product service in the checkout saga', () => {
  let database: TestDatabase;
  let vhost: TestVhost;
  let app: App;
  let broker: TestBroker;
  let db: Database<ProductDatabase>;
  let productCount = 0;

  before(async () => {
    [database, vhost] = await Promise.all([createTestDatabase('product_saga'), createTestVhost('product')]);
    app = await start(database, vhost);
    db = createDatabase<ProductDatabase>({ url: database.url, poolMax: 2, logger, applicationName: 'product-saga-test' });
    broker = await connectTestBroker(vhost.url, ['inventory.*']);
    await broker.waitForConsumer('product.orders');
  });

  after(async () => {
    await broker?.close();
    await app?.close();
    await db?.close();
    await Promise.all([vhost?.drop(), database?.drop()]);
  });

  async function newProduct(stock: number): Promise<{ id: number; name: string }> {
    productCount++;
    const name = `Saga Product ${productCount}`;
    const response = await app.inject({ method: 'POST', url: '/products', headers: admin, payload: { name, price: '10.00', stock, category: 'Saga' } });
    assert.equal(response.statusCode, 201);
    return { id: response.json().id, name };
  }

  const stockOf = async (id: number) => (await db.db.selectFrom('products').select('stock').where('id', '=', id).executeTakeFirstOrThrow()).stock;

  const reservationOf = (orderId: string) =>
    db.db.selectFrom('reservations').select(['items', 'status', 'released_at']).where('order_id', '=', orderId).executeTakeFirst();

  /** Everything published has been handled and everything emitted has been published and received. */
  async function settled(): Promise<void> {
    await queuesDrained(vhost.name, 'product.orders');
    await until(async () => (await db.db.selectFrom('outbox').select('id').where('published_at', 'is', null).execute()).length === 0, 'the outbox to empty');
    // Our queue receives within milliseconds of the broker's confirm to the relay.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  /** The inventory events seen so far, and those of `type` about `orderId`. */
  const inventoryEvents = (): EventEnvelope[] => broker.received.map((entry) => entry.event);
  const about = (type: string, orderId: string) => broker.eventsFor(orderId).filter((event) => event.type === type);
  const until = (done: () => boolean | Promise<boolean>, what: string, timeoutMs?: number) => waitFor(what, async () => done(), timeoutMs);

  test('an order whose stock is there is reserved: stock taken, inventory.reserved emitted with the order', async () => {
    const [laptop, mouse] = [await newProduct(10), await newProduct(4)];
    const cached = await app.inject({ url: `/products/${laptop.id}` });
    assert.equal(cached.json().stock, 10);
    const stockByIds = async () => (await app.inject({ url: `/products?ids=${mouse.id},${laptop.id}` })).json().items.map((item: { stock: number }) => item.stock);
    assert.deepEqual(await stockByIds(), [10, 4]);

    const placed = order([{ product_id: laptop.id, quantity: 3 }, { product_id: mouse.id, quantity: 4 }]);
    await broker.publish(envelope('order.created', placed));
    await until(() => about('inventory.reserved', placed.order_id).length === 1, 'inventory.reserved');

    const { order_id, user_id, user_email, items, total_amount } = placed;
    assert.deepEqual(about('inventory.reserved', placed.order_id)[0]!.data, { order_id, user_id, user_email, items, total_amount });
    assert.equal(await stockOf(laptop.id), 7);
    assert.equal(await stockOf(mouse.id), 0);
    const reservation = await reservationOf(placed.order_id);
    assert.equal(reservation?.status, 'reserved');
    assert.deepEqual(reservation?.items, [{ product_id: laptop.id, quantity: 3 }, { product_id: mouse.id, quantity: 4 }]);

    // The catalog cache learns of the change through the stock trigger's notification, not its TTL.
    await until(async () => (await app.inject({ url: `/products/${laptop.id}` })).json().stock === 7, 'the cached stock to follow the reservation');
    await until(async () => JSON.stringify(await stockByIds()) === '[7,0]', 'the cached lookup by ids to follow the reservation');
    await settled();
    assert.equal(broker.eventsFor(placed.order_id).length, 1);
  });

  test('an order one of whose products is short is rejected, and no stock is taken for any', async () => {
    const [plenty, scarce] = [await newProduct(5), await newProduct(1)];
    const placed = order([{ product_id: plenty.id, quantity: 2 }, { product_id: scarce.id, quantity: 2 }]);
    await broker.publish(envelope('order.created', placed));
    await until(() => about('inventory.rejected', placed.order_id).length === 1, 'inventory.rejected');

    const { order_id, user_id, user_email, items, total_amount } = placed;
    assert.deepEqual(about('inventory.rejected', placed.order_id)[0]!.data, {
      order_id,
      user_id,
      user_email,
      items,
      total_amount,
      reason: `insufficient stock for ${scarce.name}: 2 requested, 1 available`,
    });
    assert.equal(await stockOf(plenty.id), 5);
    assert.equal(await stockOf(scarce.id), 1);
    assert.equal(await reservationOf(placed.order_id), undefined);
    await settled();
    assert.equal(broker.eventsFor(placed.order_id).length, 1);
  });

  test('an order naming a product that does not exist is rejected', async () => {
    const known = await newProduct(5);
    const placed = order([{ product_id: known.id, quantity: 1 }, { product_id: 999_999, quantity: 1 }]);
    await broker.publish(envelope('order.created', placed));
    await until(() => about('inventory.rejected', placed.order_id).length === 1, 'inventory.rejected');
    assert.equal((about('inventory.rejected', placed.order_id)[0]!.data as { reason: string }).reason, 'product 999999 does not exist');
    assert.equal(await stockOf(known.id), 5);
    assert.equal(await reservationOf(placed.order_id), undefined);
  });

  test('the same order.created delivered twice takes the stock once and is answered once', async () => {
    const product = await newProduct(10);
    const placed = order([{ product_id: product.id, quantity: 3 }]);
    const event = envelope('order.created', placed);
    await broker.publish(event, event);
    await until(() => about('inventory.reserved', placed.order_id).length >= 1, 'inventory.reserved');
    // And the same order again under a new event id, as a republishing order service would send it.
    await broker.publish(envelope('order.created', placed));
    await settled();
    assert.equal(await stockOf(product.id), 7);
    assert.equal(broker.eventsFor(placed.order_id).length, 1);
  });

  test('payment.failed gives the reserved stock back exactly once, however often it arrives', async () => {
    const product = await newProduct(10);
    const placed = order([{ product_id: product.id, quantity: 4 }]);
    await broker.publish(envelope('order.created', placed));
    await until(() => about('inventory.reserved', placed.order_id).length === 1, 'inventory.reserved');
    assert.equal(await stockOf(product.id), 6);

    const failed = envelope('payment.failed', paymentFailed(placed));
    await broker.publish(failed, failed, envelope('payment.failed', paymentFailed(placed)));
    await until(() => about('inventory.released', placed.order_id).length >= 1, 'inventory.released');
    await settled();

    assert.equal(await stockOf(product.id), 10);
    const released = about('inventory.released', placed.order_id);
    assert.equal(released.length, 1);
    const { order_id, user_id, user_email, items } = placed;
    assert.deepEqual(released[0]!.data, { order_id, user_id, user_email, items });
    const reservation = await reservationOf(placed.order_id);
    assert.equal(reservation?.status, 'released');
    assert.ok(reservation?.released_at instanceof Date);
  });

  test('payment.failed for an order whose stock was never reserved changes nothing', async () => {
    const product = await newProduct(1);
    const placed = order([{ product_id: product.id, quantity: 2 }]);
    await broker.publish(envelope('order.created', placed));
    await until(() => about('inventory.rejected', placed.order_id).length === 1, 'inventory.rejected');
    await broker.publish(envelope('payment.failed', paymentFailed(placed)), envelope('payment.failed', paymentFailed(order([{ product_id: product.id, quantity: 1 }]))));
    await settled();
    assert.equal(await stockOf(product.id), 1);
    assert.equal(broker.eventsFor(placed.order_id).length, 1);
    assert.equal(inventoryEvents().filter((event) => event.type === 'inventory.released' && (event.data as { items: Line[] }).items[0]?.product_id === product.id).length, 0);
  });

  test('two replicas handling 30 orders at once for 5 in stock reserve exactly 5 and never oversell', async () => {
    const product = await newProduct(100);
    const patched = await app.inject({ method: 'PATCH', url: `/products/${product.id}/stock`, headers: admin, payload: { stock: 5 } });
    assert.equal(patched.statusCode, 200);
    const replica = await start(database, vhost, { SEED_CATALOG: 'false' });
    try {
      await broker.waitForConsumer('product.orders', { count: 2 });
      failures.length = 0;
      const orders = Array.from({ length: 30 }, () => order([{ product_id: product.id, quantity: 1 }]));
      const ids = new Set(orders.map((placed) => placed.order_id));
      const answered = () => inventoryEvents().filter((event) => ids.has((event.data as { order_id: string }).order_id));

      let lowest = Infinity;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) lowest = Math.min(lowest, await stockOf(product.id));
      })();
      await broker.publish(...orders.map((placed) => envelope('order.created', placed)));
      await until(() => answered().length >= 30, '30 answers', 20_000);
      sampling = false;
      await sampler;
      await settled();

      const reserved = answered().filter((event) => event.type === 'inventory.reserved');
      const rejected = answered().filter((event) => event.type === 'inventory.rejected');
      assert.equal(reserved.length, 5);
      assert.equal(rejected.length, 25);
      assert.equal(answered().length, 30);
      assert.equal(new Set(answered().map((event) => (event.data as { order_id: string }).order_id)).size, 30);
      for (const event of rejected) {
        assert.equal((event.data as { reason: string }).reason, `insufficient stock for ${product.name}: 1 requested, 0 available`);
      }
      assert.equal(await stockOf(product.id), 0);
      assert.ok(lowest >= 0, `stock went down to ${lowest}`);
      const reservations = await db.db.selectFrom('reservations').select('order_id').where('order_id', 'in', [...ids]).execute();
      assert.equal(reservations.length, 5);
      assert.deepEqual(failures, [], 'no handler attempt failed');
    } finally {
      await replica.close();
    }
  });
});
