/**
 * The one typed configuration of the Kubernetes manifests. `npm run synth` renders
 * `defaultConfig` into k8s/; an operator will later render its own copy at runtime, so
 * everything here is plain data (no kplus types, no file reads, no process.env).
 */
import { productCacheModes, type ProductCacheMode } from '@scaleshop/platform/topology';
import { appServiceNames, type AppServiceName } from './topology.ts';

/** Requests and limits of one container: CPU in millicores, memory in MiB. */
export interface Resources {
  readonly cpu: { readonly requestMillis: number; readonly limitMillis: number };
  readonly memory: { readonly requestMiB: number; readonly limitMiB: number };
}

export type PullPolicy = 'IfNotPresent' | 'Always' | 'Never';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** 0 stops an infrastructure workload but keeps its objects and data; none of them can run more than one replica. */
export type InfraReplicas = 0 | 1;

export interface AppServiceSettings {
  readonly resources: Resources;
  /**
   * Extra plain settings for the service's ConfigMap, applied last (e.g. `{ RATE_LIMIT_MAX: '100000' }`).
   * Never secrets: they end up in committed YAML.
   */
  readonly env: Readonly<Record<string, string>>;
}

export interface ShopConfig {
  /** The namespace everything runs in (labelled for Pod Security "restricted"). */
  readonly namespace: string;
  readonly images: {
    /** Images are `<repository>/<service>`: the names the Tiltfile's docker_build() uses. */
    readonly repository: string;
    /** No tag (the default) lets Tilt and `kind load` use the bare name. */
    readonly tag?: string;
    readonly pullPolicy: PullPolicy;
  };
  /** Per service: resources and extra settings. Never replicas: `kubectl scale` owns those. */
  readonly services: Readonly<Record<AppServiceName, AppServiceSettings>>;
  readonly logLevel: LogLevel;
  /** SEED_CATALOG and SEED_DEV_USERS: the demo catalog and the well-known dev accounts. */
  readonly devSeed: boolean;
  /**
   * Tilt live update with a read-only root filesystem: an init container copies the image's
   * sources into emptyDirs mounted over /app/services/<service>/src and /app/services/platform/src,
   * the only paths Tilt syncs into. Turn off for images that are not the Dockerfile's `dev` target.
   */
  readonly liveUpdate: boolean;
  /** The knobs of the simulated providers, to watch the saga and scaling under latency. */
  readonly latency: {
    /** PAYMENT_LATENCY_MS */
    readonly paymentLatencyMs: number;
    /** EMAIL_LATENCY_MS */
    readonly emailLatencyMs: number;
    /** PAYMENT_FAILURE_RATE, 0 to 1 */
    readonly paymentFailureRate: number;
  };
  /**
   * PRODUCT_CACHE: each product replica's memory (local), one Redis the replicas share (redis),
   * or none (off). Only `redis` adds a Redis to the cluster.
   */
  readonly productCache: ProductCacheMode;
  /** Which infrastructure to include. RabbitMQ and Postgres are always there: the shop needs them. */
  readonly infrastructure: {
    readonly jaeger: boolean;
    readonly mailpit: boolean;
    /** One Postgres instance `postgres` holding every database, for small laptops (default: one per service). */
    readonly sharedPostgres: boolean;
  };
  readonly postgres: { readonly image: string; readonly replicas: InfraReplicas; readonly storageGiB: number; readonly resources: Resources };
  readonly rabbitmq: { readonly image: string; readonly replicas: InfraReplicas; readonly storageGiB: number; readonly resources: Resources };
  readonly jaeger: {
    readonly image: string;
    readonly replicas: InfraReplicas;
    /** Traces kept in memory; the oldest go first. Bounds Jaeger's memory. */
    readonly maxTraces: number;
    readonly resources: Resources;
  };
  readonly mailpit: { readonly image: string; readonly replicas: InfraReplicas; readonly maxMessages: number; readonly resources: Resources };
  /** Runs only with productCache `redis`. */
  readonly redis: { readonly image: string; readonly replicas: InfraReplicas; readonly maxMemoryMiB: number; readonly resources: Resources };
}

export function resources(cpuRequestMillis: number, cpuLimitMillis: number, memoryRequestMiB: number, memoryLimitMiB: number): Resources {
  return {
    cpu: { requestMillis: cpuRequestMillis, limitMillis: cpuLimitMillis },
    memory: { requestMiB: memoryRequestMiB, limitMiB: memoryLimitMiB },
  };
}

// Measured in the images: a service idles at ~150 MiB RSS without tracing and ~250 MiB with the
// OpenTelemetry SDK exporting (as it does here, to Jaeger); the dev image's `node --watch` parent
// adds ~70 MiB. Request the traced idle, limit with room for load and the watcher. CPU: a small
// request, a limit of one core (JavaScript runs on one thread; argon2 uses the libuv pool).
const nodeService = resources(50, 1000, 256, 512);

