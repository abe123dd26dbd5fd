/**
 * Local mode: runs every service as its own process on this machine, the way a cluster
 * would run them as pods — each with only its own environment and database.
 * Used by `npm start`, the end-to-end tests and the benchmarks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  databaseName,
  ensureDatabaseExists,
  generateTokenKeys,
  secretSettingsOf,
  serviceEnvironment,
  serviceNames,
  serviceOf,
  serviceNodeFlags,
  compileCacheVariable,
  startOrder as topologyStartOrder,
  type SecretKind,
  type ServiceName,
} from '@scaleshop/platform';
import { startMailCatcher } from './mail-catcher.ts';
import { serveReplicaControl, type ReplicaCounts, type ReplicaState } from './replicas.ts';

export type MailCatcher = Awaited<ReturnType<typeof startMailCatcher>> & { url: string };

export const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * What every local service process starts with, beside its own settings: the same node flags as
 * the images, and a compile cache (platform's node-runtime.ts) shared by every start, so that
 * only the first start of a changed file pays for stripping its types.
 */
export const serviceNodeArguments = [...serviceNodeFlags, '--import', '@scaleshop/platform/telemetry'];
export const serviceRuntimeEnvironment = (): Record<string, string> => ({
  [compileCacheVariable]: process.env[compileCacheVariable] || join(repositoryRoot, 'node_modules', '.cache', 'scaleshop-compile'),
});

/** Where local mode looks for Postgres and RabbitMQ when POSTGRES_URL and RABBITMQ_URL are not set. */
export const defaultPostgresUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
export const defaultRabbitMqUrl = 'amqp://guest:guest@127.0.0.1:5672';
/** The local mail catcher's ports, Mailpit's too (compose.yaml). */
export const mailCatcherPorts = { smtp: 1025, http: 8025 };

export type { ServiceName };
export { serviceNames };

/** Where a running `npm start` answers `npm run scale` (SCALESHOP_CONTROL_SOCKET moves it, e.g. for tests). */
export const controlSocketPath = (root: string) => process.env.SCALESHOP_CONTROL_SOCKET ?? join(root, '.local', 'shop.sock');

export interface ShopOptions {
  /** The Postgres server the databases are created on. */
  postgresUrl?: string;
  /** Database names are `<prefix><service>`. */
  databasePrefix?: string;
  /** The broker of the checkout saga (default: RABBITMQ_URL, else the local RabbitMQ). */
  rabbitMqUrl?: string;
  /** Where the email service sends mail. Unset: SMTP_URL, else a mail catcher started here. */
  smtpUrl?: string;
  /** Ports of the local mail catcher when one is started (default 1025 and 8025). */
  mailCatcherPorts?: { smtp: number; http: number };
  ports?: Partial<Record<ServiceName, number>>;
  /** Use free ephemeral ports instead of the well-known ones (tests, benchmarks). */
  ephemeralPorts?: boolean;
  services?: readonly ServiceName[];
  /** Added to every service's environment, after the caller's own environment. */
  environment?: Record<string, string>;
  /** Per-service additions, applied last. */
  serviceEnvironment?: Partial<Record<ServiceName, Record<string, string>>>;
  output?: 'pretty' | 'json' | 'silent';
  /** Every line a service writes (stdout and stderr), e.g. for a test to look for a log line; also with `output: 'silent'`. */
  onLogLine?: (service: ServiceName, line: string) => void;
  /** Restart a service that dies, as a Deployment would. */
  restartOnCrash?: boolean;
  /** Processes per service at start (default 1 each; 0 is allowed, as for a Deployment). */
  replicas?: Partial<Record<ServiceName, number>>;
  /** Serves the replica counts on this Unix socket for `npm run scale`. */
  controlSocket?: string;
  tokenKeys?: { privateKeyPem: string; publicKeyPem: string };
}

export interface RunningService {
  name: ServiceName;
  url: string;
  port: number;
  /** The first replica's process. */
  process(): ChildProcess;
  /** Every replica's process, in replica order. */
  processes(): ChildProcess[];
  /** Signals the first replica (e.g. SIGKILL to simulate a crash). */
  kill(signal: NodeJS.Signals): void;
  /** Starts the first replica again (stopping it first if it runs) and waits until it is ready. */
  restart(): Promise<void>;
}

