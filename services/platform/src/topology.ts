/**
 * The shop's services, stated once: each one's port, the services it calls, whether it owns a
 * database and takes part in the checkout saga, the half of the token key pair it holds, and
 * its configuration spec with a description of every setting. Everything else that knows about
 * the services derives from here: each service's config.ts, the gateway's upstreams, local mode
 * (scripts/local-shop.ts), the cdk8s app, docs/configuration.md (`npm run docs`), and, through
 * topology.json (written by `npm run synth`), the Tiltfile and the shell scripts.
 *
 * Nothing here reads the environment or starts anything: cdk8s and the scripts import it as
 * `@scaleshop/platform/topology` without loading the rest of the platform.
 */
import * as env from './config.ts';
import type { ConfigSpec, Setting } from './config.ts';
import { telemetryConfig } from './telemetry/variables.ts';

/** Where the product service caches catalog reads (PRODUCT_CACHE); the cluster runs a Redis only for `redis`. */
export const productCacheModes = ['local', 'redis', 'off'] as const;
export type ProductCacheMode = (typeof productCacheModes)[number];

export { telemetryConfig };

/** In the order the cluster's objects are written in (k8s/ stays stable when this order does). */
export const serviceNames = ['gateway', 'order', 'payment', 'email', 'product', 'user', 'cart', 'storefront'] as const;
export type ServiceName = (typeof serviceNames)[number];

export interface ServiceShape {
  /** What it is for, in a few words. */
  readonly about: string;
  /** The port of its HTTP API: its PORT default, and its Service port in the cluster. */
  readonly port: number;
  /** Where it serves /metrics when not on `port` (METRICS_PORT), which no Service publishes. */
  readonly metricsPort?: number;
  /** Owns a Postgres database (DATABASE_URL), named `scaleshop_<service>`. */
  readonly ownsDatabase: boolean;
  /** Takes part in the checkout saga over RabbitMQ (RABBITMQ_URL and the consumer settings). */
  readonly saga: boolean;
  /** Its default CONSUMER_PREFETCH, when not the platform's. */
  readonly consumerPrefetch?: number;
  /** The services it calls over HTTP, each with why; the URL of each is its `<SERVICE>_URL`. */
  readonly calls: { readonly [S in ServiceName]?: string };
  /** The half of the access-token key pair it holds: the user service signs, the gateway verifies. */
  readonly tokenKey?: 'private' | 'public';
}

const shapes = {
  gateway: {
    about: 'the single entry point: verifies tokens, limits rates and bodies, routes /api/*, /health, /docs',
    port: 9000,
    // Its port is the public API, so /metrics moves to a port of its own.
    metricsPort: 9464,
    ownsDatabase: false,
    saga: false,
    calls: {
      user: 'The user service, behind /api/auth.',
      product: 'The product service, behind /api/products.',
      cart: 'The cart service, behind /api/cart.',
      order: 'The order service, behind /api/orders.',
      payment: 'The payment service: not behind the public API, only asked for /health.',
      email: 'The email service: not behind the public API, only asked for /health.',
      storefront: 'The web shop, behind every GET that is not /api, /docs or /health.',
    },
    tokenKey: 'public',
  },
  order: {
    about: 'checkout, orders and where each order stands',
    port: 8001,
    ownsDatabase: true,
    saga: true,
    calls: { cart: "Where checkout reads the caller's cart, priced at current catalog prices." },
  },
  payment: {
    about: 'charges through a simulated payment provider',
    port: 8002,
    ownsDatabase: true,
    saga: true,
    // Its handlers spend their time waiting on the provider, not on the database.
    consumerPrefetch: 100,
    calls: {},
  },
  email: {
    about: 'confirmation and could-not-complete emails over SMTP',
    port: 8003,
    ownsDatabase: true,
    saga: true,
    // Its handlers spend their time waiting on the mail server, not on the database.
    consumerPrefetch: 100,
    calls: {},
  },
  product: { about: 'the catalog: categories, prices, stock', port: 8004, ownsDatabase: true, saga: true, calls: {} },
  user: { about: 'accounts, argon2id password hashes, access tokens', port: 8005, ownsDatabase: true, saga: false, calls: {}, tokenKey: 'private' },
  cart: {
    about: 'one cart per user; asks product for names, prices and stock',
    port: 8006,
    ownsDatabase: true,
    saga: true,
    calls: { product: 'The catalog: names, current prices and stock of the products in carts.' },
  },
  // Only static files: the browser calls the API through the gateway, on the same origin.
  storefront: { about: 'the web shop: the built React app, served through the gateway', port: 3000, ownsDatabase: false, saga: false, calls: {} },
} as const satisfies Record<ServiceName, ServiceShape>;

