/**
 * Shared by the checkout and tracing benchmarks: a shop of its own (databases and RabbitMQ
 * virtual host), synthetic shoppers with full carts, and the saga's completion times.
 *
 * Shoppers are synthetic: cart rows are written straight into the cart database and tokens
 * are signed with the shop's key, so no password hashing sits in the measured path.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { loadPrivateKey, signAccessToken } from '@scaleshop/platform';
import { dropDatabase } from '@scaleshop/platform/testing';
import { createTestVhost } from '@scaleshop/platform/testing';
import { startShop, type Shop } from '../scripts/local-shop.ts';
import { requestsAtRate, type RequestRateResult } from '../load/request-rate.ts';
import { percentile } from './measure.ts';

/** Orders are spread over the whole demo catalog, as real traffic is; the race tests cover one hot product. */
export const catalogSize = 14;

export interface Shopper {
  id: string;
  token: string;
}

export interface BenchShop {
  shop: Shop;
  dropVhost: () => Promise<void>;
}

export async function startBenchShop(label: string, environment: Record<string, string>): Promise<BenchShop> {
  const vhost = await createTestVhost(`bench_${label}`);
  const shop = await startShop({
    ephemeralPorts: true,
    databasePrefix: `bench_${label}_${randomBytes(3).toString('hex')}_`,
    rabbitMqUrl: vhost.url,
    output: 'silent',
    environment,
    serviceEnvironment: { gateway: { RATE_LIMIT_MAX: '1000000000' } },
  });
  return { shop, dropVhost: vhost.drop };
}

export async function stopBenchShop(bench: BenchShop): Promise<void> {
  await bench.shop.stop();
  for (const url of Object.values(bench.shop.databaseUrls)) await dropDatabase(url);
  await bench.dropVhost();
}

export async function prepareShoppers(shop: Shop, count: number): Promise<Shopper[]> {
  const key = loadPrivateKey(shop.tokenKeys.privateKeyPem);
  const shoppers: Shopper[] = [];
  for (let i = 0; i < count; i++) {
    const id = randomUUID();
    shoppers.push({ id, token: await signAccessToken({ id, email: `shopper-${i}@example.com`, role: 'customer' }, key, { issuer: 'scaleshop', audience: 'scaleshop-api', ttlSeconds: 900 }) });
  }
  const cart = new pg.Client(shop.databaseUrls.cart);
  const product = new pg.Client(shop.databaseUrls.product);
  await Promise.all([cart.connect(), product.connect()]);
  await product.query('update products set stock = 1000000000');
  await cart.query('insert into cart_items (user_id, product_id, quantity) select unnest($1::uuid[]), unnest($2::int[]), 1', [
    shoppers.map((s) => s.id),
    shoppers.map((_, i) => (i % catalogSize) + 1),
  ]);
  await Promise.all([cart.end(), product.end()]);
  return shoppers;
}

export const checkoutRequest = (shopper: Shopper, mode: 'async' | 'sync' = 'async') => ({
  method: 'POST' as const,
  path: `/api/orders/checkout${mode === 'sync' ? '?mode=sync' : ''}`,
  headers: { authorization: `Bearer ${shopper.token}` },
});

export async function waitForFinalStatuses(shop: Shop, count: number, timeoutMs: number): Promise<number> {
  const client = new pg.Client(shop.databaseUrls.order);
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    let final = 0;
    while (Date.now() < deadline) {
      final = (await client.query(`select count(*)::int as n from orders where status in ('completed', 'rejected', 'payment_failed')`)).rows[0].n;
      if (final >= count) break;
      await sleep(250);
    }
    return final;
  } finally {
    await client.end();
  }
}

/**
 * Checkouts at a constant rate, a warm-up straight into the measured window (see OpenLoopOptions.warmupMs in load/open-loop.ts), then
 * every order finished. `since` and `cpuBefore` are read as the window begins: orders placed
 * from then on are the measured ones, and the CPU from then until every order is final is theirs.
 */
export async function checkoutsAtRate<T>(
  shop: Shop,
  shoppers: readonly Shopper[],
  options: { rate: number; seconds: number; warmupSeconds: number; readCpu: () => T },
): Promise<{ load: RequestRateResult; since: Date; cpuBefore: T; cpuAfter: T }> {
  let since = new Date();
  let cpuBefore = options.readCpu();
  const load = await requestsAtRate({
    origin: shop.gatewayUrl,
    rate: options.rate,
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    onMeasuring: () => {
      since = new Date();
      cpuBefore = options.readCpu();
    },
    request: (i) => checkoutRequest(shoppers[i]!),
  });
  await waitForFinalStatuses(shop, shoppers.length, 60_000);
  return { load, since, cpuBefore, cpuAfter: options.readCpu() };
}

/**
 * Asks Postgres to write out now what earlier phases left dirty, so that their checkpoint does
 * not land in the next measurement. Needs a superuser (or pg_checkpoint); without one the run
 * goes on and says so.
 */
export async function checkpoint(shop: Shop): Promise<void> {
  const client = new pg.Client(shop.databaseUrls.order);
  await client.connect();
  try {
    await client.query('checkpoint');
  } catch (error) {
    console.warn(`(no CHECKPOINT before measuring: ${(error as Error).message})`);
  } finally {
    await client.end();
  }
}

/**
 * Checkout → completed, from each order's status history; `since` leaves out earlier orders (a
 * warm-up). `p99BySecond`: the p99 of the orders placed in each second of the run, which tells a
 * tail spread over the run (the rate is at the edge of capacity) from one in a few seconds (a
 * pause, a cold start).
 */
export async function sagaCompletionTimes(shop: Shop, since?: Date): Promise<{ completed: number; other: number; p50: number; p99: number; max: number; p99BySecond: number[] }> {
  const client = new pg.Client(shop.databaseUrls.order);
  await client.connect();
  try {
    const from = since ?? new Date(0);
    const { rows } = await client.query<{ ms: number; second: number }>(
      `
      select extract(epoch from (done.at - started.at)) * 1000 as ms,
             floor(extract(epoch from (started.at - $1::timestamptz)))::int as second
      from order_status_history started
      join order_status_history done on done.order_id = started.order_id and done.status = 'completed'
      where started.status = 'pending' and started.at >= $1`,
      [from],
    );
    const other = (await client.query(`select count(*)::int as n from orders where status <> 'completed' and created_at >= $1`, [from])).rows[0].n;
    const times = rows.map((row) => Number(row.ms)).sort((a, b) => a - b);
    const bySecond: number[][] = [];
    for (const row of rows) (bySecond[row.second] ??= []).push(Number(row.ms));
    const p99BySecond = [...bySecond].map((second) => (second ? percentile(second.sort((a, b) => a - b), 0.99) : Number.NaN));
    return { completed: times.length, other, p50: percentile(times, 0.5), p99: percentile(times, 0.99), max: times.at(-1) ?? 0, p99BySecond };
  } finally {
    await client.end();
  }
}