export const defaultConfig: ShopConfig = {
  namespace: 'scaleshop',
  images: { repository: 'scaleshop', pullPolicy: 'IfNotPresent' },
  services: {
    gateway: { resources: resources(100, 1000, 256, 512), env: {} },
    order: { resources: nodeService, env: {} },
    payment: { resources: nodeService, env: {} },
    email: { resources: nodeService, env: {} },
    product: { resources: nodeService, env: {} },
    // argon2id hashes (19 MiB each, up to four at once on the libuv pool) come on top of the heap.
    user: { resources: resources(50, 1000, 256, 640), env: {} },
    cart: { resources: nodeService, env: {} },
    // Static files only: no database, no broker, no password hashing.
    storefront: { resources: resources(20, 500, 192, 384), env: {} },
  },
  logLevel: 'info',
  devSeed: true,
  liveUpdate: true,
  latency: { paymentLatencyMs: 1000, emailLatencyMs: 2000, paymentFailureRate: 0 },
  productCache: 'local',
  infrastructure: { jaeger: true, mailpit: true, sharedPostgres: false },
  postgres: { image: 'postgres:17.11-bookworm', replicas: 1, storageGiB: 1, resources: resources(50, 1000, 96, 384) },
  rabbitmq: { image: 'rabbitmq:4.1.6-management', replicas: 1, storageGiB: 1, resources: resources(100, 1000, 256, 1024) },
  jaeger: { image: 'jaegertracing/jaeger:2.17.0', replicas: 1, maxTraces: 5000, resources: resources(50, 500, 128, 512) },
  mailpit: { image: 'axllent/mailpit:v1.29', replicas: 1, maxMessages: 500, resources: resources(10, 200, 32, 128) },
  // The catalog is a few hundred keys: 64 MiB holds it many times over.
  redis: { image: 'redis:8.10.2', replicas: 1, maxMemoryMiB: 64, resources: resources(20, 500, 32, 128) },
};

/** The same configuration with one Postgres instance for all the databases. */
export function withSharedPostgres(config: ShopConfig): ShopConfig {
  return { ...config, infrastructure: { ...config.infrastructure, sharedPostgres: true } };
}

/** Every problem with a configuration, so a bad one fails the synth with all of them at once. */
export function configProblems(config: ShopConfig): string[] {
  const problems: string[] = [];
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(config.namespace) || config.namespace.length > 63) {
    problems.push(`namespace "${config.namespace}" is not a DNS label`);
  }
  if (config.images.tag !== undefined && !/^[\w][\w.-]{0,127}$/.test(config.images.tag)) problems.push(`images.tag "${config.images.tag}" is not a valid tag`);
  const checkResources = (where: string, r: Resources) => {
    for (const [what, request, limit] of [
      ['cpu', r.cpu.requestMillis, r.cpu.limitMillis],
      ['memory', r.memory.requestMiB, r.memory.limitMiB],
    ] as const) {
      if (!Number.isInteger(request) || !Number.isInteger(limit) || request <= 0) problems.push(`${where}: ${what} request and limit must be positive integers`);
      else if (limit < request) problems.push(`${where}: ${what} limit ${limit} is below its request ${request}`);
    }
  };
  for (const name of appServiceNames) {
    const settings = config.services[name];
    checkResources(`services.${name}.resources`, settings.resources);
    for (const key of Object.keys(settings.env)) {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(key)) problems.push(`services.${name}.env: "${key}" is not an environment variable name`);
      if (/PASSWORD|SECRET|PRIVATE|TOKEN|DATABASE_URL|RABBITMQ_URL/.test(key)) problems.push(`services.${name}.env: "${key}" looks like a secret; secrets come from Secrets created outside the YAML`);
    }
  }
  for (const name of ['postgres', 'rabbitmq', 'jaeger', 'mailpit', 'redis'] as const) checkResources(`${name}.resources`, config[name].resources);
  for (const name of ['postgres', 'rabbitmq'] as const) {
    if (!Number.isInteger(config[name].storageGiB) || config[name].storageGiB < 1) problems.push(`${name}.storageGiB must be a whole number of GiB, at least 1`);
  }
  const { paymentLatencyMs, emailLatencyMs, paymentFailureRate } = config.latency;
  if (!Number.isInteger(paymentLatencyMs) || paymentLatencyMs < 0) problems.push('latency.paymentLatencyMs must be a whole number >= 0');
  if (!Number.isInteger(emailLatencyMs) || emailLatencyMs < 0) problems.push('latency.emailLatencyMs must be a whole number >= 0');
  if (!(paymentFailureRate >= 0 && paymentFailureRate <= 1)) problems.push('latency.paymentFailureRate must be between 0 and 1');
  if (!Number.isInteger(config.jaeger.maxTraces) || config.jaeger.maxTraces < 1) problems.push('jaeger.maxTraces must be a positive whole number');
  if (!Number.isInteger(config.mailpit.maxMessages) || config.mailpit.maxMessages < 0) problems.push('mailpit.maxMessages must be a whole number >= 0');
  if (!productCacheModes.includes(config.productCache)) problems.push(`productCache "${config.productCache}" is not one of ${productCacheModes.join(', ')}`);
  const { maxMemoryMiB } = config.redis;
  // Redis needs room above its data for connections and fragmentation, or the kernel kills it before it evicts.
  if (!Number.isInteger(maxMemoryMiB) || maxMemoryMiB < 1) problems.push('redis.maxMemoryMiB must be a positive whole number');
  else if (maxMemoryMiB > config.redis.resources.memory.limitMiB * 0.75) problems.push(`redis.maxMemoryMiB ${maxMemoryMiB} leaves too little of the ${config.redis.resources.memory.limitMiB} MiB limit: at most three quarters of it`);
  if (!config.infrastructure.mailpit && !config.services.email.env.SMTP_URL) {
    problems.push('infrastructure.mailpit is off: set services.email.env.SMTP_URL to the SMTP server the email service should use');
  }
  return problems;
}

export function assertValidConfig(config: ShopConfig): void {
  const problems = configProblems(config);
  if (problems.length > 0) throw new Error(`invalid cdk8s configuration:\n  - ${problems.join('\n  - ')}`);
}
