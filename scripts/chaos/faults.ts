/**
 * Injects one planned fault into a running local shop and records when it began and ended.
 * Every fault undoes itself (in `finally`, so an aborted run leaves no broker stopped and no
 * path cut); a kill or a SIGTERM ends when local mode has started the replica again and it
 * listens.
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Shop, ServiceName } from '../local-shop.ts';
import type { FaultRecord } from './history.ts';
import type { PlannedFault } from './schedule.ts';
import type { TcpProxy } from './tcp-proxy.ts';

const run = promisify(execFile);

export interface FaultContext {
  shop: Shop;
  /** The Postgres server's superuser URL (for pg_terminate_backend and to see it answer after a restart). */
  postgresAdminUrl: string;
  /** Each service's own database name. */
  databaseNames: Partial<Record<ServiceName, string>>;
  /** The proxies on the paths the schedule slows or cuts, by `service/dependency`. */
  proxies: ReadonlyMap<string, TcpProxy>;
  /** Restarts the run's Postgres (the machine's cluster, `machinePostgresRestart`, or the run's own embedded server). */
  restartPostgres: () => Promise<void>;
  /** Stops and starts the RabbitMQ application of the run's broker (the machine's node, `machineBroker`, or the run's own). */
  broker: { stopApp(): Promise<unknown>; startApp(): Promise<unknown> };
  log: (line: string) => void;
}

export async function injectFault(fault: PlannedFault, context: FaultContext): Promise<FaultRecord> {
  switch (fault.kind) {
    case 'kill':
    case 'term':
      return stopReplica(fault, fault.kind === 'kill' ? 'SIGKILL' : 'SIGTERM', context);
    case 'pg-restart':
      return restartPostgres(context);
    case 'broker-stop':
      return stopBroker(fault.durationMs, context);
    case 'db-cut':
      return cutDatabase(fault, context);
    case 'net-delay':
    case 'net-cut':
      return disturbPath(fault, context);
    case 'payment-slow':
      return slowPayments(fault, context);
  }
}

/**
 * An admin's token, kept for ten minutes (they last fifteen): an earlier fault may have left the
 * user service restarting just when this one needs to log in, so a login answered 503 is tried
 * again for up to 15 s.
 */
