/**
 * `npm run experiment -- --service payment --replicas 1,2,4 --scenario buyer [--slo 'p99<500ms']
 *   [--repeat 1] [--duration 20s] [--warmup 5s] [--out DIR] [--cluster [--namespace N] [--shop S]]`
 *
 * With --cluster the operator runs it as a ScalingExperiment (scaling/cluster.ts and
 * docs/scaling-experiments.md); this follows it and writes the same results.json and report.md.
 *
 * What horizontal scaling buys one service: for each replica count N it scales the local shop
 * (the running one, or one it starts), warms up, and finds the capacity X(N), the highest
 * arrival rate at which the SLO holds, by stepping up and bisecting. Then it fits the Universal
 * Scalability Law and writes results.json, report.md and two charts (docs/experiments.md).
 */
import { execFile } from 'node:child_process';
import amqp from 'amqplib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { ownsDatabase, queues, serviceNames, serviceOf, type ServiceName } from '@scaleshop/platform';
import { scenarios } from '../loadtests/journeys/index.ts';
import { parseDuration } from '../loadtests/lib/run.ts';
import { scenarioNames, type ScenarioName } from '../loadtests/lib/runtime.ts';
import { processCpuMs } from '../bench/cpu.ts';
import { runLoad } from '../load/driver.ts';
import type { SlowRequest } from '../load/node-runtime.ts';
import { controlSocketPath, localDatabaseUrl, localTokenKeys, repositoryRoot, startShop, type Shop } from './local-shop.ts';
import { askReplicaControl, type ReplicaState } from './replicas.ts';
import { KubeConfig } from '@kubernetes/client-node';
import type { ExperimentSpec } from '@scaleshop/cdk8s/src/experiment-spec.ts';
import { runInCluster } from './scaling/cluster.ts';
import { judge, judgedBySaga as judgedBySagaOf } from './scaling/judge.ts';
import { chartFiles, fitPoints, pointFrom, reportMarkdown, warningsFor, type ExperimentResults, type LatencyPoint, type RunMeasurement, type SampledTrace } from './scaling/results.ts';

const run = promisify(execFile);

class UsageError extends Error {}

interface Options {
  service: ServiceName;
  replicas: number[];
  scenario: ScenarioName;
  /** buyer and hot-item are judged by their sagas (X in orders/s); browse and mixed by their HTTP requests. */
  judgedBySaga: boolean;
  slo: { p99_ms: number; max_error_rate: number };
  repeat: number;
  durationSeconds: number;
  warmupSeconds: number;
  out: string;
  /** Run it in a cluster, as a ScalingExperiment the operator runs, in this namespace and against this Shop. */
  cluster?: { namespace: string; shop: string };
}

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      service: { type: 'string' },
      replicas: { type: 'string', default: '1,2,4' },
      scenario: { type: 'string' },
      slo: { type: 'string' },
      repeat: { type: 'string', default: '1' },
      duration: { type: 'string', default: '20s' },
      warmup: { type: 'string', default: '5s' },
      out: { type: 'string' },
      cluster: { type: 'boolean', default: false },
      namespace: { type: 'string', default: 'scaleshop' },
      shop: { type: 'string', default: 'scaleshop' },
    },
    allowPositionals: true,
    strict: true,
  });
  const problems: string[] = [];
  if (positionals.length > 0) problems.push(`unexpected ${positionals.join(' ')}`);
  const service = values.service ?? '';
  if (!(serviceNames as readonly string[]).includes(service)) problems.push(`--service must be one of ${serviceNames.join(', ')}, got "${service}"`);
  const replicas = (values.replicas ?? '').split(',').map((text) => Number(text.trim()));
  if (replicas.length < 2 || replicas.some((n) => !Number.isInteger(n) || n < 1 || n > 32)) problems.push('--replicas takes two or more whole numbers from 1 to 32, e.g. 1,2,4');
  if (!replicas.includes(1)) problems.push('--replicas must include 1: E(N) is measured against one replica');
  const scenario = (values.scenario ?? (service === 'payment' || service === 'email' || service === 'order' ? 'buyer' : 'browse')) as ScenarioName;
  if (!scenarioNames.includes(scenario)) problems.push(`--scenario must be one of ${scenarioNames.join(', ')}`);
  // Tight enough that a backlog growing during a window breaks it: a loose bound would pass rates
  // the shop cannot keep up with, as long as the window is short.
  const judgedBySaga = judgedBySagaOf(scenario);
  const sloText = values.slo ?? (judgedBySaga ? 'p99<1000ms' : 'p99<100ms');
  const slo = /^p99<(\d+(?:\.\d+)?)ms$/.exec(sloText.replace(/\s+/g, ''));
  if (!slo) problems.push(`--slo takes the form 'p99<500ms', got "${sloText}"`);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 10) problems.push('--repeat takes a whole number from 1 to 10');
  const durationSeconds = parseDuration(values.duration!) ?? 0;
  const warmupSeconds = /^0+(s|ms)?$/.test(values.warmup!.trim()) ? 0 : (parseDuration(values.warmup!) ?? -1);
  if (durationSeconds <= 0) problems.push(`--duration takes a duration such as 20s or 2m, got "${values.duration}"`);
  if (warmupSeconds < 0) problems.push(`--warmup takes a duration such as 5s (0s for none), got "${values.warmup}"`);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  return {
    service: service as ServiceName,
    replicas: [...new Set(replicas)].sort((a, b) => a - b),
    scenario,
    judgedBySaga,
    slo: { p99_ms: Number(slo![1]), max_error_rate: 0.01 },
    repeat,
    durationSeconds,
    warmupSeconds,
    out: resolve(values.out ?? join(repositoryRoot, 'experiments', `${service}-${stamp}`)),
    ...(values.cluster ? { cluster: { namespace: values.namespace!, shop: values.shop! } } : {}),
  };
}

