/**
 * Typed configuration from the environment, parsed and validated once at start.
 * Every problem is collected before failing, so a misconfigured pod reports all of its
 * bad variables in one log line instead of one per restart.
 */

import { isMoney, normalize as normalizeMoney } from './money.ts';

export type Env = Record<string, string | undefined>;

export interface Setting<T> {
  readonly parse: (raw: string | undefined, name: string) => T;
  /** What the setting does, for docs/configuration.md (generated from the specs by `npm run docs`). */
  readonly description?: string;
  /** The default as it would be written in the environment; none when the setting is required or may stay unset. */
  readonly default?: string;
  /** The service refuses to start without it. */
  readonly required?: boolean;
  /** The values it takes, e.g. "integer ≥ 100". */
  readonly accepts?: string;
}

/** Facts about a setting that the parser does not need but the documentation does. */
interface About {
  readonly description?: string | undefined;
  readonly accepts: string;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

class SettingProblem extends Error {}

function required<T>(convert: (raw: string, name: string) => T, fallback: T | undefined, about: About): Setting<T> {
  return {
    ...(about.description === undefined ? {} : { description: about.description }),
    accepts: about.accepts,
    required: fallback === undefined,
    ...(fallback === undefined ? {} : { default: Array.isArray(fallback) ? fallback.join(',') : String(fallback) }),
    parse(raw, name) {
      if (raw === undefined || raw === '') {
        if (fallback !== undefined) return fallback;
        throw new SettingProblem(`${name} is required but not set`);
      }
      return convert(raw, name);
    },
  };
}

/** The same setting with another description: a shared setting explained for one service. */
export function describe<T>(setting: Setting<T>, description: string): Setting<T> {
  return { ...setting, description };
}

export function string(fallback?: string, description?: string): Setting<string> {
  return required((raw) => raw, fallback, { description, accepts: 'text' });
}

export function optionalString(description?: string): Setting<string | undefined> {
  return {
    ...(description === undefined ? {} : { description }),
    accepts: 'text',
    required: false,
    parse: (raw) => (raw === undefined || raw === '' ? undefined : raw),
  };
}

interface NumberOptions {
  default?: number;
  min?: number;
  max?: number;
  description?: string;
}

function range(kind: string, options: NumberOptions): string {
  if (options.min !== undefined && options.max !== undefined) return `${kind} from ${options.min} to ${options.max}`;
  if (options.min !== undefined) return `${kind} ≥ ${options.min}`;
  if (options.max !== undefined) return `${kind} ≤ ${options.max}`;
  return kind;
}

export function integer(options: NumberOptions = {}): Setting<number> {
  return required((raw, name) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new SettingProblem(`${name} must be an integer, got "${raw}"`);
    const value = Number(raw);
    if (options.min !== undefined && value < options.min) throw new SettingProblem(`${name} must be >= ${options.min}, got ${value}`);
    if (options.max !== undefined && value > options.max) throw new SettingProblem(`${name} must be <= ${options.max}, got ${value}`);
    return value;
  }, options.default, { description: options.description, accepts: range('integer', options) });
}

export function port(fallback?: number, description?: string): Setting<number> {
  return integer({ min: 0, max: 65535, ...(fallback === undefined ? {} : { default: fallback }), ...(description === undefined ? {} : { description }) });
}

/** A port that may stay unset, when something else is the default (e.g. /metrics on the main port). */
export function optionalPort(description?: string): Setting<number | undefined> {
  const parsePort = port().parse;
  return {
    ...(description === undefined ? {} : { description }),
    accepts: 'integer from 0 to 65535',
    required: false,
    parse: (raw, name) => (raw === undefined || raw.trim() === '' ? undefined : parsePort(raw, name)),
  };
}

export function number(options: NumberOptions = {}): Setting<number> {
  return required((raw, name) => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) throw new SettingProblem(`${name} must be a number, got "${raw}"`);
    if (options.min !== undefined && value < options.min) throw new SettingProblem(`${name} must be >= ${options.min}, got ${value}`);
    if (options.max !== undefined && value > options.max) throw new SettingProblem(`${name} must be <= ${options.max}, got ${value}`);
    return value;
  }, options.default, { description: options.description, accepts: range('number', options) });
}

export function boolean(fallback?: boolean, description?: string): Setting<boolean> {
  return required((raw, name) => {
    const normalized = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(normalized)) return true;
    if (['0', 'false', 'no', 'off'].includes(normalized)) return false;
    throw new SettingProblem(`${name} must be true or false, got "${raw}"`);
  }, fallback, { description, accepts: 'true or false' });
}

export function url(options: { default?: string; protocols?: readonly string[]; description?: string } = {}): Setting<string> {
  return required((raw, name) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new SettingProblem(`${name} must be a URL, got "${redactUrl(raw)}"`);
    }
    if (options.protocols && !options.protocols.includes(parsed.protocol.replace(/:$/, ''))) {
      throw new SettingProblem(`${name} must use one of ${options.protocols.join(', ')}, got ${parsed.protocol}`);
    }
    return raw.replace(/\/$/, '');
  }, options.default, { description: options.description, accepts: options.protocols ? `${options.protocols.join(' or ')} URL` : 'URL' });
}

export function oneOf<const T extends string>(choices: readonly T[], fallback?: T, description?: string): Setting<T> {
  return required((raw, name) => {
    if (!(choices as readonly string[]).includes(raw)) throw new SettingProblem(`${name} must be one of ${choices.join(', ')}, got "${raw}"`);
    return raw as T;
  }, fallback, { description, accepts: `one of ${choices.join(', ')}` });
}