export interface Shop {
  services: Record<ServiceName, RunningService>;
  gatewayUrl: string;
  /** The gateway serves its metrics apart from its public port. */
  gatewayMetricsUrl: string;
  databaseUrls: Partial<Record<ServiceName, string>>;
  tokenKeys: { privateKeyPem: string; publicKeyPem: string };
  smtpUrl: string;
  /** The web page and JSON API of the mail catcher, when local mode started one. */
  mailCatcher: MailCatcher | undefined;
  /** Each service's replicas, their process ids and their own /metrics. */
  replicaState(): Record<ServiceName, ReplicaState>;
  /** Changes replica counts as `kubectl scale` does: new replicas are ready when it resolves; removed ones got SIGTERM and have exited. */
  scale(counts: ReplicaCounts): Promise<void>;
  stop(): Promise<void>;
}

const startOrder = topologyStartOrder();
const palette = ['35', '36', '91', '94', '32', '34', '33', '95', '96', '92'];
const colors = new Map(serviceNames.map((name, index) => [name, palette[index % palette.length]!]));

const configuredPostgresUrl = () => process.env.POSTGRES_URL ?? defaultPostgresUrl;
const defaultDatabasePrefix = 'scaleshop_';

/** Where local mode keeps a service's database: its own database on the one Postgres server. */
export function localDatabaseUrl(name: ServiceName, postgresUrl = configuredPostgresUrl(), prefix = defaultDatabasePrefix): string {
  const url = new URL(postgresUrl);
  url.pathname = `/${databaseName(name, prefix)}`;
  return url.toString();
}

