/**
 * Prometheus metrics: one registry per process, served at GET /metrics by every service
 * (createHttpApp), on the service's port or on one of its own (serveMetrics). Hot paths only observe into label children cached here; anything that
 * needs a query (outbox backlog) or a look at a pool is read when Prometheus scrapes.
 */
import { createServer } from 'node:http';
import client from 'prom-client';
import { errorBody } from './errors.ts';
import { instanceId } from './instance.ts';

export const metricsRegistry = new client.Registry();
// Replicas of a service are scraped and summed apart; the label says whose series it is.
metricsRegistry.setDefaultLabels({ replica: instanceId() });

let processMetrics = false;
/** CPU, memory, event-loop lag, GC and handles of this process, once per process. */
export function collectProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  client.collectDefaultMetrics({ register: metricsRegistry });
}

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const messageBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Keeps one label child per distinct label set, so an observation costs a map lookup. */
function childCache<T>(make: (...values: string[]) => T): (...values: string[]) => T {
  const children = new Map<string, T>();
  return (...values) => {
    const key = values.join('\u0000');
    let child = children.get(key);
    if (child === undefined) {
      child = make(...values);
      children.set(key, child);
    }
    return child;
  };
}

// HTTP ---------------------------------------------------------------------------------------

const httpDuration = new client.Histogram({
  name: 'http_server_request_duration_seconds',
  help: 'Duration of HTTP requests served, by method, route template and status code',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: latencyBuckets,
  registers: [metricsRegistry],
});
const httpChild = childCache((method, route, status) => httpDuration.labels(method!, route!, status!));

/** `route` is the route's template (/orders/:id), never the raw URL: the label set stays bounded. */
export function observeHttpRequest(method: string, route: string, statusCode: number, seconds: number): void {
  httpChild(method, route, String(statusCode)).observe(seconds);
}

// Messaging ----------------------------------------------------------------------------------

export type ConsumerOutcome = 'handled' | 'duplicate' | 'retried' | 'dead_lettered' | 'requeued';

const consumerDuration = new client.Histogram({
  name: 'messaging_consumer_duration_seconds',
  help: 'Time from delivery to settlement of each consumed message, by queue, event type and outcome (handled, duplicate, retried, dead_lettered, requeued)',
  labelNames: ['queue', 'event_type', 'outcome'] as const,
  buckets: messageBuckets,
  registers: [metricsRegistry],
});
const consumerChild = childCache((queue, type, outcome) => consumerDuration.labels(queue!, type!, outcome!));

const queueWait = new client.Histogram({
  name: 'messaging_queue_wait_seconds',
  help: 'Time a message waited in RabbitMQ, from its publication to its delivery to this consumer',
  labelNames: ['queue', 'event_type'] as const,
  buckets: messageBuckets,
  registers: [metricsRegistry],
});
const queueWaitChild = childCache((queue, type) => queueWait.labels(queue!, type!));

const retries = new client.Counter({
  name: 'messaging_retries_total',
  help: 'Messages parked in a retry queue: their handler failed (failed), or their database was unavailable (database_unavailable, which uses up no attempt)',
  labelNames: ['queue', 'event_type', 'reason'] as const,
  registers: [metricsRegistry],
});

const deadLettered = new client.Counter({
  name: 'messaging_dead_lettered_total',
  help: 'Messages moved to a dead-letter queue: malformed (poison) or out of retries (exhausted)',
  labelNames: ['queue', 'event_type', 'reason'] as const,
  registers: [metricsRegistry],
});

export function observeConsumed(queue: string, eventType: string, outcome: ConsumerOutcome, seconds: number): void {
  consumerChild(queue, eventType, outcome).observe(seconds);
}

export function countRetried(queue: string, eventType: string, reason: 'failed' | 'database_unavailable'): void {
  retries.labels(queue, eventType, reason).inc();
}

export function countDeadLettered(queue: string, eventType: string, reason: 'poison' | 'exhausted'): void {
  deadLettered.labels(queue, eventType, reason).inc();
}

export function observeQueueWait(queue: string, eventType: string, seconds: number): void {
  queueWaitChild(queue, eventType).observe(seconds);
}

/**
 * A gauge read at scrape time: one series per registered source, labelled with the source's name.
 * A source whose reading failed (undefined) is left out rather than reported stale.
 */
function scrapedGauge<T>(
  name: string,
  help: string,
  labelName: string,
  sources: () => Iterable<readonly [string, T | undefined]> | Promise<Iterable<readonly [string, T | undefined]>>,
  read: (source: T) => number,
) {
  return new client.Gauge({
    name,
    help,
    labelNames: [labelName],
    registers: [metricsRegistry],
    async collect() {
      this.reset();
      for (const [label, source] of await sources()) if (source !== undefined) this.labels(label).set(read(source));
    },
  });
}

