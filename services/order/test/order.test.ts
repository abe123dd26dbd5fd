import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  createDatabase,
  identityHeadersFor,
  loadConfig,
  sql,
  type App,
  type Caller,
  type Database,
  type EventData,
  type EventEnvelope,
  type EventType,
} from '@scaleshop/platform';
import { connectTestBroker, createTestDatabase, createTestVhost, envelopeOf, queueMessageCounts, testLogger, waitFor, type TestBroker, type TestDatabase, type TestVhost } from '@scaleshop/platform/testing';
import { createOrderService } from '../src/app.ts';
import { orderConfig } from '../src/config.ts';
import type { OrderDatabase } from '../src/schema.ts';

interface Line {
  product_id: number;
  name: string;
  price: string;
  quantity: number;
}

const laptop = { product_id: 1, name: 'Gaming Laptop', price: '1299.99', quantity: 2 };
const pens = { product_id: 7, name: 'Gel Pen Pack', price: '8.49', quantity: 3 };
const notebooks = { product_id: 9, name: 'Notebook Set', price: '12.99', quantity: 1 };

interface Customer {
  caller: Caller;
  headers: Record<string, string>;
}

let customerCount = 0;
/** A fresh customer per test keeps each test's orders its own. */
function newCustomer(): Customer {
  customerCount++;
  const caller: Caller = { id: randomUUID(), email: `buyer${customerCount}@example.com`, role: 'customer' };
  return { caller, headers: identityHeadersFor(caller) };
}

/** Who an event is about; every saga event carries it. */
const party = ({ order_id, user_id, user_email }: { order_id: string; user_id: string; user_email: string }) => ({ order_id, user_id, user_email });

const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const eventually = <T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs?: number): Promise<T> =>
  waitFor(what, async () => check(), timeoutMs);

interface OrderBody {
  id: string;
  status: string;
  total_amount: string;
  items: { product_id: number; name: string; price: string; quantity: number; line_total: string }[];
  processing_duration_ms: number | null;
  failure_reason: string | null;
  trace_id: string | null;
  created_at: string;
  history: { status: string; at: string }[];
}

