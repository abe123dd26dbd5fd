/**
 * A short seeded chaos run against a shop of its own, with the faults that stay inside that shop
 * (a replica killed, its database connections terminated, a path to the broker or Postgres cut):
 * every invariant must hold, every fault kind must have been injected, and the report must be
 * written. (That the checker fails on damage is test/chaos-checker.test.ts; the Postgres restart
 * and the broker stop touch the whole machine's servers and are left to `npm run chaos`.)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runChaos } from '../scripts/chaos/run.ts';
import type { ChaosResults } from '../scripts/chaos/report.ts';

test('a 20 s chaos run with a kill, a database cut and a network cut keeps every invariant', { timeout: 150_000 }, async () => {
  // A dozen buyer accounts are plenty for 20 s, and registering them (argon2) is most of the set-up.
  process.env.BUYER_USERS = '12';
  const out = mkdtempSync(join(tmpdir(), 'chaos-'));
  const began = performance.now();
  const phases: string[] = [];
  after(() => process.env.CHAOS_TEST_LOG && console.log(phases.join('\n')));
  const results = await runChaos({
    seed: 0,
    rate: 8,
    durationSeconds: 20,
    faults: ['kill', 'db-cut', 'net-cut'],
    // Written out rather than drawn, so that the test does not hang on the planner's choices:
    // the only order replica killed (its callers get 503s), then the cart's database
    // connections terminated, then the email service cut off from the broker.
    schedule: [
      { kind: 'kill', at: 4_000, durationMs: 0, service: 'order', pick: 0 },
      { kind: 'db-cut', at: 9_000, durationMs: 2_000, service: 'cart' },
      { kind: 'net-cut', at: 13_000, durationMs: 2_000, service: 'email', dependency: 'rabbitmq' },
    ],
    replicas: { gateway: 1, user: 1, product: 1, cart: 2, order: 1, payment: 1, email: 1 },
    // Quick providers: the last sagas end soon after the load, and the run stays under a minute.
    environment: { PAYMENT_LATENCY_MS: '100', EMAIL_LATENCY_MS: '100' },
    out,
    label: `test_chaos_${randomBytes(4).toString('hex')}`,
    quiesceTimeoutMs: 60_000,
    postgresUrl: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    rabbitMqUrl: process.env.TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    cleanUp: true,
    log: (line) => phases.push(`${((performance.now() - began) / 1000).toFixed(1)} s ${line}`),
  });
  const failed = results.invariants.filter((invariant) => !invariant.passed);
  assert.deepEqual(failed, [], JSON.stringify(failed, null, 2));
  assert.deepEqual([...new Set(results.faults.map((fault) => fault.kind))].sort(), ['db-cut', 'kill', 'net-cut']);
  // The run did real work: orders were placed and all of them checked.
  const accepted = results.invariants.find((invariant) => invariant.name === 'accepted-orders-final')!;
  assert.ok(accepted.checked >= 5, `only ${accepted.checked} orders were accepted`);
  assert.ok(results.requests.succeeded / results.requests.total > 0.9);
  for (const fault of results.faults) assert.ok(fault.end >= fault.start && fault.requests > 0, JSON.stringify(fault));
  const written = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ChaosResults;
  assert.equal(written.passed, true);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /# Chaos run, seed 0: PASS/);
  assert.ok(existsSync(join(out, 'timeline.svg')) && readFileSync(join(out, 'timeline.svg'), 'utf8').startsWith('<svg'));
});