/** The shop the experiment drives: the running local one (through `npm run scale`'s socket), or one started here. */
interface Target {
  baseUrl: string;
  state(): Promise<Record<string, ReplicaState>>;
  scale(service: string, replicas: number): Promise<void>;
  close(): Promise<void>;
  rabbitMqUrl: string;
  /** The database of the service under test, where its row locks are waited on. */
  databaseUrl: string | undefined;
}

async function connectTarget(service: ServiceName, log: (line: string) => void): Promise<Target> {
  const socket = controlSocketPath(repositoryRoot);
  const running = await askReplicaControl(socket, 'GET').then(
    () => true,
    () => false,
  );
  if (running) {
    log('using the running local shop (npm start)');
    return {
      baseUrl: `http://127.0.0.1:${serviceOf('gateway').port}`,
      state: async () => (await askReplicaControl(socket, 'GET')).body as Record<string, ReplicaState>,
      async scale(service, replicas) {
        const answer = await askReplicaControl(socket, 'PUT', { [service]: replicas });
        if (answer.status !== 200) throw new Error(`scaling ${service} failed: ${JSON.stringify(answer.body)}`);
      },
      close: async () => {},
      rabbitMqUrl: process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      databaseUrl: ownsDatabase(service) ? localDatabaseUrl(service) : undefined,
    };
  }
  log('no local shop is running: starting one (its logs are not shown)');
  // CONSUMER_CONCURRENCY is the knob of the service under test: given to every consumer, it would
  // also throttle the others (email, with its 2 s provider, to 1 message a second at 2).
  // Local mode passes this process's environment to every service, so the knob leaves it here.
  const concurrency = process.env.CONSUMER_CONCURRENCY;
  delete process.env.CONSUMER_CONCURRENCY;
  // The email provider's 2 s would add a constant to every saga and hide what the replicas change.
  if (process.env.EMAIL_LATENCY_MS === undefined && service !== 'email') {
    process.env.EMAIL_LATENCY_MS = '0';
    log('EMAIL_LATENCY_MS=0 for this shop (set it to keep another)');
  }
  // Ports of its own, so that it never collides with a shop started later on the usual ones.
  const shop: Shop = await startShop({
    tokenKeys: localTokenKeys(),
    output: 'silent',
    restartOnCrash: true,
    ephemeralPorts: true,
    // Databases of its own: a run's thousands of load orders stay out of the shop `npm start` keeps.
    databasePrefix: 'scaleshop_experiment_',
    ...(concurrency ? { serviceEnvironment: { [service]: { CONSUMER_CONCURRENCY: concurrency } } } : {}),
  });
  return {
    baseUrl: shop.gatewayUrl,
    state: async () => shop.replicaState(),
    scale: (service, replicas) => shop.scale({ [service]: replicas }),
    close: () => shop.stop(),
    rabbitMqUrl: process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    databaseUrl: shop.databaseUrls[service],
  };
}