export async function startShop(options: ShopOptions = {}): Promise<Shop> {
  const postgresUrl = options.postgresUrl ?? configuredPostgresUrl();
  const prefix = options.databasePrefix ?? defaultDatabasePrefix;
  const names = options.services ?? startOrder;
  const output = options.output ?? 'pretty';
  const tokenKeys = options.tokenKeys ?? generateTokenKeys();
  const rabbitMqUrl = options.rabbitMqUrl ?? process.env.RABBITMQ_URL ?? defaultRabbitMqUrl;
  let mailCatcher: MailCatcher | undefined;
  let smtpUrl = options.smtpUrl ?? process.env.SMTP_URL;
  if (!smtpUrl && names.includes('email')) {
    const catcherPorts = options.mailCatcherPorts ?? (options.ephemeralPorts ? { smtp: 0, http: 0 } : mailCatcherPorts);
    const caught = await startMailCatcher({ host: '127.0.0.1', smtpPort: catcherPorts.smtp, httpPort: catcherPorts.http });
    mailCatcher = { ...caught, url: `http://127.0.0.1:${caught.httpPort}` };
    smtpUrl = `smtp://127.0.0.1:${caught.smtpPort}`;
  }

  const ports = {} as Record<ServiceName, number>;
  for (const name of startOrder) ports[name] = options.ports?.[name] ?? (options.ephemeralPorts ? await freePort() : serviceOf(name).port);
  const urlOf = (name: ServiceName) => `http://127.0.0.1:${ports[name]}`;
  const metricsPorts = new Map<ServiceName, number>();
  for (const name of startOrder) {
    const metricsPort = serviceOf(name).metricsPort;
    if (metricsPort !== undefined) metricsPorts.set(name, options.ephemeralPorts ? await freePort() : metricsPort);
  }
  const gatewayMetricsPort = metricsPorts.get('gateway')!;

  const databaseUrls: Partial<Record<ServiceName, string>> = {};
  for (const name of names) {
    if (!serviceOf(name).ownsDatabase) continue;
    databaseUrls[name] = localDatabaseUrl(name, postgresUrl, prefix);
    await ensureDatabaseExists(databaseUrls[name]);
  }

  const secretValue = (name: ServiceName, kind: SecretKind): string | undefined => {
    switch (kind) {
      case 'database':
        return databaseUrls[name];
      case 'broker':
        return rabbitMqUrl;
      case 'tokenPrivateKey':
        return tokenKeys.privateKeyPem;
      case 'tokenPublicKey':
        return tokenKeys.publicKeyPem;
    }
  };

  // A laptop may have no broker yet: the consumer-only services report ready without one, as the others do.
  const brokerOptional = { READINESS_WAITS_FOR_CONSUMERS: 'false' };
  // What local mode chooses, beyond what the topology gives every deployment.
  const localChoices = (name: ServiceName): Record<string, string> => {
    switch (name) {
      case 'user':
        return {
          SEED_DEV_USERS: process.env.SEED_DEV_USERS ?? 'true',
          // Every client of a local shop is 127.0.0.1: a per-address allowance would be shared by the
          // whole machine, load runs included. The per-account limits still hold.
          REGISTRATIONS_PER_ADDRESS: process.env.REGISTRATIONS_PER_ADDRESS ?? '1000000',
          LOGIN_FAILURES_PER_ADDRESS: process.env.LOGIN_FAILURES_PER_ADDRESS ?? '1000000',
        };
      case 'email':
        return { ...(smtpUrl ? { SMTP_URL: smtpUrl } : {}), ...brokerOptional };
      case 'payment':
        return brokerOptional;
      case 'gateway':
        // The same reason: a load run from this machine is one address, and would be rate-limited as one client.
        return { RATE_LIMIT_MAX: process.env.RATE_LIMIT_MAX ?? '1000000' };
      default:
        return {};
    }
  };

  const environmentOf = (name: ServiceName): Record<string, string> => ({
    ...(process.env as Record<string, string>),
    ...serviceRuntimeEnvironment(),
    ...options.environment,
    // The OTEL_* of the caller's environment (endpoint, protocol…) pass through.
    ...serviceEnvironment(name, { host: '127.0.0.1', urlOf, portOf: (service) => ports[service], metricsPortOf: (service) => metricsPorts.get(service)! }),
    ...Object.fromEntries(
      secretSettingsOf(name).flatMap(({ variable, holds }) => {
        const value = secretValue(name, holds);
        return value === undefined ? [] : [[variable, value]];
      }),
    ),
    ...localChoices(name),
    ...options.serviceEnvironment?.[name],
  });

  let stopping = false;
  const running = {} as Record<ServiceName, RunningService>;

  /**
   * One process of a service, as a pod of a Deployment. Replicas of a service share its port
   * (SO_REUSEPORT: the kernel spreads new connections over them, as a Service spreads them
   * over pods), so each serves /metrics on a port of its own to be read apart.
   */
  interface Replica {
    index: number;
    child: ChildProcess;
    metricsPort: number;
    /** Set when the launcher stops it on purpose: it is not restarted. */
    retiring: boolean;
  }
  const replicas = new Map<ServiceName, Replica[]>(startOrder.map((name) => [name, []]));
  const instanceName = (name: ServiceName, index: number) => `${name}-${index}`;

  const launch = (name: ServiceName, index: number, metricsPort: number): Replica => {
    // As in the image: the same node flags, and telemetry starts before anything else loads (it stays idle without OTEL_EXPORTER_OTLP_ENDPOINT).
    const child = spawn(process.execPath, [...serviceNodeArguments, join(repositoryRoot, 'services', name, 'src', 'main.ts')], {
      cwd: repositoryRoot,
      env: { ...environmentOf(name), REUSE_PORT: 'true', METRICS_PORT: String(metricsPort), SERVICE_INSTANCE_ID: instanceName(name, index) },
      // Silent services write their logs straight to /dev/null, so benchmarks do not pay for relaying
      // them; their stderr (a crash, a refused configuration) is kept, to say why one did not start.
      stdio: output === 'silent' && !options.onLogLine ? ['ignore', 'ignore', 'pipe'] : ['ignore', 'pipe', 'pipe'],
      // Own process group: Ctrl-C reaches only the launcher, which stops services one signal each.
      detached: true,
    });
    const replica: Replica = { index, child, metricsPort, retiring: false };
    pipeOutput(name, child, output, options.onLogLine);
    child.on('exit', (code, signal) => {
      if (stopping || replica.retiring) return;
      const who = replicas.get(name)!.length > 1 ? instanceName(name, index) : name;
      if (output !== 'silent') process.stderr.write(`${label(name)} ${who} exited (${signal ?? `code ${code}`})\n`);
      if (options.restartOnCrash && replicas.get(name)!.includes(replica)) {
        setTimeout(() => {
          if (stopping || replica.retiring || !replicas.get(name)!.includes(replica)) return;
          if (output !== 'silent') process.stderr.write(`${label(name)} ${who} restarting\n`);
          const restarted = launch(name, index, metricsPort);
          const list = replicas.get(name)!;
          list.splice(list.indexOf(replica), 1, restarted);
        }, 1_000);
      }
    });
    return replica;
  };

  /** The first replica keeps the service's well-known metrics port (the gateway's 9464); the others get free ones. */
  const metricsPortFor = async (name: ServiceName, index: number) => (index === 1 && metricsPorts.has(name) ? metricsPorts.get(name)! : await freePort());

  const addReplica = async (name: ServiceName): Promise<Replica> => {
    const list = replicas.get(name)!;
    let index = 1;
    while (list.some((replica) => replica.index === index)) index++;
    const replica = launch(name, index, await metricsPortFor(name, index));
    list.push(replica);
    list.sort((a, b) => a.index - b.index);
    return replica;
  };

  const retire = async (name: ServiceName, replica: Replica) => {
    replica.retiring = true;
    const list = replicas.get(name)!;
    list.splice(list.indexOf(replica), 1);
    await stopProcess(replica.child);
  };

  const scale = async (counts: ReplicaCounts) => {
    await Promise.all(
      Object.entries(counts).map(async ([service, wanted]) => {
        const name = service as ServiceName;
        const list = replicas.get(name)!;
        // The newest go first, as a ReplicaSet removes the youngest pods.
        const surplus = [...list].sort((a, b) => b.index - a.index).slice(0, Math.max(0, list.length - wanted));
        const added: Replica[] = [];
        for (let count = list.length; count < wanted; count++) added.push(await addReplica(name));
        await Promise.all([
          ...surplus.map((replica) => retire(name, replica)),
          ...added.map((replica) => waitUntilReplicaListens(instanceName(name, replica.index), replica)),
        ]);
      }),
    );
  };

  const replicaState = () =>
    Object.fromEntries(
      startOrder.map((name) => {
        const list = replicas.get(name)!;
        return [name, { replicas: list.length, pids: list.map((replica) => replica.child.pid ?? 0), metrics: list.map((replica) => `http://127.0.0.1:${replica.metricsPort}/metrics`) }];
      }),
    ) as Record<ServiceName, ReplicaState>;

  let control: { close(): Promise<void> } | undefined;
  const stopAll = async () => {
    stopping = true;
    await control?.close();
    await Promise.all([...replicas.values()].flat().map((replica) => stopProcess(replica.child)));
    await mailCatcher?.close();
  };

  const firstReplica = (name: ServiceName) => replicas.get(name)![0];

  try {
    for (const name of names) {
      const wanted = options.replicas?.[name] ?? 1;
      for (let count = 0; count < wanted; count++) await addReplica(name);
    }
    await Promise.all(
      names.map(async (name) => {
        const list = replicas.get(name)!;
        await Promise.all(list.map((replica) => waitUntilReplicaListens(instanceName(name, replica.index), replica)));
        if (list.length > 0) await waitUntilReady(name, urlOf(name), () => firstReplica(name)!.child);
      }),
    );
    if (options.controlSocket) control = await serveReplicaControl(options.controlSocket, { services: names, state: replicaState, scale });
  } catch (error) {
    await stopAll();
    throw error;
  }

  for (const name of names) {
    running[name] = {
      name,
      url: urlOf(name),
      port: ports[name],
      process: () => firstReplica(name)!.child,
      processes: () => replicas.get(name)!.map((replica) => replica.child),
      kill: (signal) => firstReplica(name)?.child.kill(signal),
      async restart() {
        const list = replicas.get(name)!;
        const previous = list[0];
        if (previous && previous.child.exitCode === null && previous.child.signalCode === null) await retire(name, previous);
        else if (previous) list.splice(list.indexOf(previous), 1);
        const replica = launch(name, previous?.index ?? 1, previous?.metricsPort ?? (await metricsPortFor(name, 1)));
        list.unshift(replica);
        await waitUntilReplicaListens(instanceName(name, replica.index), replica);
        await waitUntilReady(name, urlOf(name), () => replica.child);
      },
    };
  }

  return {
    services: running,
    gatewayUrl: urlOf('gateway'),
    gatewayMetricsUrl: `http://127.0.0.1:${gatewayMetricsPort}/metrics`,
    databaseUrls,
    tokenKeys,
    smtpUrl: smtpUrl ?? '',
    mailCatcher,
    replicaState,
    scale,
    stop: stopAll,
  };
}

