/**
 * The environment of each Node service in the cluster: plain settings (its ConfigMap) and
 * secret ones (references to Secrets created outside the manifests). Pure functions of the
 * configuration. What the topology gives every deployment (ports, service URLs) comes from the
 * same function local mode uses, with the cluster's addresses: Service DNS names.
 */
import type { faultKnobs } from '@scaleshop/platform';
import type { SecretKind } from '@scaleshop/platform/topology';
import type { ShopConfig } from './config.ts';
import type { SecretRef } from './node-service.ts';
import { databaseUrlKey, databaseUrlSecretName, jwtSecret, rabbitmqUrlSecret } from './secrets.ts';
import { infraPorts, secretSettingsOf, serviceEnvironment, serviceOf, type AppServiceName } from './topology.ts';

export function serviceSettings(config: ShopConfig, name: AppServiceName): Record<string, string> {
  const settings: Record<string, string> = {
    ...serviceEnvironment(name, { host: '0.0.0.0', urlOf: (service) => `http://${service}:${serviceOf(service).port}` }),
    LOG_LEVEL: config.logLevel,
  };
  if (config.infrastructure.jaeger) {
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = `http://jaeger:${infraPorts.otlpHttp}`;
    settings.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
  } else {
    // No collector to send to: the SDK stays off instead of retrying an unreachable endpoint.
    settings.OTEL_SDK_DISABLED = 'true';
  }
  switch (name) {
    case 'product':
      settings.SEED_CATALOG = String(config.devSeed);
      settings.PRODUCT_CACHE = config.productCache;
      if (config.productCache === 'redis') settings.REDIS_URL = `redis://redis:${infraPorts.redis}`;
      break;
    case 'user':
      settings.SEED_DEV_USERS = String(config.devSeed);
      break;
    case 'email':
      if (config.infrastructure.mailpit) settings.SMTP_URL = `smtp://mailpit:${infraPorts.smtp}`;
      break;
    default:
      break;
  }
  // The fault knobs come through a file, not the environment: see serviceKnobs.
  if (serviceKnobs(config, name)) settings.FAULT_KNOBS_FILE = `${knobsMountPath}/${knobsFileName}`;
  return { ...settings, ...config.services[name].env };
}

/** Where a service with fault knobs finds the Shop's values: a ConfigMap volume. */
export const knobsMountPath = '/etc/scaleshop/knobs';
export const knobsFileName = 'fault-knobs.json';

/**
 * The spec's fault knobs of a service (the latency and failure settings), by the names of its
 * runtime knobs (faultKnobs in services/platform/src/runtime-knobs.ts). They reach the pods as a
 * file of a ConfigMap volume, which the kubelet refreshes in place, and the service sets them for
 * every replica: a change needs no rollout, so the pod template does not carry them.
 */
export function serviceKnobs(config: ShopConfig, name: AppServiceName): Record<string, number> | undefined {
  switch (name) {
    case 'payment':
      return { failure_rate: config.latency.paymentFailureRate, latency_ms: config.latency.paymentLatencyMs } satisfies Record<keyof (typeof faultKnobs)['payment'], number>;
    case 'email':
      return { latency_ms: config.latency.emailLatencyMs } satisfies Record<keyof (typeof faultKnobs)['email'], number>;
    default:
      return undefined;
  }
}

function secretRef(service: AppServiceName, kind: SecretKind): SecretRef {
  switch (kind) {
    case 'database':
      return { secret: databaseUrlSecretName(service), key: databaseUrlKey };
    case 'broker':
      return { secret: rabbitmqUrlSecret.name, key: rabbitmqUrlSecret.url };
    case 'tokenPrivateKey':
      return { secret: jwtSecret.name, key: jwtSecret.privateKey };
    case 'tokenPublicKey':
      return { secret: jwtSecret.name, key: jwtSecret.publicKey };
  }
}

export function serviceSecretEnv(name: AppServiceName): Record<string, SecretRef> {
  return Object.fromEntries(secretSettingsOf(name).map(({ variable, holds }) => [variable, secretRef(name, holds)]));
}
