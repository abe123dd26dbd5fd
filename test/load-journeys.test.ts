/**
 * Every shopper journey of loadtests/ (the ones the k6 scripts run) through the Node driver
 * against a shop of this file's own, a few seconds each: its checks pass, nothing fails, and the
 * hot item ends with exactly its stock sold. Latency thresholds are not asserted: on a shared
 * CI machine they say more about the other tests running than about the journeys.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { scenarios } from '../loadtests/journeys/index.ts';
import type { ScenarioName } from '../loadtests/lib/runtime.ts';
import { runLoad, type LoadRunResult } from '../load/driver.ts';
import { startTestShop, type TestShop } from './test-shop.ts';

let shop: TestShop;

before(async () => {
  shop = await startTestShop('load', {
    environment: { PAYMENT_LATENCY_MS: '50', EMAIL_LATENCY_MS: '20', RETRY_DELAYS_MS: '200,500,1000,2000', OUTBOX_POLL_INTERVAL_MS: '200' },
    // Every request of a local run comes from 127.0.0.1: the per-address limit would be the whole machine's.
    serviceEnvironment: { gateway: { RATE_LIMIT_MAX: '1000000' } },
  });
});

after(async () => {
  await shop?.stop();
});

async function run(scenario: ScenarioName, rate: number, durationSeconds: number, env: Record<string, string> = {}): Promise<LoadRunResult> {
  const logged: string[] = [];
  const result = await runLoad({
    scenario: scenarios[scenario],
    baseUrl: shop.gatewayUrl,
    rate,
    durationSeconds,
    env: { POLL_INTERVAL_MS: '100', SAGA_TIMEOUT_MS: '20000', ...env },
    traceSampling: 1,
    log: (message) => logged.push(message),
  });
  const { summary } = result;
  const failedChecks = Object.entries(summary.checks.by_name).filter(([, counts]) => counts.failed > 0);
  assert.deepEqual(failedChecks, [], `checks failed in ${scenario}; log: ${logged.join(' | ')}`);
  assert.ok(summary.checks.passed > 0);
  assert.equal(result.iterationsThatThrew, 0, `iterations threw: ${result.firstErrors.map(String).join('; ')}`);
  assert.equal(summary.dropped_iterations, 0);
  assert.equal(summary.iterations, Math.round(rate * durationSeconds));
  for (const [name, row] of Object.entries(summary.requests)) {
    assert.ok(row.count > 0, `${scenario} made no ${name} request`);
    assert.equal(row.errors, 0, `${name} failed ${row.errors} times`);
  }
  return result;
}

describe('the journeys, through the Node driver', () => {
  test('browse: lists and opens products', async () => {
    const { summary } = await run('browse', 20, 2);
    assert.ok(summary.requests['GET /api/products/:id']!.count >= summary.iterations);
  });

  test('buyer: logs in, fills a cart, checks out and sees the order completed', async () => {
    const { summary } = await run('buyer', 4, 2);
    const saga = summary.saga_completion!;
    assert.equal(saga.count, summary.iterations);
    assert.equal(saga.errors, 0);
    assert.ok(saga.p50 > 0);
  });

  test('hot-item: exactly the stock is sold and every other order is rejected', async () => {
    const { summary } = await run('hot-item', 10, 2, { HOT_STOCK: '5' });
    for (const check of ['hot item: exactly the stock is sold', 'hot item: every other order is rejected']) assert.deepEqual(summary.checks.by_name[check], { passed: 1, failed: 0 });
    assert.equal(summary.saga_completion!.count, summary.iterations);
  });

  test('mixed: four browse for every buyer', async () => {
    const { summary } = await run('mixed', 10, 2);
    assert.equal(summary.saga_completion!.count, Math.floor(summary.iterations / 5));
    assert.equal(summary.requests['POST /api/auth/login']!.count, Math.floor(summary.iterations / 5));
  });
});
