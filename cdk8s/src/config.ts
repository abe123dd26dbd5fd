/**
 * The one typed configuration of the Kubernetes manifests. `npm run synth` renders
 * `defaultConfig` into k8s/; an operator will later render its own copy at runtime, so
 * everything here is plain data (no kplus types, no file reads, no process.env).
 */
import { shopSpecBaseSchema, specProblems, withDefaults, type ShopSpec } from './shop-spec.ts';
import type { AppServiceName } from './topology.ts';

/** The configuration: the Shop resource's spec (shop-spec.ts, where its schema is) in a namespace. */
export type ShopConfig = ShopSpec & {
  /** The namespace everything runs in (labelled for Pod Security "restricted"); a Shop's own namespace. */
  readonly namespace: string;
};

/** Requests and limits of one container: CPU in millicores, memory in MiB. */
export type Resources = ShopSpec['postgres']['resources'];
export type PullPolicy = ShopSpec['images']['pullPolicy'];
export type LogLevel = ShopSpec['logLevel'];
/** 0 stops an infrastructure workload but keeps its objects and data; none of them can run more than one replica. */
export type InfraReplicas = ShopSpec['postgres']['replicas'];
export type AppServiceSettings = ShopSpec['services'][AppServiceName];

export function resources(cpuRequestMillis: number, cpuLimitMillis: number, memoryRequestMiB: number, memoryLimitMiB: number): Resources {
  return {
    cpu: { requestMillis: cpuRequestMillis, limitMillis: cpuLimitMillis },
    memory: { requestMiB: memoryRequestMiB, limitMiB: memoryLimitMiB },
  };
}

// Measured (docs/benchmarks.md, bench:memory and a built image): with the node flags and compile
// cache of services/platform/src/node-runtime.ts, a service idles at 111–135 MiB RSS without
// tracing and 151–172 MiB with the OpenTelemetry SDK exporting (as it does here, to Jaeger); the
// traced gateway reaches ~215 MiB after 20 s at full load, and the dev image's `node --watch`
// parent adds ~45 MiB. Request the traced idle, limit at ~1.8× the traced gateway under load.
// The user service's argon2 hashes take 19 MiB each, four at once. CPU: a small request, a limit
// of one core (JavaScript runs on one thread; argon2 uses the libuv pool).
const nodeService = resources(50, 1000, 192, 384);

export const defaultConfig: ShopConfig = {
  namespace: 'scaleshop',
  images: { repository: 'scaleshop', pullPolicy: 'IfNotPresent' },
  services: {
    gateway: { resources: resources(100, 1000, 192, 384), env: {} },
    order: { resources: nodeService, env: {} },
    payment: { resources: nodeService, env: {} },
    email: { resources: nodeService, env: {} },
    product: { resources: nodeService, env: {} },
    // argon2id hashes (19 MiB each, up to four at once on the libuv pool) come on top of the heap.
    user: { resources: resources(50, 1000, 192, 512), env: {} },
    cart: { resources: nodeService, env: {} },
    // Static files only: no database, no broker, no password hashing.
    storefront: { resources: resources(20, 500, 160, 320), env: {} },
  },
  logLevel: 'info',
  devSeed: true,
  liveUpdate: true,
  deleteVolumesWithShop: false,
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

/** The spec's schema, with defaultConfig's values as its defaults. */
export const shopSpecSchema = withDefaults(shopSpecBaseSchema, specOf(defaultConfig));

/** The spec of a configuration: all of it but the namespace, which is the Shop's own. */
export function specOf(config: ShopConfig): ShopSpec {
  const { namespace: _namespace, ...spec } = config;
  return spec;
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Every problem with a configuration (schema, then the CEL rules), so a bad one fails with all of them at once. */
export function configProblems(config: ShopConfig): string[] {
  const problems = specProblems(shopSpecSchema, specOf(config));
  if (!dnsLabel.test(config.namespace) || config.namespace.length > 63) problems.unshift(`namespace "${config.namespace}" is not a DNS label`);
  return problems;
}

export function assertValidConfig(config: ShopConfig): void {
  const problems = configProblems(config);
  if (problems.length > 0) throw new Error(`invalid cdk8s configuration:\n  - ${problems.join('\n  - ')}`);
}
