import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createDatabase, loadConfig, type App, type Database, type EventData, type EventEnvelope } from '@scaleshop/platform';
import { connectTestBroker, createTestDatabase, createTestVhost, testLogger, waitFor, type TestBroker, type TestDatabase, type TestVhost } from '@scaleshop/platform/testing';
import { createCartService } from '../src/app.ts';
import { cartConfig } from '../src/config.ts';
import type { CartDatabase } from '../src/schema.ts';

let userCount = 0;
const newUser = () => `00000000-0000-4000-8000-${String(++userCount).padStart(12, '0')}`;

function orderCreated(userId: string, productIds: number[]): EventEnvelope<EventData['order.created']> {
  return {
    id: randomUUID(),
    type: 'order.created',
    occurred_at: new Date().toISOString(),
    data: {
      order_id: randomUUID(),
      user_id: userId,
      user_email: 'buyer@example.com',
      items: productIds.map((product_id) => ({ product_id, name: `product ${product_id}`, price: '10.00', quantity: 1 })),
      total_amount: `${10 * productIds.length}.00`,
    },
  };
}

const until = (done: () => Promise<boolean>, what: string) => waitFor(what, done);

describe('cart service in the checkout saga', () => {
  let database: TestDatabase;
  let vhost: TestVhost;
  let app: App;
  let db: Database<CartDatabase>;
  let broker: TestBroker;

  before(async () => {
    [database, vhost] = await Promise.all([createTestDatabase('cart_saga'), createTestVhost('cart')]);
    app = await createCartService(
      loadConfig(cartConfig, {
        DATABASE_URL: database.url,
        DATABASE_POOL_MAX: '3',
        RABBITMQ_URL: vhost.url,
        RETRY_DELAYS_MS: '50,100',
        OUTBOX_POLL_INTERVAL_MS: '50',
        // One at a time, in order, so that an event having been handled means those before it were too.
        CONSUMER_PREFETCH: '1',
        // Nothing here calls the catalog.
        PRODUCT_URL: 'http://127.0.0.1:9',
      }),
      testLogger('cart'),
    );
    db = createDatabase<CartDatabase>({ url: database.url, poolMax: 1, logger: testLogger('cart'), applicationName: 'cart-saga-test' });
    broker = await connectTestBroker(vhost.url, []);
    await broker.waitForConsumer('cart.orders');
  });

  after(async () => {
    await broker?.close();
    await app?.close();
    await db?.close();
    await Promise.all([vhost?.drop(), database?.drop()]);
  });

  const publish = (...events: EventEnvelope[]) => broker.publish(...events);

  /** The consumer marks an event processed in the transaction that applied it. */
  const handled = (event: EventEnvelope) =>
    until(
      async () => (await db.db.selectFrom('processed_events').select('event_id').where('consumer', '=', 'cart.orders').where('event_id', '=', event.id).execute()).length === 1,
      `event ${event.id} to be handled`,
    );

  async function putInCart(userId: string, items: Record<number, number>): Promise<void> {
    await db.db
      .insertInto('cart_items')
      .values(Object.entries(items).map(([productId, quantity]) => ({ user_id: userId, product_id: Number(productId), quantity })))
      .execute();
  }

  const cartOf = async (userId: string) =>
    Object.fromEntries(
      (await db.db.selectFrom('cart_items').select(['product_id', 'quantity']).where('user_id', '=', userId).orderBy('product_id').execute()).map((item) => [item.product_id, item.quantity]),
    );

  test('an order empties the cart of what it bought', async () => {
    const buyer = newUser();
    await putInCart(buyer, { 1: 2, 2: 1 });
    const event = orderCreated(buyer, [1, 2]);
    await publish(event);
    await handled(event);
    assert.deepEqual(await cartOf(buyer), {});
  });

  test('a product the order did not include stays in the cart, and other users\' carts are untouched', async () => {
    const [buyer, other] = [newUser(), newUser()];
    await putInCart(buyer, { 1: 1, 2: 3, 3: 1 });
    await putInCart(other, { 1: 4, 2: 1 });
    const event = orderCreated(buyer, [1, 3]);
    await publish(event);
    await handled(event);
    assert.deepEqual(await cartOf(buyer), { 2: 3 });
    assert.deepEqual(await cartOf(other), { 1: 4, 2: 1 });
  });

  test('a redelivered order.created changes nothing more, not even a product put back in the cart since', async () => {
    const buyer = newUser();
    await putInCart(buyer, { 5: 1, 6: 1 });
    const event = orderCreated(buyer, [5]);
    await publish(event, event);
    await handled(event);
    await putInCart(buyer, { 5: 2 });
    await publish(event);
    // Handled in order, one at a time: once this one is, the redeliveries before it were too.
    const marker = orderCreated(newUser(), [5]);
    await publish(marker);
    await handled(marker);
    assert.deepEqual(await cartOf(buyer), { 5: 2, 6: 1 });
  });

  test('an order from a user with nothing in the cart is handled without effect', async () => {
    const event = orderCreated(newUser(), [1]);
    await publish(event);
    await handled(event);
  });
});
