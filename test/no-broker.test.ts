/**
 * A fresh machine with no RabbitMQ: the shop starts, the catalog, accounts and carts work, a
 * checkout answers 202 and its events wait in the outbox; /health says the broker is missing.
 * Then a broker appears, and the order completes with no restart. The broker is the real one,
 * behind the chaos run's TCP proxy, which is not listening at first and opens later: until then
 * every connection is refused, as on a machine where RabbitMQ was never started.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { eventually, testRabbitMqUrl } from '@scaleshop/platform/testing';
import { startTcpProxy, type TcpProxy } from '../scripts/chaos/tcp-proxy.ts';
import { freePort } from '../scripts/local-shop.ts';
import { shopTools, startTestShop, type TestShop } from './test-shop.ts';

let shop: TestShop;
let proxy: TcpProxy | undefined;
let proxyPort: number;

before(async () => {
  // Nothing listens on it until the broker "appears": connections are refused, as with no RabbitMQ at all.
  proxyPort = await freePort();
  shop = await startTestShop('nobroker', {
    brokerUrl: (vhostUrl) => {
      const url = new URL(vhostUrl);
      url.port = String(proxyPort);
      return url.toString();
    },
    environment: { PAYMENT_LATENCY_MS: '50', EMAIL_LATENCY_MS: '50', OUTBOX_POLL_INTERVAL_MS: '200' },
  });
});

after(async () => {
  await shop?.stop();
  await proxy?.close();
});

describe('with no broker', () => {
  test('the shop starts and sells; checkouts wait in the outbox, and complete once a broker appears, with no restart', async () => {
    const { call, shopper, untilFinal } = shopTools(shop);

    const health = await call('GET', '/health');
    assert.equal(health.status, 200, 'every service is ready without a broker');
    assert.equal(health.body.broker, 'unreachable');
    assert.match(health.body.warnings[0], /stay pending/);
    assert.match(health.body.warnings[0], /docker compose up -d rabbitmq/);

    const catalog = await call('GET', '/api/products?limit=3');
    assert.equal(catalog.status, 200);
    assert.equal(catalog.body.items.length, 3);
    const { token } = await shopper('nobroker');
    const added = await call('POST', '/api/cart/items', { token, body: { product_id: catalog.body.items[0].id, quantity: 2 } });
    assert.equal(added.status, 201);
    assert.equal(added.body.items[0].quantity, 2);

    const checkout = await call('POST', '/api/orders/checkout', { token });
    assert.equal(checkout.status, 202);
    assert.equal(checkout.body.status, 'pending');

    // Longer than a checkout takes with a broker (well under a second at these latencies), and than several reconnection attempts.
    await sleep(3_000);
    const waiting = await call('GET', `/api/orders/${checkout.body.id}`, { token });
    assert.equal(waiting.body.status, 'pending');
    const orderDatabase = new pg.Client(shop.databaseUrls.order);
    await orderDatabase.connect();
    try {
      const { rows } = await orderDatabase.query("select count(*)::int as n from outbox where published_at is null and type = 'order.created'");
      assert.equal(rows[0].n, 1, 'the order.created event waits in the outbox');
    } finally {
      await orderDatabase.end();
    }

    const broker = new URL(testRabbitMqUrl);
    proxy = await startTcpProxy({ host: broker.hostname, port: Number(broker.port || 5672) }, proxyPort);
    // The services retry with a back-off of at most 5 s, and the relays publish as soon as they are connected.
    const order = await untilFinal(checkout.body.id, token, 40_000);
    assert.equal(order.status, 'completed');
    assert.deepEqual(order.history.map((entry: { status: string }) => entry.status), ['pending', 'stock_reserved', 'paid', 'completed']);
    // The cart empties on order.created, which it consumes on its own connection: after an outage
    // its consumer may reconnect (back-off up to 5 s) after the rest of the saga has completed.
    const cart = await eventually(() => call('GET', '/api/cart', { token }), (answer) => answer.body.items.length === 0, 20_000);
    assert.deepEqual(cart.body, { items: [], total: '0.00' });

    const after = await eventually(() => call('GET', '/health'), (answer) => answer.body.broker === 'connected', 20_000);
    assert.equal(after.body.broker, 'connected');
    assert.equal(after.body.warnings, undefined);
  });
});