const adminTokens = new Map<string, { token: string; until: number }>();
async function adminToken(gateway: string): Promise<string> {
  const kept = adminTokens.get(gateway);
  if (kept && kept.until > Date.now()) return kept.token;
  let status = 0;
  for (let attempt = 0; attempt < 15; attempt++) {
    if (attempt > 0) await sleep(1_000);
    const login = await fetch(`${gateway}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: process.env.ADMIN_EMAIL || 'admin@example.com', password: process.env.ADMIN_PASSWORD || 'admin123' }),
    }).catch(() => undefined);
    status = login?.status ?? 0;
    const token = login && status === 200 ? ((await login.json()) as { access_token?: string }).access_token : (await login?.arrayBuffer(), undefined);
    if (token) {
      adminTokens.set(gateway, { token, until: Date.now() + 10 * 60_000 });
      return token;
    }
    if (status !== 0 && status < 500) break;
  }
  throw new Error(`cannot log in as the admin (${status || 'no answer'})`);
}

/**
 * The payment provider slowed down through the admin API (PUT /api/admin/faults), as an operator
 * would in the middle of a load run: the saga's queue grows behind it. Put back as it was after.
 */
async function slowPayments(fault: PlannedFault, context: FaultContext): Promise<FaultRecord> {
  const gateway = context.shop.gatewayUrl;
  const token = await adminToken(gateway);
  // The payment or email service may be restarting after an earlier fault: a 5xx is tried again
  // for up to 15 s, above all the PUT that puts the latency back.
  const knobs = async (method: 'GET' | 'PUT', body?: unknown) => {
    let problem = '';
    for (let attempt = 0; attempt < 15; attempt++) {
      if (attempt > 0) await sleep(1_000);
      const answer = await fetch(`${gateway}/api/admin/faults`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      }).catch(() => undefined);
      if (answer?.status === 200) return (await answer.json()) as { payment: { latency_ms: number } };
      problem = answer ? `${answer.status}: ${await answer.text()}` : 'no answer';
      if (answer && answer.status < 500) break;
    }
    throw new Error(`${method} /api/admin/faults answered ${problem}`);
  };
  const before = (await knobs('GET')).payment.latency_ms;
  const start = Date.now();
  try {
    await knobs('PUT', { payment: { latency_ms: fault.delayMs } });
    await sleep(fault.durationMs);
  } finally {
    await knobs('PUT', { payment: { latency_ms: before } });
  }
  return { kind: 'payment-slow', target: 'payment provider', start, end: Date.now(), note: `latency ${before} → ${fault.delayMs} ms` };
}

async function stopReplica(fault: PlannedFault, signal: 'SIGKILL' | 'SIGTERM', context: FaultContext): Promise<FaultRecord> {
  const service = fault.service as ServiceName;
  const before = context.shop.replicaState()[service];
  const index = Math.floor(fault.pick! * before.pids.length);
  const pid = before.pids[index]!;
  const start = Date.now();
  try {
    process.kill(pid, signal);
  } catch (error) {
    return { kind: fault.kind, target: `${service}-${index + 1}`, start, end: start, note: `could not signal ${pid}: ${(error as Error).message}` };
  }
  // Local mode starts a replica that died again after a second, as a Deployment would: the
  // fault lasts until the new process listens (its own /metrics answers).
  const deadline = start + 60_000;
  let note: string | undefined;
  for (;;) {
    const state = context.shop.replicaState()[service];
    const replaced = state.pids.length === before.pids.length && !state.pids.includes(pid);
    if (replaced && (await answers(state.metrics[index]!))) break;
    if (Date.now() > deadline) {
      note = 'the replica was not back within 60 s';
      break;
    }
    await sleep(100);
  }
  return { kind: fault.kind, target: `${service}-${index + 1}`, start, end: Date.now(), ...(note ? { note } : {}) };
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** The run's Postgres restarted (`context.restartPostgres`); the fault lasts until it answers again. */
async function restartPostgres(context: FaultContext): Promise<FaultRecord> {
  const start = Date.now();
  let note: string | undefined;
  try {
    await context.restartPostgres();
  } catch (error) {
    note = `the restart failed: ${(error as Error).message.split('\n')[0]}`;
  }
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !(await postgresAnswers(context.postgresAdminUrl))) await sleep(100);
  return { kind: 'pg-restart', target: 'postgres', start, end: Date.now(), ...(note ? { note } : {}) };
}

/**
 * The machine's Postgres: the Debian cluster serving `postgresUrl`'s port, restarted with
 * pg_ctlcluster, or PG_RESTART_COMMAND elsewhere. Every other user of that server feels it.
 */
export function machinePostgresRestart(postgresUrl: string): () => Promise<void> {
  return async () => {
    const command = process.env.PG_RESTART_COMMAND ? ['sh', '-c', process.env.PG_RESTART_COMMAND] : await pgCtlclusterRestart(postgresUrl);
    await run(command[0]!, command.slice(1), { timeout: 60_000 });
  };
}

async function pgCtlclusterRestart(postgresUrl: string): Promise<string[]> {
  const port = new URL(postgresUrl).port || '5432';
  const { stdout } = await run('pg_lsclusters', ['--no-header']);
  const cluster = stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[2] === port);
  if (!cluster) throw new Error(`no Postgres cluster of pg_lsclusters listens on port ${port}; set PG_RESTART_COMMAND`);
  return ['pg_ctlcluster', cluster[0]!, cluster[1]!, 'restart', '--', '-m', 'fast'];
}

/** rabbitmqctl stop_app and start_app on the machine's default node, which every other user of that broker shares. */
export const machineBroker = {
  stopApp: () => run('rabbitmqctl', ['-q', 'stop_app'], { timeout: 60_000 }),
  startApp: () => run('rabbitmqctl', ['-q', 'start_app'], { timeout: 60_000 }),
};

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** `rabbitmqctl stop_app`, the hold, `start_app`: the broker's node stays up, every connection to it drops. */
async function stopBroker(durationMs: number, context: FaultContext): Promise<FaultRecord> {
  const start = Date.now();
  let note: string | undefined;
  try {
    await context.broker.stopApp();
    await sleep(durationMs);
  } catch (error) {
    note = `stop_app failed: ${(error as Error).message.split('\n')[0]}`;
  } finally {
    await context.broker.startApp().catch((error: Error) => {
      note = `${note ? `${note}; ` : ''}start_app failed: ${error.message.split('\n')[0]}`;
    });
  }
  return { kind: 'broker-stop', target: 'rabbitmq', start, end: Date.now(), ...(note ? { note } : {}) };
}

/** Every connection to the service's database is terminated, again every 200 ms while the fault is held: its pool keeps losing them. */
async function cutDatabase(fault: PlannedFault, context: FaultContext): Promise<FaultRecord> {
  const database = context.databaseNames[fault.service as ServiceName]!;
  const client = new pg.Client({ connectionString: context.postgresAdminUrl, application_name: 'chaos-db-cut' });
  client.on('error', () => {});
  await client.connect();
  const start = Date.now();
  let terminated = 0;
  try {
    while (Date.now() - start < fault.durationMs) {
      const result = await client.query('select count(pg_terminate_backend(pid)) as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
      terminated += Number(result.rows[0].n);
      await sleep(200);
    }
  } finally {
    await client.end().catch(() => {});
  }
  return { kind: 'db-cut', target: fault.service!, start, end: Date.now(), note: `${terminated} connection(s) terminated` };
}

async function disturbPath(fault: PlannedFault, context: FaultContext): Promise<FaultRecord> {
  const proxy = context.proxies.get(`${fault.service}/${fault.dependency}`);
  if (!proxy) throw new Error(`no proxy on ${fault.service} → ${fault.dependency}: the shop was started without it`);
  const start = Date.now();
  try {
    if (fault.kind === 'net-delay') proxy.delay(fault.delayMs!);
    else proxy.cut();
    await sleep(fault.durationMs);
  } finally {
    proxy.restore();
  }
  return {
    kind: fault.kind,
    target: `${fault.service} → ${fault.dependency}`,
    start,
    end: Date.now(),
    ...(fault.kind === 'net-delay' ? { note: `+${fault.delayMs} ms each way` } : {}),
  };
}