/** An exact decimal amount such as "10000.00", normalized to two decimals. */
export function amount(fallback?: string, description?: string): Setting<string> {
  return required((raw, name) => {
    const value = raw.trim();
    if (!isMoney(value)) throw new SettingProblem(`${name} must be an amount like "10000.00", got "${raw}"`);
    return normalizeMoney(value);
  }, fallback, { description, accepts: 'amount with two decimals' });
}

/** PEM keys arrive through env vars and Secrets, where newlines are often escaped as \n. */
export function pem(description?: string): Setting<string> {
  return required((raw, name) => {
    const text = raw.includes('\\n') ? raw.replaceAll('\\n', '\n') : raw;
    if (!/-----BEGIN [A-Z ]+-----/.test(text)) throw new SettingProblem(`${name} must be a PEM-encoded key`);
    return text;
  }, undefined, { description, accepts: 'PEM (newlines may be escaped as \\n)' });
}

export type ConfigSpec = Record<string, Setting<unknown>>;
export type ConfigOf<S extends ConfigSpec> = { readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

export function loadConfig<const S extends ConfigSpec>(spec: S, env: Env = process.env): ConfigOf<S> {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(spec)) {
    try {
      config[name] = setting.parse(env[name], name);
    } catch (error) {
      if (!(error instanceof SettingProblem)) throw error;
      problems.push(error.message);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config) as ConfigOf<S>;
}

export function redactUrl(raw: string): string {
  return raw.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}

/** Settings every service reads: where to listen and how much to log. */
export function serviceSettings(defaultPort: number) {
  return {
    HOST: string('0.0.0.0', 'The address to listen on.'),
    PORT: port(defaultPort, 'The port of its HTTP API and health routes, and of /metrics unless METRICS_PORT moves them.'),
    METRICS_PORT: optionalPort('Serves /metrics on this port instead of PORT; local mode gives each replica its own, as replicas share PORT.'),
    SERVICE_INSTANCE_ID: optionalString('Names this replica in traces (service.instance.id), log lines (instance) and metrics (replica); default: the pod name, else host and process id.'),
    REUSE_PORT: boolean(
      false,
      'Lets several replicas on one machine listen on PORT at once (SO_REUSEPORT); the kernel spreads connections over them. Local mode sets it; left off, a second copy by mistake fails with "address in use".',
    ),
    LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info', 'The least severe log level written.'),
  };
}

/** Settings of a service that owns a database. */
export function databaseSettings() {
  return {
    DATABASE_URL: url({ protocols: ['postgres', 'postgresql'], description: 'Its own database; the service migrates it at start.' }),
    DATABASE_POOL_MAX: integer({ default: 10, min: 1, max: 100, description: 'Connections each replica keeps open at most.' }),
  };
}

export function integerList(fallback?: readonly number[], description?: string): Setting<readonly number[]> {
  return required((raw, name) => {
    const parts = raw.split(',').map((part) => part.trim());
    if (parts.some((part) => !/^\d+$/.test(part))) throw new SettingProblem(`${name} must be a comma-separated list of whole numbers, got "${raw}"`);
    return parts.map(Number);
  }, fallback, { description, accepts: 'comma-separated whole numbers' });
}

/**
 * Of the saga services that serve no traffic of the shop (payment, email: the gateway routes
 * nothing to them), which do nothing but consume: whether their readiness waits for their
 * consumers. A ready replica then has its subscription confirmed by the broker, so a
 * Deployment's rollout, and a ScalingExperiment waiting for N ready replicas, mean N replicas
 * taking messages. Local mode turns it off, so a laptop with no broker still reports every
 * service ready (docs/operations.md).
 */
export const consumerReadinessSetting = 'READINESS_WAITS_FOR_CONSUMERS';

export function consumerReadinessSettings() {
  return {
    [consumerReadinessSetting]: boolean(
      true,
      'Ready only while its consumers are attached to their queues (the broker confirmed the subscription). Local mode sets false: there the shop reports ready with no broker.',
    ),
  };
}

/**
 * Settings of a service that takes part in the checkout saga over RabbitMQ. `prefetch` is the
 * default number of messages a replica holds at once, per queue. Those ready together share one
 * transaction (one database connection per queue), so a larger prefetch means larger batches
 * under load; consumers that mostly wait on an outside provider need more, as each message
 * holds its slot for the whole call.
 */
export function messagingSettings(options: { prefetch?: number } = {}) {
  return {
    RABBITMQ_URL: url({ default: 'amqp://guest:guest@127.0.0.1:5672', protocols: ['amqp', 'amqps'], description: 'The broker of the checkout saga.' }),
    CONSUMER_PREFETCH: integer({
      default: options.prefetch ?? 50,
      min: 1,
      max: 1_000,
      description: 'Messages each replica holds at once, per queue; also the most that share one transaction.',
    }),
    CONSUMER_CONCURRENCY: integer({
      default: 0,
      min: 0,
      max: 1_000,
      description: 'Messages each replica works on at once, per queue (in a slow prepare step or its transaction); 0 means as many as it holds.',
    }),
    RETRY_DELAYS_MS: integerList([1_000, 5_000, 15_000, 30_000], 'Delays between attempts of a failing message; after the last, it is dead-lettered.'),
    OUTBOX_POLL_INTERVAL_MS: integer({ default: 1_000, min: 10, description: 'How often the outbox relay looks for unpublished events when no NOTIFY wakes it.' }),
  };
}
