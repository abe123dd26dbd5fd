/**
 * The chaos run's checker, after Jepsen's: it judges the whole history of what clients saw,
 * together with the databases once the shop has quiesced, against the invariants the shop
 * promises. Pure: a history in, a verdict per invariant out, so that a hand-made history with a
 * lost order or a duplicate payment shows the checker failing (test/chaos-checker.test.ts).
 */
import { finalStatuses, holdingStatuses, type FaultRecord, type History, type OrderRow, type RequestRecord } from './history.ts';

export interface Violation {
  message: string;
  /** The orders involved, when there are any. */
  orders?: string[];
}

export interface InvariantResult {
  name: string;
  description: string;
  passed: boolean;
  /** How many things were checked (orders, products, requests…), so a PASS over nothing shows. */
  checked: number;
  /** Every violation, counted; at most `maxListed` of them listed. */
  violations: number;
  listed: Violation[];
  /** Observations that are not violations (dead letters' reasons, answers that never came…). */
  notes: string[];
}

export interface CheckOptions {
  /** A request without an answer within this long after a fault ended is blamed on the fault (default 15 s). */
  faultGraceMs?: number;
  maxListed?: number;
}

const checkoutName = 'POST /api/orders/checkout';
const isFinal = (status: string) => (finalStatuses as readonly string[]).includes(status);
const holdsStock = (status: string) => (holdingStatuses as readonly string[]).includes(status);
/** The email service's Message-ID for an order (services/email/src/notifications.ts): its one identity at the catcher. */
const messageIdPattern = /^<order-([0-9a-f-]{36})-(confirmation|failure)@scaleshop\.local>$/;

class Collector {
  readonly violations: Violation[] = [];
  readonly notes: string[] = [];
  add(message: string, orders?: string[]) {
    this.violations.push(orders && orders.length > 0 ? { message, orders } : { message });
  }
}

function result(name: string, description: string, checked: number, collector: Collector, maxListed: number): InvariantResult {
  return {
    name,
    description,
    passed: collector.violations.length === 0,
    checked,
    violations: collector.violations.length,
    listed: collector.violations.slice(0, maxListed),
    notes: collector.notes,
  };
}