/**
 * Sessions of one database waiting for a lock (a row another transaction holds), from
 * pg_stat_activity: what a contended write looks like from inside, sampled as the load runs.
 */
function lockWaitWatcher(url: string | undefined) {
  if (url === undefined) return { sample: async () => undefined, close: async () => {} };
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  const server = new URL(url);
  server.pathname = '/postgres';
  const client = new pg.Client({ connectionString: server.toString() });
  const connected = client.connect();
  return {
    async sample(): Promise<number | undefined> {
      try {
        await connected;
        const result = await client.query<{ waiting: string }>("select count(*) as waiting from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'", [database]);
        return Number(result.rows[0]!.waiting);
      } catch {
        return undefined;
      }
    },
    close: () => connected.then(() => client.end()).catch(() => {}),
  };
}

/** The queues a service consumes from, whose consumer counts say its replicas are attached. */
const queuesOf = (service: string) => Object.keys(queues).filter((queue) => queue.startsWith(`${service}.`));

/**
 * Messages and consumers of the service's queues, by a passive declare over AMQP: cheap enough to
 * ask every second. (rabbitmqctl starts an Erlang node per call, which on two cores raised the
 * saga's p99 it was measuring by half.)
 */
function queueWatcher(url: string) {
  let connection: Promise<amqp.ChannelModel> | undefined;
  const channel = async () => {
    connection ??= amqp.connect(url);
    const model = await connection;
    const created = await model.createChannel();
    created.on('error', () => {});
    return created;
  };
  return {
    async stats(names: readonly string[]): Promise<Map<string, { messages: number; consumers: number }>> {
      const found = new Map<string, { messages: number; consumers: number }>();
      // A passive declare of a missing queue closes the channel: one channel per question.
      for (const name of names) {
        const asked = await channel().catch(() => undefined);
        const reply = await asked?.checkQueue(name).catch(() => undefined);
        if (reply) found.set(name, { messages: reply.messageCount, consumers: reply.consumerCount });
        await asked?.close().catch(() => {});
      }
      return found;
    },
    async close() {
      await (await connection?.catch(() => undefined))?.close().catch(() => {});
    },
  };
}

/** CPU time of processes so far, in ms, from /proc; a process that has exited counts nothing. */
const sampledTrace = (request: SlowRequest): SampledTrace => ({
  name: request.name,
  ms: Math.round(request.ms),
  trace_id: request.traceId!,
  ...(process.env.JAEGER_UI_URL ? { link: `${process.env.JAEGER_UI_URL.replace(/\/$/, '')}/trace/${request.traceId}` } : {}),
});

const cpuMs = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + (processCpuMs(pid) || 0), 0);

/** Per replica, the sum of the series in its /metrics whose lines match `series` (0 when it cannot be read). */
async function seriesSums(metricsUrls: readonly string[], series: RegExp): Promise<number[]> {
  return Promise.all(
    metricsUrls.map(async (url) => {
      const text = await fetch(url)
        .then((response) => response.text())
        .catch(() => '');
      return text
        .split('\n')
        .filter((line) => series.test(line))
        .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    }),
  );
}