type Shapes = typeof shapes;

/** The variable that holds the base URL of a service its callers reach it at. */
export type UrlVariable<S extends string> = `${Uppercase<S>}_URL`;

export function urlVariable<S extends ServiceName>(service: S): UrlVariable<S> {
  return `${service.toUpperCase()}_URL` as UrlVariable<S>;
}

type When<Condition, Settings> = Condition extends true ? Settings : {};
type TokenSettings<Variable extends string> = { [V in Variable]: Setting<string> } & ReturnType<typeof tokenClaims>;

/** The settings that follow from a service's shape, typed as precisely as the shape is. */
type DerivedSettings<N extends ServiceName> = ReturnType<typeof env.serviceSettings> &
  (Shapes[N] extends { metricsPort: number } ? { METRICS_PORT: Setting<number> } : {}) &
  When<Shapes[N]['ownsDatabase'], ReturnType<typeof env.databaseSettings>> &
  When<Shapes[N]['saga'], ReturnType<typeof env.messagingSettings>> &
  { [S in keyof Shapes[N]['calls'] & ServiceName as UrlVariable<S>]: Setting<string> } &
  (Shapes[N] extends { tokenKey: 'public' } ? TokenSettings<'JWT_PUBLIC_KEY'> : Shapes[N] extends { tokenKey: 'private' } ? TokenSettings<'JWT_PRIVATE_KEY'> : {});

function tokenClaims() {
  return {
    JWT_ISSUER: env.string('scaleshop', 'The `iss` of access tokens: the user service signs it, the gateway requires it.'),
    JWT_AUDIENCE: env.string('scaleshop-api', 'The `aud` of access tokens: the user service signs it, the gateway requires it.'),
  };
}

function tokenKeySettings(half: 'private' | 'public' | undefined): ConfigSpec {
  if (half === 'public') return { JWT_PUBLIC_KEY: env.pem('The Ed25519 public key (SPKI) that access tokens are verified with.'), ...tokenClaims() };
  if (half === 'private') {
    return { JWT_PRIVATE_KEY: env.pem('The Ed25519 private key (PKCS#8) access tokens are signed with; only this service holds it.'), ...tokenClaims() };
  }
  return {};
}

/** Where a service is reached when nothing says otherwise: the port it listens on by default, on this machine. */
function defaultUrlOf(service: ServiceName): string {
  return `http://127.0.0.1:${shapes[service].port}`;
}

function derivedSettings<N extends ServiceName>(name: N): DerivedSettings<N> {
  const shape: ServiceShape = shapes[name];
  const calls = Object.entries(shape.calls) as Array<[ServiceName, string]>;
  return {
    ...env.serviceSettings(shape.port),
    ...(shape.metricsPort === undefined
      ? {}
      : { METRICS_PORT: env.port(shape.metricsPort, 'Where Prometheus scrapes /metrics, apart from the public port, which does not serve it.') }),
    ...(shape.ownsDatabase ? env.databaseSettings() : {}),
    ...(shape.saga ? env.messagingSettings(shape.consumerPrefetch === undefined ? {} : { prefetch: shape.consumerPrefetch }) : {}),
    ...Object.fromEntries(calls.map(([callee, why]) => [urlVariable(callee), env.url({ default: defaultUrlOf(callee), description: why })])),
    ...tokenKeySettings(shape.tokenKey),
  } as DerivedSettings<N>;
}