export function check(history: History, options: CheckOptions = {}): InvariantResult[] {
  const maxListed = options.maxListed ?? 20;
  const graceMs = options.faultGraceMs ?? 15_000;
  const { requests, faults, state } = history;
  const orders = new Map(state.orders.map((order) => [order.id, order]));
  const checkouts = requests.filter((request) => request.name === checkoutName);
  const accepted = checkouts.filter((request) => request.status >= 200 && request.status < 300 && request.orderId !== undefined);
  const results: InvariantResult[] = [];

  // Every order a client was told was accepted exists, and is final once the shop is quiet.
  {
    const collector = new Collector();
    const acceptedIds = new Set(accepted.map((request) => request.orderId!));
    for (const id of acceptedIds) {
      const order = orders.get(id);
      if (!order) collector.add(`order ${id} was answered 202 but does not exist: lost`, [id]);
      else if (!isFinal(order.status)) collector.add(`order ${id} is still ${order.status}, not final`, [id]);
    }
    // Orders placed by a checkout whose answer never came must end too.
    for (const order of state.orders) if (!acceptedIds.has(order.id) && !isFinal(order.status)) collector.add(`order ${order.id} (its checkout's answer was not seen) is still ${order.status}`, [order.id]);
    results.push(result('accepted-orders-final', 'every order answered 202 reaches a final status', acceptedIds.size, collector, maxListed));
  }

  // No order exists that no client placed: each carries an Idempotency-Key some client sent.
  {
    const collector = new Collector();
    const sentKeys = new Set(checkouts.flatMap((request) => (request.idempotencyKey ? [request.idempotencyKey] : [])));
    for (const order of state.orders) {
      if (order.idempotency_key === null) collector.add(`order ${order.id} has no Idempotency-Key: no client of this run placed it`, [order.id]);
      else if (!sentKeys.has(order.idempotency_key)) collector.add(`order ${order.id} has the key ${order.idempotency_key}, which no client sent`, [order.id]);
    }
    results.push(result('no-phantom-orders', 'no order exists that no client placed', state.orders.length, collector, maxListed));
  }

  // Stock: the product service's reservations agree with the orders' statuses, and per product
  // the stock before the run equals the stock now plus what the orders holding stock took.
  {
    const collector = new Collector();
    const reservations = new Map(state.reservations.map((reservation) => [reservation.order_id, reservation]));
    for (const order of state.orders) {
      const reservation = reservations.get(order.id);
      const expected = holdsStock(order.status) ? 'reserved' : order.status === 'payment_failed' ? 'released' : 'none';
      const actual = reservation?.status ?? 'none';
      if (expected !== actual) collector.add(`order ${order.id} is ${order.status} but its stock reservation is ${actual} (expected ${expected})`, [order.id]);
    }
    for (const reservation of state.reservations) if (!orders.has(reservation.order_id)) collector.add(`stock is reserved for order ${reservation.order_id}, which does not exist`, [reservation.order_id]);
    const held = new Map<string, { units: number; orders: string[] }>();
    for (const order of state.orders) {
      for (const item of order.items) {
        const key = String(item.product_id);
        const entry = held.get(key) ?? { units: 0, orders: [] };
        entry.orders.push(order.id);
        if (holdsStock(order.status)) entry.units += item.quantity;
        held.set(key, entry);
      }
    }
    const products = Object.keys(state.initialStock);
    for (const product of products) {
      const initial = state.initialStock[product]!;
      const now = state.stock[product];
      const taken = held.get(product)?.units ?? 0;
      if (now === undefined) collector.add(`product ${product} is gone`);
      else if (initial !== now + taken) {
        const difference = initial - now - taken;
        collector.add(
          `product ${product}: ${initial} in stock before the run, ${now} now, ${taken} held by paid or completed orders: ${Math.abs(difference)} unit(s) ${difference > 0 ? 'lost (taken and never given back)' : 'too many (sold beyond the stock, or given back twice)'}`,
          held.get(product)?.orders.slice(0, 10),
        );
      }
    }
    results.push(result('stock-conservation', 'per product, the initial stock equals the current stock plus the units of orders that hold stock', products.length, collector, maxListed));
  }

  // Exactly one successful payment per paid order; one decline per payment_failed; none for a rejected one.
  {
    const collector = new Collector();
    const paymentsOf = new Map<string, string[]>();
    for (const payment of state.payments) paymentsOf.set(payment.order_id, [...(paymentsOf.get(payment.order_id) ?? []), payment.status]);
    for (const order of state.orders) {
      const payments = paymentsOf.get(order.id) ?? [];
      const succeeded = payments.filter((status) => status === 'succeeded').length;
      const declined = payments.length - succeeded;
      const wanted = order.status === 'paid' || order.status === 'completed' ? { succeeded: 1, declined: 0 } : order.status === 'payment_failed' ? { succeeded: 0, declined: 1 } : order.status === 'rejected' ? { succeeded: 0, declined: 0 } : undefined;
      if (!wanted) continue; // not final: the first invariant reports it
      if (succeeded !== wanted.succeeded || declined !== wanted.declined) {
        collector.add(`order ${order.id} is ${order.status} with ${succeeded} successful and ${declined} declined payment(s) (expected ${wanted.succeeded} and ${wanted.declined})`, [order.id]);
      }
    }
    for (const [orderId] of paymentsOf) if (!orders.has(orderId)) collector.add(`a payment exists for order ${orderId}, which does not exist`, [orderId]);
    results.push(result('one-payment-per-paid-order', 'exactly one payment per paid order, and none for a rejected one', state.orders.length, collector, maxListed));
  }

  // Exactly one email per final order at the mail catcher: a confirmation for a completed one,
  // a failure notice otherwise. Copies under one Message-ID are one email to a mail system
  // (the email service resends with the same id after a crash between SMTP and its commit).
  {
    const collector = new Collector();
    const byOrder = new Map<string, Map<string, number>>();
    let copies = 0;
    for (const email of state.emails) {
      const match = messageIdPattern.exec(email.message_id);
      if (!match) {
        collector.add(`an email with the Message-ID ${email.message_id} ("${email.subject}") belongs to no order`);
        continue;
      }
      const kinds = byOrder.get(match[1]!) ?? new Map<string, number>();
      kinds.set(match[2]!, (kinds.get(match[2]!) ?? 0) + 1);
      byOrder.set(match[1]!, kinds);
    }
    let finalOrders = 0;
    for (const order of state.orders) {
      const kinds = byOrder.get(order.id) ?? new Map<string, number>();
      for (const count of kinds.values()) copies += count - 1;
      if (!isFinal(order.status)) {
        if (kinds.size > 0) collector.add(`order ${order.id} is ${order.status} but was mailed ${[...kinds.keys()].join(' and ')}`, [order.id]);
        continue;
      }
      finalOrders++;
      const expected = order.status === 'completed' ? 'confirmation' : 'failure';
      const described = [...kinds].map(([kind, count]) => `${count} ${kind}`).join(', ') || 'nothing';
      if (kinds.size !== 1 || !kinds.has(expected)) collector.add(`order ${order.id} is ${order.status}: mailed ${described}, expected one ${expected}`, [order.id]);
    }
    for (const orderId of byOrder.keys()) if (!orders.has(orderId)) collector.add(`an email was sent for order ${orderId}, which does not exist`, [orderId]);
    if (copies > 0) collector.notes.push(`${copies} message(s) arrived again under a Message-ID already caught (a resend after a crash; one email to a mail system)`);
    results.push(result('one-email-per-final-order', 'exactly one email per final order, at the mail catcher', finalOrders, collector, maxListed));
  }

  // Every Idempotency-Key yields one order: one in the database, and every answer names it.
  {
    const collector = new Collector();
    const ordersByKey = new Map<string, OrderRow[]>();
    for (const order of state.orders) if (order.idempotency_key !== null) ordersByKey.set(order.idempotency_key, [...(ordersByKey.get(order.idempotency_key) ?? []), order]);
    const answersByKey = new Map<string, RequestRecord[]>();
    for (const request of checkouts) if (request.idempotencyKey) answersByKey.set(request.idempotencyKey, [...(answersByKey.get(request.idempotencyKey) ?? []), request]);
    for (const [key, answers] of answersByKey) {
      const placed = ordersByKey.get(key) ?? [];
      const named = new Set(answers.filter((answer) => answer.orderId !== undefined && answer.status < 300).map((answer) => answer.orderId!));
      if (placed.length > 1) collector.add(`the key ${key} placed ${placed.length} orders`, placed.map((order) => order.id));
      if (named.size > 1) collector.add(`checkouts with the key ${key} were answered with ${named.size} different orders`, [...named]);
      for (const id of named) if (placed.length > 0 && !placed.some((order) => order.id === id)) collector.add(`a checkout with the key ${key} was answered with order ${id}, but the key's order is ${placed[0]!.id}`, [id, placed[0]!.id]);
    }
    results.push(result('one-order-per-idempotency-key', 'every Idempotency-Key yields one order', answersByKey.size, collector, maxListed));
  }

  // Nothing in a dead-letter queue; each one found is named with the error it carries.
  {
    const collector = new Collector();
    for (const queue of state.deadLetters) {
      if (queue.messages > 0) collector.add(`${queue.queue} holds ${queue.messages} message(s)${queue.reasons.length > 0 ? `: ${[...new Set(queue.reasons)].join('; ')}` : ''}`);
    }
    results.push(result('no-dead-letters', 'nothing in a dead-letter queue', state.deadLetters.length, collector, maxListed));
  }

  // Errors: never a 500; a 503 always says when to come back; 502 and 504 only name a dependency
  // that failed; and a request goes unanswered only while a fault lasts (or just after).
  {
    const collector = new Collector();
    const dependencyCodes = new Set(['BAD_GATEWAY', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'GATEWAY_TIMEOUT']);
    const duringFault = (at: number) => faults.some((fault: FaultRecord) => at >= fault.start && at <= fault.end + graceMs);
    let unanswered = 0;
    for (const request of requests) {
      const where = `${request.name} at ${new Date(request.at).toISOString()}`;
      if (request.status === 0) {
        if (duringFault(request.at)) unanswered++;
        else collector.add(`${where} got no answer, with no fault going on`);
      } else if (request.status === 503) {
        if (!request.retryAfter) collector.add(`${where} answered 503 ${request.code ?? ''} without Retry-After`.replace(/ +without/, ' without'));
      } else if (request.status === 502 || request.status === 504) {
        if (!dependencyCodes.has(request.code ?? '')) collector.add(`${where} answered ${request.status} ${request.code ?? '(no error code)'}, which names no failed dependency`);
      } else if (request.status >= 500) {
        collector.add(`${where} answered ${request.status} ${request.code ?? ''}`.trimEnd());
      }
    }
    if (unanswered > 0) collector.notes.push(`${unanswered} request(s) got no answer while a fault lasted (a killed gateway replica drops its connections)`);
    results.push(result('errors-are-clean', 'no 500: only 503 with Retry-After, or 502/504 where a dependency failed', requests.length, collector, maxListed));
  }

  return results;
}