describe('order service', () => {
  let database: TestDatabase;
  let isolatedDatabase: TestDatabase;
  let vhost: TestVhost;
  let cartStub: FastifyInstance;
  let app: App;
  let replica: App;
  let isolatedApp: App | undefined;
  let db: Database<OrderDatabase>;
  let broker: TestBroker;

  /** What the stand-in cart service answers, by user id: lines, or a status to fail with. */
  const carts = new Map<string, Line[] | number>();
  const cartRequests: { userId: unknown; email: unknown; role: unknown; requestId: unknown }[] = [];
  /** Every order.created the service published, as the other services would receive it. */
  const created = () => broker.received.map((entry) => entry.event as EventEnvelope<EventData['order.created']>);

  const config = (overrides: Record<string, string>) =>
    loadConfig(orderConfig, {
      DATABASE_URL: database.url,
      DATABASE_POOL_MAX: '5',
      RABBITMQ_URL: vhost.url,
      RETRY_DELAYS_MS: '50,100',
      OUTBOX_POLL_INTERVAL_MS: '50',
      CART_URL: `http://127.0.0.1:${(cartStub.server.address() as { port: number }).port}`,
      CART_TIMEOUT_MS: '500',
      ...overrides,
    });

  before(async () => {
    [database, isolatedDatabase, vhost] = await Promise.all([createTestDatabase('order'), createTestDatabase('order_nobroker'), createTestVhost('order')]);

    cartStub = Fastify();
    cartStub.get('/cart', async (request, reply) => {
      const userId = request.headers['x-user-id'];
      cartRequests.push({ userId, email: request.headers['x-user-email'], role: request.headers['x-user-role'], requestId: request.headers['x-request-id'] });
      const cart = carts.get(String(userId)) ?? [];
      if (typeof cart === 'number') return reply.code(cart).send({ error: { code: 'DOWN', message: 'down' } });
      const items = cart.map((line) => ({ ...line, line_total: (Math.round(Number(line.price) * 100) * line.quantity / 100).toFixed(2) }));
      return { items, total: items.reduce((sum, item) => sum + Number(item.line_total), 0).toFixed(2) };
    });
    await cartStub.listen({ port: 0, host: '127.0.0.1' });

    app = await createOrderService(config({ SYNC_CHECKOUT_TIMEOUT_MS: '10000' }), testLogger('order'));
    // A second replica on the same database and queue, as in the cluster; its sync checkouts give up quickly.
    replica = await createOrderService(config({ SYNC_CHECKOUT_TIMEOUT_MS: '400' }), testLogger('order-replica'));
    db = createDatabase<OrderDatabase>({ url: database.url, poolMax: 2, logger: testLogger('order'), applicationName: 'order-test' });

    broker = await connectTestBroker(vhost.url, ['order.created']);
  });

  after(async () => {
    await broker?.close().catch(() => {});
    await Promise.all([app?.close(), replica?.close(), isolatedApp?.close()]);
    await cartStub?.close();
    await db?.close();
    await Promise.all([vhost?.drop(), database?.drop(), isolatedDatabase?.drop()]);
  });

  /** Publishes as another service of the saga would: confirmed, persistent, routed by type. */
  async function publish<T extends EventType>(type: T, data: EventData[T], id: string = randomUUID()): Promise<string> {
    await broker.publish({ ...envelopeOf(type, data), id });
    return id;
  }

  const createdFor = (orderId: string) => created().filter((event) => event.data.order_id === orderId);

  /** The order.created of an order; the other services build their events from it. */
  const createdEvent = (orderId: string) => eventually(() => createdFor(orderId)[0], `order.created of ${orderId}`);

  async function checkout(customer: Customer, lines: Line[], url = '/orders/checkout', target: App = app) {
    carts.set(customer.caller.id, lines);
    const response = await target.inject({ method: 'POST', url, headers: customer.headers });
    return { statusCode: response.statusCode, body: response.json() as OrderBody };
  }

  const getOrder = async (customer: Customer, id: string) => (await app.inject({ url: `/orders/${id}`, headers: customer.headers })).json() as OrderBody;

  const statusReached = (customer: Customer, id: string, status: string) =>
    eventually(async () => {
      const order = await getOrder(customer, id);
      return order.status === status ? order : undefined;
    }, `order ${id} to be ${status}`);

  /** Waits until every message sent to order.saga has been handled and acknowledged (retries included). */
  async function sagaDrained(): Promise<void> {
    await eventually(async () => {
      const pending = [...(await queueMessageCounts(vhost.name))]
        .filter(([name]) => name.startsWith('order.saga') && !name.endsWith('.dlq'))
        .reduce((sum, [, messages]) => sum + messages, 0);
      return pending === 0;
    }, 'order.saga to drain');
  }

  const statuses = (order: OrderBody) => order.history.map((entry) => entry.status);

  const historyRows = (orderId: string) =>
    db.db.selectFrom('order_status_history').select(['status']).where('order_id', '=', orderId).orderBy('at').execute();

  test('checkout records a pending order from the cart and publishes order.created exactly once', async () => {
    const customer = newCustomer();
    carts.set(customer.caller.id, [laptop, pens]);
    // This process runs without tracing (no OTEL_EXPORTER_OTLP_ENDPOINT), as a service does with
    // OTEL off: an incoming traceparent is then not the order's trace, and nothing fails over it.
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const response = await app.inject({ method: 'POST', url: '/orders/checkout', headers: { ...customer.headers, 'x-request-id': 'trace-checkout', traceparent } });
    assert.equal(response.statusCode, 202);
    const order = response.json() as OrderBody;
    assert.match(order.id, uuid);
    assert.match(order.created_at, isoTimestamp);
    assert.ok(Number.isInteger(order.processing_duration_ms) && order.processing_duration_ms! >= 0);
    assert.deepEqual(order.history.map((entry) => entry.status), ['pending']);
    assert.match(order.history[0]!.at, isoTimestamp);
    assert.deepEqual(
      { ...order, id: undefined, created_at: undefined, processing_duration_ms: undefined, history: undefined },
      {
        id: undefined,
        status: 'pending',
        // 2 x 1299.99 + 3 x 8.49
        total_amount: '2625.45',
        items: [
          { product_id: 1, name: 'Gaming Laptop', price: '1299.99', quantity: 2, line_total: '2599.98' },
          { product_id: 7, name: 'Gel Pen Pack', price: '8.49', quantity: 3, line_total: '25.47' },
        ],
        processing_duration_ms: undefined,
        failure_reason: null,
        trace_id: null,
        created_at: undefined,
        history: undefined,
      },
    );
    assert.equal((await app.inject({ url: `/orders/${order.id}`, headers: customer.headers })).json().trace_id, null);

    // The cart was read as the caller, under the caller's request id.
    assert.deepEqual(cartRequests.at(-1), { userId: customer.caller.id, email: customer.caller.email, role: 'customer', requestId: 'trace-checkout' });

    const event = await createdEvent(order.id);
    assert.equal(event.type, 'order.created');
    assert.deepEqual(event.data, {
      order_id: order.id,
      user_id: customer.caller.id,
      user_email: customer.caller.email,
      items: [
        { product_id: 1, name: 'Gaming Laptop', price: '1299.99', quantity: 2 },
        { product_id: 7, name: 'Gel Pen Pack', price: '8.49', quantity: 3 },
      ],
      total_amount: '2625.45',
    });
    // Several relay passes later (every 50 ms, by both replicas), still one.
    await sleep(400);
    assert.equal(createdFor(order.id).length, 1);
    const outbox = await db.db.selectFrom('outbox').select(['id', 'published_at']).where('type', '=', 'order.created').where(sql`envelope->'data'->>'order_id'`, '=', order.id).execute();
    assert.equal(outbox.length, 1);
    assert.equal(outbox[0]!.id, event.id);
    assert.notEqual(outbox[0]!.published_at, null);

    assert.deepEqual(await getOrder(customer, order.id), order);
  });

  test('an empty cart is 400 CART_EMPTY: no order, no event', async () => {
    const customer = newCustomer();
    const before = created().length;
    const { statusCode, body } = await checkout(customer, []);
    assert.equal(statusCode, 400);
    assert.equal((body as unknown as { error: { code: string } }).error.code, 'CART_EMPTY');
    const rows = await db.db.selectFrom('orders').select('id').where('user_id', '=', customer.caller.id).execute();
    assert.deepEqual(rows, []);
    await sleep(300);
    assert.equal(created().slice(before).filter((event) => event.data.user_id === customer.caller.id).length, 0);
    assert.deepEqual((await app.inject({ url: '/orders', headers: customer.headers })).json(), { items: [], total: 0 });
  });

  test('a cart whose total is over what an order can hold (9999999999.99) is 400 ORDER_TOO_LARGE: no order, no event', async () => {
    const customer = newCustomer();
    const before = created().length;
    const { statusCode, body } = await checkout(customer, [{ product_id: 3, name: 'Island', price: '9999999999.99', quantity: 2 }]);
    assert.equal(statusCode, 400);
    assert.deepEqual(body, { error: { code: 'ORDER_TOO_LARGE', message: 'the order total 19999999999.98 is over the most one order can be, 9999999999.99' } });
    assert.deepEqual(await db.db.selectFrom('orders').select('id').where('user_id', '=', customer.caller.id).execute(), []);
    await sleep(300);
    assert.equal(created().slice(before).filter((event) => event.data.user_id === customer.caller.id).length, 0);
  });

  test('with the cart service failing, checkout answers 503 with Retry-After and records nothing', async () => {
    const customer = newCustomer();
    carts.set(customer.caller.id, 503);
    const response = await app.inject({ method: 'POST', url: '/orders/checkout', headers: customer.headers });
    assert.equal(response.statusCode, 503);
    assert.equal(response.json().error.code, 'UPSTREAM_UNAVAILABLE');
    // Found by the chaos run's checker: every 503 says when to come back.
    assert.equal(response.headers['retry-after'], '1');
    const rows = await db.db.selectFrom('orders').select('id').where('user_id', '=', customer.caller.id).execute();
    assert.deepEqual(rows, []);
  });

  test('a checkout sent again with its Idempotency-Key answers with the order it placed, even when the copies race on two replicas', async () => {
    const customer = newCustomer();
    carts.set(customer.caller.id, [pens]);
    const send = (key: string | undefined, target: App = app) =>
      target.inject({ method: 'POST', url: '/orders/checkout', headers: { ...customer.headers, ...(key === undefined ? {} : { 'idempotency-key': key }) } });

    const first = await send('checkout-1');
    assert.equal(first.statusCode, 202);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    const again = await send('checkout-1', replica);
    assert.equal(again.statusCode, 202);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.json().id, first.json().id);

    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => send('checkout-2', i % 2 === 0 ? app : replica)));
    assert.deepEqual(burst.map((response) => response.statusCode), [202, 202, 202, 202, 202, 202]);
    assert.equal(new Set(burst.map((response) => response.json().id)).size, 1);
    assert.equal(burst.filter((response) => response.headers['idempotent-replayed'] === 'true').length, 5);
    assert.notEqual(burst[0]!.json().id, first.json().id);

    // Without a key, every checkout is an order of its own.
    assert.equal((await send(undefined)).statusCode, 202);
    const orders = await db.db.selectFrom('orders').select('id').where('user_id', '=', customer.caller.id).execute();
    assert.equal(orders.length, 3);

    // Keys are per user: another customer's checkout-1 is a new order.
    const other = newCustomer();
    carts.set(other.caller.id, [pens]);
    const theirs = await app.inject({ method: 'POST', url: '/orders/checkout', headers: { ...other.headers, 'idempotency-key': 'checkout-1' } });
    assert.equal(theirs.statusCode, 202);
    assert.equal(theirs.headers['idempotent-replayed'], undefined);
    assert.notEqual(theirs.json().id, first.json().id);

    await sleep(300);
    for (const { id } of orders) assert.equal(createdFor(id).length, 1, `one order.created for ${id}`);
  });

  test('an Idempotency-Key that is empty, longer than 255 or not printable ASCII is 400, and places nothing', async () => {
    const customer = newCustomer();
    carts.set(customer.caller.id, [pens]);
    for (const key of ['', 'k'.repeat(256), 'with space', 'clé']) {
      const response = await app.inject({ method: 'POST', url: '/orders/checkout', headers: { ...customer.headers, 'idempotency-key': key } });
      assert.equal(response.statusCode, 400, JSON.stringify(key));
      assert.equal(response.json().error.code, 'VALIDATION_ERROR');
      assert.match(response.json().error.message, /idempotency-key/);
    }
    assert.deepEqual(await db.db.selectFrom('orders').select('id').where('user_id', '=', customer.caller.id).execute(), []);
  });

  test('the happy path: reserved, paid, confirmation sent, completed, with the whole history in order', async () => {
    const customer = newCustomer();
    const { statusCode, body: order } = await checkout(customer, [laptop, pens]);
    assert.equal(statusCode, 202);
    const { data } = await createdEvent(order.id);

    await publish('inventory.reserved', data);
    await statusReached(customer, order.id, 'stock_reserved');
    await publish('payment.processed', { ...data, payment_id: 'pay_1' });
    await statusReached(customer, order.id, 'paid');
    await publish('email.sent', { ...party(data), kind: 'confirmation', recipient: data.user_email, subject: 'Your order', message_id: '<1@test>' });
    const completed = await statusReached(customer, order.id, 'completed');

    assert.deepEqual(statuses(completed), ['pending', 'stock_reserved', 'paid', 'completed']);
    const times = completed.history.map((entry) => Date.parse(entry.at));
    assert.deepEqual([...times].sort((a, b) => a - b), times);
    assert.equal(completed.failure_reason, null);
    assert.equal(completed.total_amount, '2625.45');
    // The saga does not touch the duration an async checkout recorded.
    assert.equal(completed.processing_duration_ms, order.processing_duration_ms);
  });

  test('inventory.rejected ends the order as rejected with its reason; the failure email changes nothing', async () => {
    const customer = newCustomer();
    const { body: order } = await checkout(customer, [laptop]);
    const { data } = await createdEvent(order.id);
    await publish('inventory.rejected', { ...data, reason: 'insufficient stock for Gaming Laptop' });
    const rejected = await statusReached(customer, order.id, 'rejected');
    assert.equal(rejected.failure_reason, 'insufficient stock for Gaming Laptop');
    assert.deepEqual(statuses(rejected), ['pending', 'rejected']);

    await publish('email.sent', { ...party(data), kind: 'failure', recipient: data.user_email, subject: 'Order failed', message_id: '<2@test>' });
    await sagaDrained();
    assert.deepEqual(await getOrder(customer, order.id), rejected);
  });

  test('payment.failed ends the order as payment_failed with its reason; later events cannot revive it', async () => {
    const customer = newCustomer();
    const { body: order } = await checkout(customer, [pens]);
    const { data } = await createdEvent(order.id);
    await publish('inventory.reserved', data);
    await statusReached(customer, order.id, 'stock_reserved');
    await publish('payment.failed', { ...data, reason: 'card declined' });
    const failed = await statusReached(customer, order.id, 'payment_failed');
    assert.equal(failed.failure_reason, 'card declined');
    assert.deepEqual(statuses(failed), ['pending', 'stock_reserved', 'payment_failed']);

    await publish('email.sent', { ...party(data), kind: 'failure', recipient: data.user_email, subject: 'Order failed', message_id: '<3@test>' });
    await publish('email.sent', { ...party(data), kind: 'confirmation', recipient: data.user_email, subject: 'Your order', message_id: '<4@test>' });
    await sagaDrained();
    const after = await getOrder(customer, order.id);
    assert.equal(after.status, 'payment_failed');
    assert.equal(after.failure_reason, 'card declined');
  });

  test('an event delivered twice, or sent twice, changes nothing the second time', async () => {
    const customer = newCustomer();
    const { body: order } = await checkout(customer, [laptop]);
    const { data } = await createdEvent(order.id);

    const reservedId = await publish('inventory.reserved', data);
    const reserved = await statusReached(customer, order.id, 'stock_reserved');
    const updatedAt = () => db.db.selectFrom('orders').select('updated_at').where('id', '=', order.id).executeTakeFirstOrThrow();
    const reservedAt = await updatedAt();
    // The broker redelivering the same message, and a producer sending the same fact again under a new id.
    await publish('inventory.reserved', data, reservedId);
    await publish('inventory.reserved', data);
    await sagaDrained();
    assert.deepEqual(await getOrder(customer, order.id), reserved);
    assert.deepEqual(await updatedAt(), reservedAt);

    await Promise.all([publish('payment.processed', { ...data, payment_id: 'pay_2' }), publish('payment.processed', { ...data, payment_id: 'pay_2' })]);
    await statusReached(customer, order.id, 'paid');
    await sagaDrained();
    assert.deepEqual(await historyRows(order.id), [{ status: 'pending' }, { status: 'stock_reserved' }, { status: 'paid' }]);
  });

  test('events out of order: payment.processed before inventory.reserved ends as paid, with both steps in the history', async () => {
    const customer = newCustomer();
    const { body: order } = await checkout(customer, [pens]);
    const { data } = await createdEvent(order.id);
    await publish('payment.processed', { ...data, payment_id: 'pay_3' });
    await statusReached(customer, order.id, 'paid');
    await publish('inventory.reserved', data);
    await sagaDrained();
    const after = await getOrder(customer, order.id);
    assert.equal(after.status, 'paid');
    // The history is the order in which the steps were recorded.
    assert.deepEqual(statuses(after), ['pending', 'paid', 'stock_reserved']);
  });

  test('all of the saga\'s events at once, in any order, end as completed', async () => {
    const customer = newCustomer();
    const { body: order } = await checkout(customer, [notebooks]);
    const { data } = await createdEvent(order.id);
    await Promise.all([
      publish('email.sent', { ...party(data), kind: 'confirmation', recipient: data.user_email, subject: 'Your order', message_id: '<5@test>' }),
      publish('payment.processed', { ...data, payment_id: 'pay_4' }),
      publish('inventory.reserved', data),
    ]);
    await sagaDrained();
    const after = await getOrder(customer, order.id);
    assert.equal(after.status, 'completed');
    assert.deepEqual([...statuses(after)].sort(), ['completed', 'paid', 'pending', 'stock_reserved']);
  });

  test('an event for an order that does not exist is retried, then dead-lettered', async () => {
    const orderId = randomUUID();
    const eventId = await publish('payment.processed', {
      order_id: orderId,
      user_id: randomUUID(),
      user_email: 'ghost@example.com',
      items: [{ product_id: 1, name: 'Gaming Laptop', price: '1299.99', quantity: 1 }],
      total_amount: '1299.99',
      payment_id: 'pay_ghost',
    });
    const message = await eventually(() => broker.take('order.saga.dlq'), 'the dead-lettered event');
    assert.equal(message.messageId, eventId);
    assert.equal(message.headers['x-dead-lettered-from'], 'order.saga');
    assert.match(String(message.headers['x-last-error']), new RegExp(`order ${orderId} does not exist`));
    const orders = await db.db.selectFrom('orders').select('id').where('id', '=', orderId).execute();
    assert.deepEqual(orders, []);
  });

  test('GET /orders lists only the caller\'s orders, newest first, and pages', async () => {
    const customer = newCustomer();
    const other = newCustomer();
    const first = (await checkout(customer, [laptop])).body;
    const second = (await checkout(customer, [pens])).body;
    const third = (await checkout(customer, [laptop, notebooks])).body;
    const others = (await checkout(other, [pens])).body;

    const list = (await app.inject({ url: '/orders', headers: customer.headers })).json();
    assert.equal(list.total, 3);
    assert.deepEqual(list.items.map((order: OrderBody) => order.id), [third.id, second.id, first.id]);
    assert.deepEqual(list.items[0], await getOrder(customer, third.id));
    assert.equal(list.items[0].total_amount, '2612.97'); // 2 x 1299.99 + 12.99

    const page = (await app.inject({ url: '/orders?limit=2&offset=1', headers: customer.headers })).json();
    assert.equal(page.total, 3);
    assert.deepEqual(page.items.map((order: OrderBody) => order.id), [second.id, first.id]);

    const theirs = (await app.inject({ url: '/orders', headers: other.headers })).json();
    assert.deepEqual(theirs.items.map((order: OrderBody) => order.id), [others.id]);
    assert.equal(theirs.total, 1);

    for (const query of ['limit=0', 'limit=101', 'offset=-1', 'limit=abc']) {
      const response = await app.inject({ url: `/orders?${query}`, headers: customer.headers });
      assert.equal(response.statusCode, 400, query);
    }
  });

  test('another user\'s order is 404 like a missing one; a malformed id is 400', async () => {
    const owner = newCustomer();
    const stranger = newCustomer();
    const { body: order } = await checkout(owner, [pens]);

    const foreign = await app.inject({ url: `/orders/${order.id}`, headers: stranger.headers });
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.json().error.code, 'ORDER_NOT_FOUND');
    const missing = await app.inject({ url: `/orders/${randomUUID()}`, headers: owner.headers });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'ORDER_NOT_FOUND');
    const malformed = await app.inject({ url: '/orders/not-a-uuid', headers: owner.headers });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().error.code, 'VALIDATION_ERROR');
  });

  test('every order route requires the caller\'s identity', async () => {
    const requests = [
      { method: 'POST', url: '/orders/checkout' },
      { method: 'POST', url: '/orders/checkout?mode=bogus' },
      { method: 'GET', url: '/orders' },
      { method: 'GET', url: `/orders/${randomUUID()}` },
      { method: 'GET', url: '/orders/not-a-uuid' },
    ] as const;
    for (const request of requests) {
      const response = await app.inject(request);
      assert.equal(response.statusCode, 401, `${request.method} ${request.url}`);
      assert.equal(response.json().error.code, 'UNAUTHORIZED');
    }
    const notUuid = await app.inject({ url: '/orders', headers: identityHeadersFor({ id: 'not-a-uuid', email: 'x@example.com', role: 'customer' }) });
    assert.equal(notUuid.statusCode, 401);
    const badMode = await app.inject({ method: 'POST', url: '/orders/checkout?mode=bogus', headers: newCustomer().headers });
    assert.equal(badMode.statusCode, 400);
  });

  test('publishes its routes as OpenAPI and is ready while the database answers', async () => {
    const response = await app.inject({ url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    const document = response.json();
    assert.deepEqual(Object.keys(document.paths).sort(), ['/orders', '/orders/checkout', '/orders/{id}']);
    assert.deepEqual(Object.keys(document.paths['/orders/checkout'].post.responses).sort(), ['200', '202', '400', '401', '502', '503', '504']);
    const ready = await eventually(async () => {
      const answer = await app.inject({ url: '/health/ready' });
      return answer.json().optional?.broker === true && answer;
    }, 'the broker reported connected');
    assert.deepEqual(ready.json(), { status: 'ready', checks: { database: true }, optional: { broker: true } });
  });

  test('sync checkout answers 200 only once the order is final, timed from the request to that moment', async () => {
    const customer = newCustomer();
    carts.set(customer.caller.id, [laptop, pens]);
    const started = performance.now();
    const answer = app.inject({ method: 'POST', url: '/orders/checkout?mode=sync', headers: { ...customer.headers, 'idempotency-key': 'sync-1' } });
    let answered = false;
    void answer.then(() => (answered = true));

    const { data } = await eventually(() => created().find((event) => event.data.user_id === customer.caller.id), 'the sync order\'s order.created');
    await sleep(300);
    await publish('inventory.reserved', data);
    await sleep(200);
    assert.equal(answered, false, 'answered before the order was final');
    await publish('payment.processed', { ...data, payment_id: 'pay_sync' });
    await sleep(200);
    assert.equal(answered, false, 'answered before the order was final');
    await publish('email.sent', { ...party(data), kind: 'confirmation', recipient: data.user_email, subject: 'Your order', message_id: '<6@test>' });

    const response = await answer;
    const elapsed = performance.now() - started;
    assert.equal(response.statusCode, 200);
    const order = response.json() as OrderBody;
    assert.equal(order.status, 'completed');
    assert.deepEqual(statuses(order), ['pending', 'stock_reserved', 'paid', 'completed']);
    assert.ok(order.processing_duration_ms! >= 700, `duration ${order.processing_duration_ms} >= 700`);
    assert.ok(order.processing_duration_ms! <= elapsed + 1, `duration ${order.processing_duration_ms} <= ${elapsed}`);
    assert.equal((await getOrder(customer, order.id)).processing_duration_ms, order.processing_duration_ms);

    // Sent again: the final order at once, with the first checkout's duration.
    const replay = await app.inject({ method: 'POST', url: '/orders/checkout?mode=sync', headers: { ...customer.headers, 'idempotency-key': 'sync-1' } });
    assert.equal(replay.statusCode, 200);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replay.json(), order);
  });

  test('sync checkout also answers 200 when the saga fails', async () => {
    const customer = newCustomer();
    carts.set(customer.caller.id, [laptop]);
    const answer = app.inject({ method: 'POST', url: '/orders/checkout?mode=sync', headers: customer.headers });
    const { data } = await eventually(() => created().find((event) => event.data.user_id === customer.caller.id), 'the sync order\'s order.created');
    await sleep(200);
    await publish('inventory.rejected', { ...data, reason: 'out of stock' });
    const response = await answer;
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().status, 'rejected');
    assert.equal(response.json().failure_reason, 'out of stock');
    assert.ok(response.json().processing_duration_ms >= 200);
  });

  test('sync checkout past its timeout answers 202 with the order as it stands', async () => {
    const customer = newCustomer();
    const started = performance.now();
    const { statusCode, body } = await checkout(customer, [pens], '/orders/checkout?mode=sync', replica);
    assert.equal(statusCode, 202);
    assert.ok(performance.now() - started >= 400);
    assert.equal(body.status, 'pending');
    assert.deepEqual(statuses(body), ['pending']);
  });

  test('a sync checkout waiting at shutdown answers 202 at once instead of holding the server open', async () => {
    const stopping = await createOrderService(config({ SYNC_CHECKOUT_TIMEOUT_MS: '20000' }), testLogger('order-stopping'));
    await stopping.listen({ port: 0, host: '127.0.0.1' });
    const { port } = stopping.server.address() as { port: number };
    let closed = false;
    try {
      const customer = newCustomer();
      carts.set(customer.caller.id, [pens]);
      const answer = fetch(`http://127.0.0.1:${port}/orders/checkout?mode=sync`, { method: 'POST', headers: customer.headers });
      await eventually(() => created().find((event) => event.data.user_id === customer.caller.id), 'the sync order\'s order.created');
      const closing = performance.now();
      const [response] = await Promise.all([answer, stopping.close().then(() => (closed = true))]);
      assert.ok(performance.now() - closing < 5_000, 'closed promptly, connection included');
      assert.equal(response.status, 202);
      assert.equal(((await response.json()) as OrderBody).status, 'pending');
    } finally {
      if (!closed) await stopping.close();
    }
  });

  test('with the broker unreachable, checkout still answers 202 and its event waits in the outbox', async () => {
    isolatedApp = await createOrderService(
      config({ DATABASE_URL: isolatedDatabase.url, RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:1/' }),
      testLogger('order-nobroker'),
    );
    const customer = newCustomer();
    const { statusCode, body } = await checkout(customer, [laptop], '/orders/checkout', isolatedApp);
    assert.equal(statusCode, 202);
    assert.equal(body.status, 'pending');

    const ready = await isolatedApp.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    // Ready all the same: the broker is reported, not required.
    assert.deepEqual(ready.json(), { status: 'ready', checks: { database: true }, optional: { broker: false } });

    await sleep(300);
    const isolated = createDatabase<OrderDatabase>({ url: isolatedDatabase.url, poolMax: 1, logger: testLogger('order'), applicationName: 'order-test' });
    try {
      const rows = await isolated.db.selectFrom('outbox').select(['type', 'published_at', 'envelope']).execute();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.type, 'order.created');
      assert.equal(rows[0]!.published_at, null);
      assert.equal((rows[0]!.envelope as EventEnvelope<EventData['order.created']>).data.order_id, body.id);
    } finally {
      await isolated.close();
    }
    assert.equal(createdFor(body.id).length, 0);
  });
});