function service<const N extends ServiceName, const Own extends ConfigSpec>(name: N, own: Own) {
  return { name, ...shapes[name], config: { ...derivedSettings(name), ...own } as DerivedSettings<N> & Own };
}

export const topology = {
  gateway: service('gateway', {
    RATE_LIMIT_MAX: env.integer({ default: 6_000, min: 1, description: 'Requests per client address per window; load tests from one address raise it.' }),
    RATE_LIMIT_WINDOW_MS: env.integer({ default: 60_000, min: 1_000, description: 'The window RATE_LIMIT_MAX counts in.' }),
    BODY_LIMIT_BYTES: env.integer({ default: 64 * 1024, min: 1_024, description: 'The largest request body; a larger one is refused with 413.' }),
    UPSTREAM_TIMEOUT_MS: env.integer({ default: 10_000, min: 100, description: 'Deadline of a request forwarded to a service (but order).' }),
    ORDER_TIMEOUT_MS: env.integer({
      default: 35_000,
      min: 100,
      description: 'Deadline of a request forwarded to the order service: a synchronous checkout (?mode=sync) waits for the whole saga.',
    }),
    UPSTREAM_CONNECTION_TTL_MS: env.integer({
      default: 15_000,
      min: 1_000,
      description:
        'How long a keep-alive connection to a service is reused. Kubernetes balances Services per connection, so connections are renewed for new replicas to get traffic after `kubectl scale`.',
    }),
  }),
  order: service('order', {
    CART_TIMEOUT_MS: env.integer({ default: 2_000, min: 100, description: 'Deadline of each call to the cart service (each retry gets its own).' }),
    SYNC_CHECKOUT_TIMEOUT_MS: env.integer({
      default: 30_000,
      min: 100,
      description: 'How long a `?mode=sync` checkout waits for the saga to finish before answering 202 anyway.',
    }),
  }),
  payment: service('payment', {
    ...env.consumerReadinessSettings(),
    PAYMENT_LATENCY_MS: env.integer({ default: 1_000, min: 0, description: 'How long the simulated provider takes to answer a charge.' }),
    PAYMENT_DECLINE_OVER: env.amount('10000.00', 'Charges above this amount are declined, so the failure path can be tried on purpose.'),
    PAYMENT_FAILURE_RATE: env.number({ default: 0, min: 0, max: 1, description: 'Share of the remaining charges declined at random.' }),
    FAULT_KNOBS_FILE: env.optionalString(
      "The Shop's fault knobs as a JSON file (the operator's ConfigMap volume in the cluster): read every 5 s, and a changed value is set for every replica at once, as PUT /admin/faults does. Unset: none (local mode).",
    ),
  }),
  email: service('email', {
    ...env.consumerReadinessSettings(),
    SMTP_URL: env.url({
      default: 'smtp://127.0.0.1:1025',
      protocols: ['smtp', 'smtps'],
      description: "Where mail is handed over; local mode's mail catcher listens on 1025 (`node scripts/mail-catcher.ts`).",
    }),
    EMAIL_FROM: env.string('scaleshop <orders@scaleshop.local>', 'The sender of every email.'),
    EMAIL_LATENCY_MS: env.integer({ default: 2_000, min: 0, description: 'Added before each send, standing in for a slow email provider.' }),
    FAULT_KNOBS_FILE: env.optionalString(
      "The Shop's fault knobs as a JSON file (the operator's ConfigMap volume in the cluster): read every 5 s, and a changed value is set for every replica at once, as PUT /admin/faults does. Unset: none (local mode).",
    ),
  }),
  product: service('product', {
    SEED_CATALOG: env.boolean(true, 'Loads the demo catalog at start; safe to repeat.'),
    PRODUCT_CACHE: env.oneOf(productCacheModes, 'local', 'Where catalog reads are cached: each replica\'s memory (local), one Redis shared by the replicas (redis: lists 60 s, items 300 s, dropped on every change; an outage falls back to Postgres), or not at all (off).'),
    PRODUCT_CACHE_TTL_MS: env.integer({ default: 5_000, min: 0, description: 'With the local cache: upper bound on how stale a cached read may be should a change notification be missed.' }),
    REDIS_URL: env.url({ default: 'redis://127.0.0.1:6379', protocols: ['redis', 'rediss'], description: 'The Redis of PRODUCT_CACHE=redis; unused otherwise.' }),
  }),
  user: service('user', {
    ACCESS_TOKEN_TTL_SECONDS: env.integer({
      default: 900,
      min: 60,
      max: 900,
      description: 'Lifetime of an access token. Tokens cannot be revoked, so this is what bounds a stolen one.',
    }),
    SEED_DEV_USERS: env.boolean(false, 'Creates the development accounts with well-known passwords; never enable in production.'),
    LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS: env.integer({
      default: 10,
      min: 1,
      description: 'Failed logins for one account from one address per 15 minutes; the next is refused until the window ends.',
    }),
    LOGIN_FAILURES_PER_ADDRESS: env.integer({ default: 100, min: 1, description: 'Failed logins from one address, to any accounts, per hour.' }),
    LOGIN_FAILURES_PER_ACCOUNT: env.integer({
      default: 30,
      min: 1,
      description: 'Failed logins for one account, from any address, per 5 minutes: short, since the owner waits it out too.',
    }),
    REGISTRATIONS_PER_ADDRESS: env.integer({ default: 100, min: 1, description: 'Registrations from one address per hour.' }),
    PASSWORD_HASHING_CONCURRENCY: env.integer({ default: 4, min: 1, max: 64, description: 'Password hashes computed at once (argon2id, 19 MiB each).' }),
    PASSWORD_HASHING_QUEUE: env.integer({ default: 64, min: 0, description: 'Password hashes that may wait for a turn; beyond them, 503 BUSY.' }),
  }),
  storefront: service('storefront', {
    JAEGER_UI_URL: env.optionalString("Jaeger's UI as a browser reaches it (e.g. http://localhost:16686): each order page then links its checkout's trace."),
  }),
  cart: service('cart', {
    PRODUCT_TIMEOUT_MS: env.integer({ default: 2_000, min: 100, description: 'Deadline of each call to the product service (each retry gets its own).' }),
  }),
};

