/**
 * The chaos checker over hand-made histories: a clean one passes every invariant, and each kind
 * of damage (a lost order, a duplicate payment, an oversell…) fails the invariant it breaks,
 * naming the orders involved, and no other.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check, type InvariantResult } from '../scripts/chaos/checker.ts';
import type { History } from '../scripts/chaos/history.ts';

const t0 = Date.parse('2026-01-01T00:00:00Z');
const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const C = '00000000-0000-4000-8000-00000000000c';
const mid = (order: string, kind: string) => `<order-${order}-${kind}@scaleshop.local>`;

/**
 * Three orders: A completed (2 of product 7), B payment_failed (1 of product 8, given back),
 * C rejected (nothing taken). Product 7 had 100 and has 98; product 8 had 50 and has 50.
 */
function cleanHistory(): History {
  return {
    requests: [
      { at: t0, ms: 5, name: 'GET /api/products', status: 200 },
      { at: t0 + 10, ms: 20, name: 'POST /api/orders/checkout', status: 202, idempotencyKey: 'k-a', orderId: A },
      { at: t0 + 11, ms: 20, name: 'POST /api/orders/checkout', status: 200, idempotencyKey: 'k-a', orderId: A },
      { at: t0 + 20, ms: 20, name: 'POST /api/orders/checkout', status: 202, idempotencyKey: 'k-b', orderId: B },
      { at: t0 + 30, ms: 20, name: 'POST /api/orders/checkout', status: 202, idempotencyKey: 'k-c', orderId: C },
      { at: t0 + 40, ms: 3, name: 'GET /api/cart', status: 503, code: 'DATABASE_UNAVAILABLE', retryAfter: '2' },
      { at: t0 + 50, ms: 3, name: 'GET /api/cart', status: 504, code: 'UPSTREAM_TIMEOUT' },
    ],
    faults: [{ kind: 'db-cut', target: 'cart', start: t0 + 35, end: t0 + 60 }],
    state: {
      orders: [
        { id: A, status: 'completed', idempotency_key: 'k-a', items: [{ product_id: 7, quantity: 2 }] },
        { id: B, status: 'payment_failed', idempotency_key: 'k-b', items: [{ product_id: 8, quantity: 1 }] },
        { id: C, status: 'rejected', idempotency_key: 'k-c', items: [{ product_id: 7, quantity: 1000 }] },
      ],
      payments: [
        { order_id: A, status: 'succeeded' },
        { order_id: B, status: 'declined' },
      ],
      reservations: [
        { order_id: A, status: 'reserved', items: [{ product_id: 7, quantity: 2 }] },
        { order_id: B, status: 'released', items: [{ product_id: 8, quantity: 1 }] },
      ],
      initialStock: { '7': 100, '8': 50 },
      stock: { '7': 98, '8': 50 },
      emails: [
        { message_id: mid(A, 'confirmation'), to: 'a@example.com', subject: 'Your order' },
        { message_id: mid(B, 'failure'), to: 'b@example.com', subject: 'Could not complete' },
        { message_id: mid(C, 'failure'), to: 'c@example.com', subject: 'Could not complete' },
      ],
      deadLetters: [{ queue: 'order.saga.dlq', messages: 0, reasons: [] }],
    },
  };
}

const failing = (results: InvariantResult[]) => results.filter((entry) => !entry.passed).map((entry) => entry.name);
const invariant = (results: InvariantResult[], name: string) => results.find((entry) => entry.name === name)!;