// Outbox -------------------------------------------------------------------------------------

const outboxLag = new client.Histogram({
  name: 'outbox_lag_seconds',
  help: 'Time from an event being written to the outbox to the broker confirming its publication',
  labelNames: ['event_type'] as const,
  buckets: messageBuckets,
  registers: [metricsRegistry],
});
const outboxLagChild = childCache((type) => outboxLag.labels(type!));

const outboxFailures = new client.Counter({
  name: 'outbox_publish_failures_total',
  help: 'Outbox batches the relay could not publish (broker down, confirm timeout); they are retried',
  registers: [metricsRegistry],
});

export function observeOutboxLag(eventType: string, seconds: number): void {
  outboxLagChild(eventType).observe(seconds);
}

export function countOutboxFailure(): void {
  outboxFailures.inc();
}

export interface OutboxBacklog {
  unpublished: number;
  oldestAgeSeconds: number;
}

/** Outboxes of this process, read at scrape time. */
const outboxSources = new Map<string, () => Promise<OutboxBacklog>>();
const scrapeTimeoutMs = 2_000;

const withTimeout = <T>(promise: Promise<T>): Promise<T | undefined> => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.catch(() => undefined),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), scrapeTimeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
};

const backlogs = async () =>
  Promise.all([...outboxSources].map(async ([name, read]) => [name, await withTimeout(read())] as const));

let pendingBacklogs: ReturnType<typeof backlogs> | undefined;
/** Both outbox gauges come from one query per outbox and scrape. */
const readBacklogs = () => {
  pendingBacklogs ??= backlogs().finally(() => {
    pendingBacklogs = undefined;
  });
  return pendingBacklogs;
};

scrapedGauge('outbox_backlog', 'Outbox rows not yet published (read at scrape time)', 'outbox', readBacklogs, (backlog) => backlog.unpublished);
scrapedGauge('outbox_oldest_unpublished_age_seconds', 'Age of the oldest unpublished outbox row; 0 when the outbox is empty (read at scrape time)', 'outbox', readBacklogs, (backlog) => backlog.oldestAgeSeconds);

export function registerOutbox(name: string, read: () => Promise<OutboxBacklog>): () => void {
  outboxSources.set(name, read);
  return () => {
    if (outboxSources.get(name) === read) outboxSources.delete(name);
  };
}

// Database pools -----------------------------------------------------------------------------

export interface PoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options: { max?: number };
}

const pools = new Map<string, PoolLike>();

const readPools = () => pools;
scrapedGauge('db_pool_connections', 'Connections the database pool holds open (in use and idle)', 'pool', readPools, (pool) => pool.totalCount);
scrapedGauge('db_pool_idle_connections', 'Open connections of the database pool that are idle', 'pool', readPools, (pool) => pool.idleCount);
scrapedGauge('db_pool_waiting_clients', 'Queries waiting for a connection of the database pool', 'pool', readPools, (pool) => pool.waitingCount);
scrapedGauge('db_pool_max_connections', 'Size limit of the database pool', 'pool', readPools, (pool) => pool.options.max ?? 10);

/** Reports a pg.Pool's usage until the returned function is called (at close). */
export function registerPool(name: string, pool: PoolLike): () => void {
  pools.set(name, pool);
  return () => {
    if (pools.get(name) === pool) pools.delete(name);
  };
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * /metrics on a port of its own, for a process whose main port is public (the gateway): the
 * scraper reaches it inside the cluster, and nothing publishes it.
 */
export async function serveMetrics(host: string, port: number): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?', 1)[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff' });
      response.end(JSON.stringify(errorBody('NOT_FOUND', 'only GET /metrics is served on this port')));
      return;
    }
    metricsRegistry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': metricsRegistry.contentType, 'x-content-type-options': 'nosniff' });
        response.end(text);
      },
      () => {
        response.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

// Circuit breakers ---------------------------------------------------------------------------

const breakerState = new client.Gauge({
  name: 'circuit_breaker_state',
  help: 'State of the circuit breaker on calls to a dependency: 0 closed (calls go through), 1 open (calls fail fast with 503), 2 half-open (a probe is let through)',
  labelNames: ['dependency'] as const,
  registers: [metricsRegistry],
});

const breakerTransitions = new client.Counter({
  name: 'circuit_breaker_transitions_total',
  help: 'Times the circuit breaker on calls to a dependency entered a state (open, half_open, closed)',
  labelNames: ['dependency', 'state'] as const,
  registers: [metricsRegistry],
});

export function recordBreakerState(dependency: string, state: 'closed' | 'open' | 'half_open'): void {
  breakerState.labels(dependency).set(state === 'closed' ? 0 : state === 'open' ? 1 : 2);
  breakerTransitions.labels(dependency, state).inc();
}