/** A service as code that handles any of them sees it. */
export interface ServiceDefinition extends ServiceShape {
  readonly name: ServiceName;
  readonly config: ConfigSpec;
}

export function serviceOf(name: ServiceName): ServiceDefinition {
  return topology[name];
}

/** Everything a service reads from its environment: its own spec and the telemetry's variables. */
export function variablesOf(name: ServiceName): ConfigSpec {
  return { ...serviceOf(name).config, ...telemetryConfig };
}

/** The services a service calls, in the order its shape lists them. */
export function calleesOf<N extends ServiceName>(name: N): Array<keyof Shapes[N]['calls'] & ServiceName> {
  return Object.keys(serviceOf(name).calls) as Array<keyof Shapes[N]['calls'] & ServiceName>;
}

export type DatabaseServiceName = { [N in ServiceName]: Shapes[N]['ownsDatabase'] extends true ? N : never }[ServiceName];
export type SagaServiceName = { [N in ServiceName]: Shapes[N]['saga'] extends true ? N : never }[ServiceName];

export function ownsDatabase(name: ServiceName): name is DatabaseServiceName {
  return serviceOf(name).ownsDatabase;
}

export const databaseServiceNames = serviceNames.filter(ownsDatabase);
export const sagaServiceNames = serviceNames.filter((name): name is SagaServiceName => serviceOf(name).saga);

/** Every service after those it calls: the order to start them in. */
export function startOrder(): ServiceName[] {
  const started: ServiceName[] = [];
  while (started.length < serviceNames.length) {
    const next = serviceNames.filter((name) => !started.includes(name) && calleesOf(name).every((callee) => started.includes(callee)));
    if (next.length === 0) throw new Error(`the services call each other in a circle: ${serviceNames.filter((name) => !started.includes(name)).join(', ')}`);
    started.push(...next);
  }
  return started;
}