/** The work each replica of the service has done so far: requests served, or messages consumed. */
const workDone = (metricsUrls: readonly string[]) => seriesSums(metricsUrls, /^(messaging_consumer_duration_seconds_count|http_server_request_duration_seconds_count)\{/);

/** Queries waiting for a database connection, over all replicas. */
const poolWaiting = async (metricsUrls: readonly string[]) => (await seriesSums(metricsUrls, /^db_pool_waiting_clients\b/)).reduce((sum, value) => sum + value, 0);

async function main() {
  const log = (line: string) => process.stderr.write(`experiment: ${line}\n`);
  const options = parseOptions(process.argv.slice(2));
  if (options.cluster) {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
    const { phase, message } = await runInCluster({
      kubeConfig,
      namespace: options.cluster.namespace,
      name: `${options.service}-${Date.now().toString(36)}`,
      spec: {
        target: { shop: options.cluster.shop, service: options.service as ExperimentSpec['target']['service'] },
        replicas: options.replicas,
        scenario: options.scenario,
        load: { search: { startRate: options.scenario === 'browse' ? 50 : 4, factor: 1.5, maxRuns: 8 } },
        slo: { p99Ms: options.slo.p99_ms, maxErrorRate: options.slo.max_error_rate },
        warmupSeconds: options.warmupSeconds,
        durationSeconds: options.durationSeconds,
        repeats: options.repeat,
      },
      out: options.out,
      log,
    });
    if (phase === 'Failed') throw new Error(`the ScalingExperiment failed: ${message}`);
    return;
  }
  // Buyers keep their sessions: a login per order would make every run measure argon2's CPU.
  process.env.BUYER_SESSIONS ??= 'reuse';
  const started = new Date();
  const target = await connectTarget(options.service, log);
  const originalReplicasAtStart = (await target.state())[options.service]?.replicas ?? 1;
  // Interrupted, it still puts the replicas back and stops a shop it started: left running, that
  // shop's consumers would compete with the next one's on the same queues.
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      log(`${signal}: restoring the replicas and stopping what this run started`);
      void target
        .scale(options.service, originalReplicasAtStart)
        .catch(() => {})
        .then(() => target.close())
        .finally(() => process.exit(130));
    });
  }

  const scenario = scenarios[options.scenario];
  const consumerQueues = queuesOf(options.service);
  const watcher = queueWatcher(target.rabbitMqUrl);
  const lockWaits = lockWaitWatcher(target.databaseUrl);
  const latency: LatencyPoint[] = [];
  const runsByReplicas = new Map<number, RunMeasurement[]>();
  /** The lowest offered rate, per N, at which the load generator itself could not keep up. */
  const saturatedAt = new Map<number, number>();
  let unit = options.judgedBySaga ? 'orders/s' : 'requests/s';
  const originalReplicas = originalReplicasAtStart;

  /** One load run at `rate`: the measurement, and whether the SLO held. */
  const measure = async (replicas: number, rate: number, seconds: number) => {
    const state = await target.state();
    const pids = Object.values(state).flatMap((service) => service.pids);
    const metricsUrls = state[options.service]!.metrics;
    const before = { cpu: cpuMs(pids), work: await workDone(metricsUrls), self: process.cpuUsage() };
    let maxDepth = 0;
    let maxWaiting = 0;
    const lockSamples: number[] = [];
    const lockSampler = setInterval(() => {
      void lockWaits.sample().then((waiting) => waiting !== undefined && lockSamples.push(waiting));
    }, 250);
    const sampler = setInterval(() => {
      void watcher.stats(consumerQueues).then((stats) => {
        for (const queue of consumerQueues) maxDepth = Math.max(maxDepth, stats.get(queue)?.messages ?? 0);
      });
      void poolWaiting(metricsUrls).then((waiting) => (maxWaiting = Math.max(maxWaiting, waiting)));
    }, 2_000);
    const wallStarted = performance.now();
    let iterationsStarted = wallStarted;
    const result = await runLoad({
      scenario,
      baseUrl: target.baseUrl,
      rate,
      durationSeconds: seconds,
      env: process.env,
      // Sampled often enough that the slowest requests of a run have trace ids to look up.
      traceSampling: 0.1,
      onIterationsStarted: (_progress, startedAt) => (iterationsStarted = startedAt),
    }).finally(() => {
      clearInterval(sampler);
      clearInterval(lockSampler);
    });
    const wallMs = performance.now() - wallStarted;
    const elapsedSeconds = Math.max(seconds, (performance.now() - iterationsStarted) / 1000);
    const self = process.cpuUsage(before.self);
    const work = (await workDone(metricsUrls)).map((count, index) => count - (before.work[index] ?? 0));
    const totalWork = work.reduce((sum, value) => sum + value, 0);
    const verdict = judge(result.summary, elapsedSeconds, options.judgedBySaga);
    const traced = (verdict.tracedName && result.traced.get(verdict.tracedName)) || [];
    unit = verdict.unit;
    const units = verdict.throughput * elapsedSeconds;
    // The generator is the limit when it drops iterations or spends most of a core itself.
    const generatorSaturated = result.summary.dropped_iterations > 0 || (self.user + self.system) / 1000 / wallMs > 0.9;
    const measurement: RunMeasurement = {
      throughput: verdict.throughput,
      p50_ms: verdict.p50,
      p99_ms: verdict.p99,
      error_rate: verdict.errorRate,
      cpu_ms_per_unit: units > 0 ? (cpuMs(pids) - before.cpu) / units : 0,
      replica_shares: work.map((value) => (totalWork > 0 ? value / totalWork : 0)),
      ...(consumerQueues.length > 0 ? { max_queue_depth: maxDepth } : {}),
      pool_waits_max: maxWaiting,
      ...(lockSamples.length > 0
        ? { lock_waits: { mean: lockSamples.reduce((sum, value) => sum + value, 0) / lockSamples.length, max: Math.max(...lockSamples), samples: lockSamples.length } }
        : {}),
      generator_saturated: generatorSaturated,
      // The request the SLO is judged on: a typical trace of it and the slowest ones.
      slowest_traces: traced.slice(-3).reverse().map(sampledTrace),
      ...(traced.length > 0 ? { median_trace: sampledTrace(traced[Math.floor((traced.length - 1) / 2)]!) } : {}),
    };
    const holds = !generatorSaturated && verdict.p99 < options.slo.p99_ms && verdict.errorRate < options.slo.max_error_rate;
    if (generatorSaturated) saturatedAt.set(replicas, Math.min(saturatedAt.get(replicas) ?? Number.POSITIVE_INFINITY, rate));
    latency.push({ replicas, offered_rate: rate, p50_ms: verdict.p50, p99_ms: verdict.p99 });
    log(`N=${replicas} at ${rate.toFixed(1)}/s: ${verdict.throughput.toFixed(1)} ${verdict.unit}, p99 ${verdict.p99.toFixed(0)} ms, errors ${(verdict.errorRate * 100).toFixed(1)} %${generatorSaturated ? ', generator saturated' : ''} → ${holds ? 'holds' : 'breaks'} the SLO`);
    return { measurement, holds };
  };

  /**
   * Steps the offered rate up by half until the SLO breaks (or down by half until it holds, when
   * it breaks at the start), then bisects twice: the last rate that held gives X(N).
   */
  const capacity = async (replicas: number, startRate: number): Promise<{ measurement: RunMeasurement; rate: number }> => {
    let passed: { rate: number; measurement: RunMeasurement } | undefined;
    let failed: { rate: number; measurement: RunMeasurement } | undefined;
    let rate = startRate;
    /** A break is confirmed by a second run at the same rate: one slow moment on a shared machine is not a capacity. */
    const confirmed = async (at: number) => {
      const first = await measure(replicas, at, options.durationSeconds);
      return first.holds ? first : measure(replicas, at, options.durationSeconds);
    };
    for (let step = 0; step < 12 && (passed === undefined || failed === undefined); step++) {
      const { measurement, holds } = await confirmed(rate);
      if (holds) passed = { rate, measurement };
      else failed = { rate, measurement };
      if (passed && failed) break;
      if (holds) rate *= 1.5;
      else if (step >= 4) break;
      else rate /= 2;
    }
    for (let bisection = 0; bisection < 2 && passed && failed; bisection++) {
      const middle = (passed.rate + failed.rate) / 2;
      const { measurement, holds } = await confirmed(middle);
      if (holds) passed = { rate: middle, measurement };
      else failed = { rate: middle, measurement };
    }
    if (!passed) {
      log(`N=${replicas}: the SLO broke at every rate down to ${rate.toFixed(2)}/s`);
      return { measurement: { ...failed!.measurement, throughput: 0 }, rate: 0 };
    }
    return passed;
  };

  try {
    let previous: { replicas: number; rate: number } | undefined;
    for (const replicas of options.replicas) {
      log(`scaling ${options.service} to ${replicas}`);
      await target.scale(options.service, replicas);
      if (consumerQueues.length > 0) {
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const stats = await watcher.stats(consumerQueues);
          if (consumerQueues.every((queue) => (stats.get(queue)?.consumers ?? 0) >= replicas)) break;
          await new Promise((done) => setTimeout(done, 250));
        }
      }
      // From what fewer replicas did, scaled, but lower: stepping up is cheaper than coming down.
      const startRate = previous ? Math.max(1, (previous.rate * replicas) / previous.replicas / 2) : options.scenario === 'browse' ? 50 : 4;
      if (options.warmupSeconds > 0) await runLoad({ scenario, baseUrl: target.baseUrl, rate: startRate, durationSeconds: options.warmupSeconds, env: process.env, traceSampling: 0 });
      const runs: RunMeasurement[] = [];
      const rates: number[] = [];
      for (let repeat = 0; repeat < options.repeat; repeat++) {
        const found = await capacity(replicas, startRate);
        runs.push(found.measurement);
        rates.push(found.rate);
      }
      runsByReplicas.set(replicas, runs);
      previous = { replicas, rate: Math.max(...rates, startRate / 2) };
    }
  } finally {
    await target.scale(options.service, originalReplicas).catch(() => {});
    await watcher.close();
    await lockWaits.close();
    await target.close();
  }

  const single = runsByReplicas.get(1);
  const singleThroughput = single ? pointFrom(1, unit, single, undefined).throughput : undefined;
  const points = options.replicas.map((replicas) => pointFrom(replicas, unit, runsByReplicas.get(replicas)!, singleThroughput));
  const commit = await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: repositoryRoot }).then(
    ({ stdout }) => stdout.trim(),
    () => 'unknown',
  );
  const knobNames = ['PAYMENT_LATENCY_MS', 'EMAIL_LATENCY_MS', 'CONSUMER_CONCURRENCY', 'CONSUMER_PREFETCH', 'DATABASE_POOL_MAX', 'PRODUCT_CACHE'];
  const conditions = {
    commit,
    cores: availableParallelism(),
    node: process.versions.node,
    knobs: Object.fromEntries(knobNames.flatMap((name) => (process.env[name] ? [[name, process.env[name]!]] : []))),
    duration_s: options.durationSeconds,
    repeat: options.repeat,
  };
  const results: ExperimentResults = {
    service: options.service,
    scenario: options.scenario,
    slo: { metric: unit === 'orders/s' ? 'saga completion' : 'HTTP', ...options.slo },
    conditions,
    points,
    latency,
    usl: fitPoints(points),
    warnings: [
      ...warningsFor({ points, conditions, service: options.service, cpuBound: !['payment', 'email'].includes(options.service) }),
      ...[...saturatedAt].map(
        ([replicas, rate]) =>
          `N=${replicas}: at ${rate.toFixed(0)}/s offered the load generator itself was saturated (it runs on the same cores as the shop), so X(${replicas}) may be the generator's limit rather than the shop's; run the load from another machine to know.`,
      ),
    ],
    started_at: started.toISOString(),
    finished_at: new Date().toISOString(),
  };
  mkdirSync(options.out, { recursive: true });
  writeFileSync(join(options.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(options.out, 'report.md'), reportMarkdown(results));
  for (const [file, svg] of Object.entries(await chartFiles(results))) writeFileSync(join(options.out, file), svg);
  process.stdout.write(`${reportMarkdown(results)}\nwritten to ${options.out}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`experiment: ${(error as Error).message}\nusage: npm run experiment -- --service <name> --replicas 1,2,4 --scenario buyer [--slo 'p99<500ms'] [--repeat 1] [--duration 20s] [--warmup 5s] [--out DIR] [--cluster [--namespace scaleshop] [--shop scaleshop]]\n`);
    process.exit(2);
  }
  process.stderr.write(`experiment failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
