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
  startOrder as topologyStartOrder,
  type SecretKind,
  type ServiceName,
} from '@scaleshop/platform';
import { startMailCatcher } from './mail-catcher.ts';

export type MailCatcher = Awaited<ReturnType<typeof startMailCatcher>> & { url: string };

export const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export type { ServiceName };

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
  tokenKeys?: { privateKeyPem: string; publicKeyPem: string };
}

export interface RunningService {
  name: ServiceName;
  url: string;
  port: number;
  process(): ChildProcess;
  /** Signals the current process (e.g. SIGKILL to simulate a crash). */
  kill(signal: NodeJS.Signals): void;
  /** Starts a stopped service again and waits until it is ready. */
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
  stop(): Promise<void>;
}

const startOrder = topologyStartOrder();
const palette = ['35', '36', '91', '94', '32', '34', '33', '95', '96', '92'];
const colors = new Map(serviceNames.map((name, index) => [name, palette[index % palette.length]!]));

export async function startShop(options: ShopOptions = {}): Promise<Shop> {
  const postgresUrl = options.postgresUrl ?? process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const prefix = options.databasePrefix ?? 'scaleshop_';
  const names = options.services ?? startOrder;
  const output = options.output ?? 'pretty';
  const tokenKeys = options.tokenKeys ?? generateTokenKeys();
  const rabbitMqUrl = options.rabbitMqUrl ?? process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  let mailCatcher: MailCatcher | undefined;
  let smtpUrl = options.smtpUrl ?? process.env.SMTP_URL;
  if (!smtpUrl && names.includes('email')) {
    const catcherPorts = options.mailCatcherPorts ?? (options.ephemeralPorts ? { smtp: 0, http: 0 } : { smtp: 1025, http: 8025 });
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
    const url = new URL(postgresUrl);
    url.pathname = `/${databaseName(name, prefix)}`;
    databaseUrls[name] = url.toString();
    await ensureDatabaseExists(url.toString());
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
        return smtpUrl ? { SMTP_URL: smtpUrl } : {};
      default:
        return {};
    }
  };

  const environmentOf = (name: ServiceName): Record<string, string> => ({
    ...(process.env as Record<string, string>),
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

  const launch = (name: ServiceName): ChildProcess => {
    // As in the image: telemetry starts before anything else loads (it stays idle without OTEL_EXPORTER_OTLP_ENDPOINT).
    const child = spawn(process.execPath, ['--import', '@scaleshop/platform/telemetry', join(repositoryRoot, 'services', name, 'src', 'main.ts')], {
      cwd: repositoryRoot,
      env: environmentOf(name),
      // Silent services write straight to /dev/null, so benchmarks do not pay for relaying their logs.
      stdio: output === 'silent' && !options.onLogLine ? 'ignore' : ['ignore', 'pipe', 'pipe'],
      // Own process group: Ctrl-C reaches only the launcher, which stops services one signal each.
      detached: true,
    });
    pipeOutput(name, child, output, options.onLogLine);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      if (output !== 'silent') process.stderr.write(`${label(name)} exited (${signal ?? `code ${code}`})\n`);
      if (options.restartOnCrash && current.get(name) === child) {
        setTimeout(() => {
          if (stopping) return;
          if (output !== 'silent') process.stderr.write(`${label(name)} restarting\n`);
          current.set(name, launch(name));
        }, 1_000);
      }
    });
    return child;
  };

  const current = new Map<ServiceName, ChildProcess>();
  const stopAll = async () => {
    stopping = true;
    await Promise.all([...current.values()].map((child) => stopProcess(child)));
    await mailCatcher?.close();
  };

  try {
    for (const name of names) current.set(name, launch(name));
    await Promise.all(names.map((name) => waitUntilReady(name, urlOf(name), () => current.get(name)!)));
  } catch (error) {
    await stopAll();
    throw error;
  }

  for (const name of names) {
    running[name] = {
      name,
      url: urlOf(name),
      port: ports[name],
      process: () => current.get(name)!,
      kill: (signal) => current.get(name)?.kill(signal),
      async restart() {
        const previous = current.get(name);
        if (previous && previous.exitCode === null && previous.signalCode === null) await stopProcess(previous);
        current.set(name, launch(name));
        await waitUntilReady(name, urlOf(name), () => current.get(name)!);
      },
    };
  }

  return { services: running, gatewayUrl: urlOf('gateway'), gatewayMetricsUrl: `http://127.0.0.1:${gatewayMetricsPort}/metrics`, databaseUrls, tokenKeys, smtpUrl: smtpUrl ?? '', mailCatcher, stop: stopAll };
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

async function waitUntilReady(name: ServiceName, url: string, child: () => ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const process = child();
    if (process.exitCode !== null || process.signalCode !== null) {
      throw new Error(`${name} exited during start-up (${process.signalCode ?? `code ${process.exitCode}`})`);
    }
    try {
      const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1_000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${name} was not ready at ${url} within ${timeoutMs / 1000} s`);
}

async function stopProcess(child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** A port nothing listens on right now, for a server a test or benchmark starts next. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function label(name: ServiceName): string {
  return process.stderr.isTTY ? `\x1b[${colors.get(name)}m${name.padEnd(8)}\x1b[0m` : name.padEnd(8);
}

function pipeOutput(name: ServiceName, child: ChildProcess, output: 'pretty' | 'json' | 'silent', onLogLine?: (service: ServiceName, line: string) => void): void {
  if (output === 'silent' && !onLogLine) return;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
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