/** The JWT key pair of local mode, kept in .local/ so tokens survive a restart. */
export function localTokenKeys(): { privateKeyPem: string; publicKeyPem: string } {
  if (process.env.JWT_PRIVATE_KEY && process.env.JWT_PUBLIC_KEY) {
    return { privateKeyPem: process.env.JWT_PRIVATE_KEY, publicKeyPem: process.env.JWT_PUBLIC_KEY };
  }
  const directory = join(repositoryRoot, '.local');
  const privatePath = join(directory, 'jwt-private.pem');
  const publicPath = join(directory, 'jwt-public.pem');
  if (existsSync(privatePath) && existsSync(publicPath)) {
    return { privateKeyPem: readFileSync(privatePath, 'utf8'), publicKeyPem: readFileSync(publicPath, 'utf8') };
  }
  const keys = generateTokenKeys();
  mkdirSync(directory, { recursive: true });
  writeFileSync(privatePath, keys.privateKeyPem, { mode: 0o600 });
  writeFileSync(publicPath, keys.publicKeyPem);
  return keys;
}

/** The last lines each service process wrote to stderr, for the error when it does not start. */
const stderrTails = new WeakMap<ChildProcess, string[]>();

/** Polls `url` until it answers 200, failing at once when the process exits first. */
async function waitForAnswer(name: string, url: string, child: () => ChildProcess, notYet: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const process = child();
    if (process.exitCode !== null || process.signalCode !== null) {
      const said = stderrTails.get(process) ?? [];
      throw new Error(`${name} exited during start-up (${process.signalCode ?? `code ${process.exitCode}`})${said.length > 0 ? `; its stderr ended with:\n${said.join('\n')}` : ''}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${name} ${notYet} within ${timeoutMs / 1000} s`);
}

/** A replica listens once its own /metrics answers: runService serves it right after the app listens. */
const waitUntilReplicaListens = (name: string, replica: { child: ChildProcess; metricsPort: number }) =>
  waitForAnswer(name, `http://127.0.0.1:${replica.metricsPort}/metrics`, () => replica.child, 'did not listen');

const waitUntilReady = (name: ServiceName, url: string, child: () => ChildProcess) => waitForAnswer(name, `${url}/health/ready`, child, `was not ready at ${url}`);

async function stopProcess(child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** A port nothing listens on right now, for a server a test or benchmark starts next. */
/**
 * Ports handed out below the kernel's ephemeral range (32768–60999 on Linux): a port taken there
 * with listen(0) and released can be given to any process's next outgoing connection (a pool's
 * connection to Postgres, say) before the service binds it, and the service then fails to start.
 * Nothing is given a port in this range without asking, so only another caller of this function
 * could take one, and that is a one-in-ten-thousand chance per port, not a race with every socket.
 */
const portRange = { first: 10_000, last: 19_999 };
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = portRange.first + Math.floor(Math.random() * (portRange.last - portRange.first + 1));
    if (handedOut.has(port)) continue;
    // Reserved before the check, so two callers at once cannot both be handed it.
    handedOut.add(port);
    if (await canListen(port)) return port;
    handedOut.delete(port);
  }
  throw new Error(`no free port between ${portRange.first} and ${portRange.last} after 200 tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function label(name: ServiceName): string {
  return process.stderr.isTTY ? `\x1b[${colors.get(name)}m${name.padEnd(8)}\x1b[0m` : name.padEnd(8);
}

function pipeOutput(name: ServiceName, child: ChildProcess, output: 'pretty' | 'json' | 'silent', onLogLine?: (service: ServiceName, line: string) => void): void {
  const tail: string[] = [];
  stderrTails.set(child, tail);
  // Silent without a listener: only stderr is piped, and only its tail is kept.
  const relay = output !== 'silent' || onLogLine !== undefined;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      if (stream === child.stderr) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
      if (!relay) return;
      onLogLine?.(name, line);
      if (output !== 'silent') process.stdout.write(`${label(name)} ${output === 'pretty' ? prettyLine(line) : line}\n`);
    });
  }
}

/** Compact one pino JSON line for a terminal: time, level, message, then the interesting fields. */
function prettyLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    // The span id is left to the JSON lines (LOG_FORMAT=json); the trace id stays, to grep a checkout's lines by.
    const { time, level, msg, service: _service, req, res, responseTime, request_id: _id, err, span_id: _span, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const parts = [String(time ?? '').slice(11, 23), String(level ?? '').toUpperCase().padEnd(5), msg];
    if (req && typeof req === 'object') parts.push(`${(req as { method: string }).method} ${(req as { url: string }).url}`);
    if (res && typeof res === 'object') parts.push(`→ ${(res as { statusCode: number }).statusCode} in ${Number(responseTime).toFixed(1)} ms`);
    const extras = Object.entries(rest).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    if (err && typeof err === 'object') extras.push(`error=${(err as { message?: string }).message}`);
    return [...parts, ...extras].join(' ');
  } catch {
    return line;
  }
}
