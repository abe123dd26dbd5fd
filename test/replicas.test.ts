/**
 * Replicas in local mode, as `kubectl scale` gives them in a cluster: several processes of a
 * service share its port and its queues, `npm run scale` changes their number on a running
 * shop, and a scale-down in the middle of checkouts loses nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually, queueMessageCounts } from '@scaleshop/platform/testing';
import { freePort } from '../scripts/local-shop.ts';
import { parseReplicaCounts, UsageError } from '../scripts/replicas.ts';
import { shopTools, startTestShop, type TestShop } from './test-shop.ts';

const run = promisify(execFile);
const controlSocket = join(mkdtempSync(join(tmpdir(), 'scaleshop-replicas-')), 'shop.sock');
let shop: TestShop;

/** `npm run scale` as a user runs it, against this test's shop. */
async function scaleCommand(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['scripts/scale.ts', ...args], { env: { ...process.env, SCALESHOP_CONTROL_SOCKET: controlSocket } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function consumersOf(queue: string): Promise<number | undefined> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', '-p', shop.vhost.name, 'name', 'consumers']);
  const row = stdout.split('\n').map((line) => line.trim().split(/\s+/)).find(([name]) => name === queue);
  return row ? Number(row[1]) : undefined;
}

/** What one replica counted of a route, read from its own /metrics. */
async function servedBy(metricsUrl: string, route: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('http_server_request_duration_seconds_count{') && line.includes(`route="${route}"`))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

before(async () => {
  shop = await startTestShop('replicas', {
    replicas: { payment: 2, product: 2 },
    controlSocket,
    environment: { PAYMENT_LATENCY_MS: '200', EMAIL_LATENCY_MS: '20', OUTBOX_POLL_INTERVAL_MS: '200' },
  });
});

after(async () => {
  await shop?.stop();
});

test('free ports for a test shop lie outside the kernel ephemeral range, are distinct, and can be listened on', async () => {
  // Outgoing connections take their local ports from this range: a port freed there may be gone before a service binds it.
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];
  const ports = await Promise.all(Array.from({ length: 40 }, () => freePort()));
  assert.equal(new Set(ports).size, ports.length, 'no port handed out twice');
  for (const port of ports) {
    assert.ok(port < low || port > high, `${port} is inside ${low}-${high}`);
    await new Promise<void>((resolve, reject) => {
      const server = createServer().once('error', reject);
      server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
    });
  }
});

describe('replica counts as input', () => {
  const services = ['gateway', 'payment', 'product'];
  test('takes service=count pairs, separately or comma-separated', () => {
    assert.deepEqual(parseReplicaCounts(['payment=3,product=0', 'gateway=32'], services), { payment: 3, product: 0, gateway: 32 });
    assert.deepEqual(parseReplicaCounts([], services), {});
  });

  test('refuses, naming every problem, what is not a service or not a whole number from 0 to 32', () => {
    for (const [spec, message] of [
      ['nope=2', /unknown service "nope"; the services are gateway, payment, product/],
      ['payment=33', /whole number from 0 to 32, got "33"/],
      ['payment=-1', /whole number from 0 to 32, got "-1"/],
      ['payment=1.5', /got "1.5"/],
      ['payment=', /got ""/],
      ['payment', /is not <service>=<replicas>/],
      ['payment=1,payment=2', /payment is named twice/],
    ] as const) {
      assert.throws(() => parseReplicaCounts([spec], services), (error: Error) => error instanceof UsageError && message.test(error.message), spec);
    }
  });
});