/** The database of a service: `scaleshop_<service>` in the cluster and in local mode, another prefix in tests. */
export function databaseName(service: ServiceName, prefix = 'scaleshop_'): string {
  return `${prefix}${service}`;
}

/** What a secret setting holds; in the cluster each comes from a Secret, never from a ConfigMap. */
export type SecretKind = 'database' | 'broker' | 'tokenPrivateKey' | 'tokenPublicKey';

/** The secret settings of a service, by variable. */
export function secretSettingsOf(name: ServiceName): Array<{ variable: string; holds: SecretKind }> {
  const shape = serviceOf(name);
  return [
    ...(shape.ownsDatabase ? [{ variable: 'DATABASE_URL', holds: 'database' as const }] : []),
    ...(shape.saga ? [{ variable: 'RABBITMQ_URL', holds: 'broker' as const }] : []),
    ...(shape.tokenKey === 'private' ? [{ variable: 'JWT_PRIVATE_KEY', holds: 'tokenPrivateKey' as const }] : []),
    ...(shape.tokenKey === 'public' ? [{ variable: 'JWT_PUBLIC_KEY', holds: 'tokenPublicKey' as const }] : []),
  ];
}

/** Where the services of one deployment listen and are reached. */
export interface Addresses {
  /** The address every service listens on. */
  readonly host: string;
  /** The base URL the other services reach a service at. */
  readonly urlOf: (service: ServiceName) => string;
  /** The port a service listens on (default: its port in the topology). */
  readonly portOf?: (service: ServiceName) => number;
  /** Where a service with a metrics port of its own serves /metrics (default: that port in the topology). */
  readonly metricsPortOf?: (service: ServiceName) => number;
}

/**
 * The plain settings the topology gives a service in a deployment: where it listens, its name
 * in traces, and where the services it calls are. Local mode and the cluster's ConfigMaps both
 * start from this; secrets (secretSettingsOf) and each deployment's own choices (log level,
 * telemetry, seed data, latencies) are theirs to add.
 */
export function serviceEnvironment(name: ServiceName, addresses: Addresses): Record<string, string> {
  const shape = serviceOf(name);
  return {
    HOST: addresses.host,
    PORT: String(addresses.portOf?.(name) ?? shape.port),
    ...(shape.metricsPort === undefined ? {} : { METRICS_PORT: String(addresses.metricsPortOf?.(name) ?? shape.metricsPort) }),
    // Names its spans; the OTEL_* of the deployment (endpoint, protocol…) are the caller's.
    OTEL_SERVICE_NAME: name,
    ...Object.fromEntries(calleesOf(name).map((callee) => [urlVariable(callee), addresses.urlOf(callee)])),
  };
}

/**
 * The topology as plain data for what cannot import TypeScript: the Tiltfile and the shell
 * scripts read it from topology.json, which `npm run synth` writes and a test keeps current.
 */
export function topologyDocument() {
  return {
    $comment: 'Generated by `npm run synth` from services/platform/src/topology.ts. Do not edit; a test fails when it is stale.',
    serviceNames,
    services: Object.fromEntries(
      serviceNames.map((name) => {
        const shape = serviceOf(name);
        return [
          name,
          {
            port: shape.port,
            ...(shape.metricsPort === undefined ? {} : { metricsPort: shape.metricsPort }),
            ownsDatabase: shape.ownsDatabase,
            saga: shape.saga,
            calls: Object.fromEntries(calleesOf(name).map((callee) => [urlVariable(callee), callee])),
            secrets: Object.fromEntries(secretSettingsOf(name).map(({ variable, holds }) => [variable, holds])),
          },
        ];
      }),
    ),
    databaseServices: databaseServiceNames,
    sagaServices: sagaServiceNames,
  };
}

/** The file `npm run synth` writes topologyDocument() to, relative to the repository root. */
export const topologyFile = 'topology.json';

export function renderTopology(): string {
  return `${JSON.stringify(topologyDocument(), null, 2)}\n`;
}