describe('chaos checker', () => {
  it('passes a clean history on every invariant, each having checked something', () => {
    const results = check(cleanHistory());
    assert.deepEqual(failing(results), []);
    assert.deepEqual(
      results.map((entry) => entry.name),
      ['accepted-orders-final', 'no-phantom-orders', 'stock-conservation', 'one-payment-per-paid-order', 'one-email-per-final-order', 'one-order-per-idempotency-key', 'no-dead-letters', 'errors-are-clean'],
    );
    for (const entry of results) assert.ok(entry.checked > 0, `${entry.name} checked nothing`);
  });

  it('reports a lost order: answered 202, not in the database', () => {
    const history = cleanHistory();
    history.state.orders = history.state.orders.filter((order) => order.id !== C);
    history.state.emails = history.state.emails.filter((email) => !email.message_id.includes(C));
    const results = check(history);
    assert.deepEqual(failing(results), ['accepted-orders-final']);
    assert.deepEqual(invariant(results, 'accepted-orders-final').listed[0]!.orders, [C]);
    assert.match(invariant(results, 'accepted-orders-final').listed[0]!.message, /lost/);
  });

  it('reports an order stuck before its final status, and its email sent too early', () => {
    const history = cleanHistory();
    history.state.orders[0]!.status = 'paid';
    const results = check(history);
    assert.ok(failing(results).includes('accepted-orders-final'));
    assert.ok(failing(results).includes('one-email-per-final-order'));
  });

  it('reports a duplicate payment', () => {
    const history = cleanHistory();
    history.state.payments.push({ order_id: A, status: 'succeeded' });
    const results = check(history);
    assert.deepEqual(failing(results), ['one-payment-per-paid-order']);
    assert.deepEqual(invariant(results, 'one-payment-per-paid-order').listed[0]!.orders, [A]);
  });

  it('reports a payment for a rejected order', () => {
    const history = cleanHistory();
    history.state.payments.push({ order_id: C, status: 'succeeded' });
    assert.deepEqual(failing(check(history)), ['one-payment-per-paid-order']);
  });

  it('reports an oversell: more units left the stock than the orders hold', () => {
    const history = cleanHistory();
    // Product 8's stock was taken again after the failed payment gave it back.
    history.state.stock['8'] = 49;
    const results = check(history);
    assert.deepEqual(failing(results), ['stock-conservation']);
    const violation = invariant(results, 'stock-conservation').listed[0]!;
    assert.match(violation.message, /product 8: 50 in stock before the run, 49 now, 0 held/);
    assert.deepEqual(violation.orders, [B]);
  });

  it('reports stock given back twice, and a reservation that disagrees with its order', () => {
    const history = cleanHistory();
    history.state.stock['7'] = 100;
    history.state.reservations[0]!.status = 'released';
    const results = check(history);
    assert.deepEqual(failing(results), ['stock-conservation']);
    assert.equal(invariant(results, 'stock-conservation').violations, 2);
  });

  it('reports an order no client placed', () => {
    const history = cleanHistory();
    const D = '00000000-0000-4000-8000-00000000000d';
    history.state.orders.push({ id: D, status: 'rejected', idempotency_key: 'nobody-sent-this', items: [{ product_id: 7, quantity: 1 }] });
    history.state.emails.push({ message_id: mid(D, 'failure'), to: 'd@example.com', subject: 'x' });
    const results = check(history);
    assert.deepEqual(failing(results), ['no-phantom-orders']);
    assert.deepEqual(invariant(results, 'no-phantom-orders').listed[0]!.orders, [D]);
  });

  it('reports two orders for one Idempotency-Key', () => {
    const history = cleanHistory();
    const A2 = '00000000-0000-4000-8000-0000000000a2';
    history.requests.push({ at: t0 + 12, ms: 20, name: 'POST /api/orders/checkout', status: 202, idempotencyKey: 'k-a', orderId: A2 });
    history.state.orders.push({ id: A2, status: 'rejected', idempotency_key: 'k-a', items: [{ product_id: 7, quantity: 1000 }] });
    history.state.emails.push({ message_id: mid(A2, 'failure'), to: 'a@example.com', subject: 'x' });
    const results = check(history);
    assert.deepEqual(failing(results), ['one-order-per-idempotency-key']);
    assert.deepEqual(invariant(results, 'one-order-per-idempotency-key').listed[0]!.orders, [A, A2]);
  });

  it('reports a missing email and a second, different one; copies under one Message-ID are a note', () => {
    const missing = cleanHistory();
    missing.state.emails.shift();
    assert.deepEqual(failing(check(missing)), ['one-email-per-final-order']);

    const wrongKind = cleanHistory();
    wrongKind.state.emails.push({ message_id: mid(A, 'failure'), to: 'a@example.com', subject: 'x' });
    assert.deepEqual(failing(check(wrongKind)), ['one-email-per-final-order']);

    const copy = cleanHistory();
    copy.state.emails.push({ ...copy.state.emails[0]! });
    const results = check(copy);
    assert.deepEqual(failing(results), []);
    assert.match(invariant(results, 'one-email-per-final-order').notes.join(), /1 message\(s\) arrived again/);
  });

  it('reports dead letters with their reasons', () => {
    const history = cleanHistory();
    history.state.deadLetters[0] = { queue: 'order.saga.dlq', messages: 2, reasons: ['malformed event', 'malformed event'] };
    const results = check(history);
    assert.deepEqual(failing(results), ['no-dead-letters']);
    assert.equal(invariant(results, 'no-dead-letters').listed[0]!.message, 'order.saga.dlq holds 2 message(s): malformed event');
  });

  it('reports a 500, a 503 without Retry-After, a 502 naming no dependency, and no answer outside a fault', () => {
    const history = cleanHistory();
    const late = t0 + 60 + 15_001;
    history.requests.push(
      { at: t0 + 40, ms: 3, name: 'GET /api/cart', status: 500, code: 'INTERNAL_ERROR' },
      { at: t0 + 41, ms: 3, name: 'GET /api/cart', status: 503, code: 'UPSTREAM_UNAVAILABLE' },
      { at: t0 + 42, ms: 3, name: 'GET /api/cart', status: 502 },
      { at: t0 + 43, ms: 3, name: 'GET /api/cart', status: 0 },
      { at: late, ms: 3, name: 'GET /api/cart', status: 0 },
    );
    const results = check(history);
    assert.deepEqual(failing(results), ['errors-are-clean']);
    const errors = invariant(results, 'errors-are-clean');
    assert.equal(errors.violations, 4, JSON.stringify(errors.listed));
    assert.match(errors.listed.map((entry) => entry.message).join('\n'), /500 INTERNAL_ERROR[\s\S]*503 UPSTREAM_UNAVAILABLE without Retry-After[\s\S]*502 \(no error code\)[\s\S]*no answer, with no fault/);
    assert.match(errors.notes.join(), /1 request\(s\) got no answer while a fault lasted/);
  });
});