describe('replicas of a running local shop', () => {
  test('lists each service with its replicas, process ids and own /metrics', async () => {
    const listed = await scaleCommand('--json');
    assert.equal(listed.code, 0, listed.stderr);
    const state = JSON.parse(listed.stdout) as Record<string, { replicas: number; pids: number[]; metrics: string[] }>;
    assert.deepEqual(
      Object.fromEntries(Object.entries(state).map(([service, { replicas }]) => [service, replicas])),
      { gateway: 1, order: 1, payment: 2, email: 1, product: 2, user: 1, cart: 1, storefront: 1 },
    );
    assert.deepEqual(state.payment!.pids, shop.services.payment.processes().map((child) => child.pid));
    assert.equal(new Set(Object.values(state).flatMap(({ metrics }) => metrics)).size, 10, 'every replica has a metrics port of its own');
    const table = await scaleCommand();
    assert.match(table.stdout, /^payment\s+2\s+\d+ \d+/m);
  });

  test('replicas of a consumer compete on its queue, and an HTTP service spreads new connections over its replicas', async () => {
    assert.equal(await consumersOf('payment.inventory'), 2);
    assert.equal(await consumersOf('product.orders'), 2);
    const product = shop.replicaState().product;
    const before = await Promise.all(product.metrics.map((url) => servedBy(url, '/products/:id')));
    // A connection per request, as many clients open them: the kernel picks a replica for each.
    await Promise.all(Array.from({ length: 60 }, (_, index) => fetch(`${shop.services.product.url}/products/${(index % 14) + 1}`, { headers: { connection: 'close' } }).then((response) => response.arrayBuffer())));
    const after = await Promise.all(product.metrics.map((url) => servedBy(url, '/products/:id')));
    const served = after.map((count, index) => count - before[index]!);
    assert.equal(served.reduce((sum, count) => sum + count, 0), 60);
    assert.ok(served.every((count) => count > 0), `requests per replica: ${served.join(', ')}`);
  });

  test('scales up and down; a scale-down during checkouts loses nothing and duplicates nothing', async () => {
    const up = await scaleCommand('payment=3');
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await eventually(() => consumersOf('payment.inventory'), (count) => count === 3), 3);

    const tools = shopTools(shop);
    const admin = await tools.adminToken();
    const product = await tools.newProduct(admin, 100, '5.00');
    const shoppers = await Promise.all(Array.from({ length: 12 }, (_, index) => tools.shopper(`scaled${index}`)));
    for (const { token } of shoppers) assert.equal((await tools.call('POST', '/api/cart/items', { token, body: { product_id: product.id, quantity: 1 } })).status, 201);
    // Half the checkouts before the scale-down, half while the two newest payment replicas stop.
    const early = await Promise.all(shoppers.slice(0, 6).map(({ token }) => tools.call('POST', '/api/orders/checkout', { token })));
    const [down, late] = await Promise.all([scaleCommand('payment=1'), Promise.all(shoppers.slice(6).map(({ token }) => tools.call('POST', '/api/orders/checkout', { token })))]);
    assert.equal(down.code, 0, down.stderr);
    const accepted = [...early, ...late];
    assert.deepEqual(accepted.map((checkout) => checkout.status), Array(12).fill(202));

    const orders = await Promise.all(accepted.map((checkout, index) => tools.untilFinal(checkout.body.id, shoppers[index]!.token)));
    assert.deepEqual(orders.map((order) => order.status), Array(12).fill('completed'));
    const ids = orders.map((order) => order.id);
    assert.equal(await tools.countRows('payment', 'select count(*)::int as n from payments where order_id = any($1)', [ids]), 12, 'one payment per order');
    assert.equal(await tools.countRows('email', 'select count(*)::int as n from emails where order_id = any($1)', [ids]), 12, 'one email per order');
    assert.equal(await consumersOf('payment.inventory'), 1);
    assert.deepEqual(
      [...(await queueMessageCounts(shop.vhost.name))].filter(([name, count]) => name.endsWith('.dlq') && count > 0),
      [],
    );
  });

  test('a consumer scaled to 0 leaves its messages waiting; an HTTP service scaled to 0 is a 503 at the gateway', async () => {
    assert.equal((await scaleCommand('email=0')).code, 0);
    assert.equal(await consumersOf('email.notifications'), 0);
    assert.equal((await scaleCommand('cart=0')).code, 0);
    const { token } = await shopTools(shop).shopper('nocart');
    const cart = await shopTools(shop).call('GET', '/api/cart', { token });
    assert.equal(cart.status, 503);
    assert.equal(cart.body.error.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal((await scaleCommand('cart=1,email=1')).code, 0);
    assert.equal((await shopTools(shop).call('GET', '/api/cart', { token })).status, 200);
  });

  test('bad input changes nothing and exits 2 with a message; so does asking when no shop runs', async () => {
    const before = JSON.stringify(shop.replicaState(), (key, value) => (key === 'pids' || key === 'metrics' ? undefined : value));
    for (const args of [['nope=2'], ['payment=33'], ['payment=two'], ['--bogus']]) {
      const result = await scaleCommand(...args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, /^scale: /, args.join(' '));
    }
    assert.equal(JSON.stringify(shop.replicaState(), (key, value) => (key === 'pids' || key === 'metrics' ? undefined : value)), before);
    const { stderr, code } = await run(process.execPath, ['scripts/scale.ts'], { env: { ...process.env, SCALESHOP_CONTROL_SOCKET: join(tmpdir(), 'no-such-shop.sock') } }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(code, 2);
    assert.match(stderr, /no local shop is running/);
  });
});
