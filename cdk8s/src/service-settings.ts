/**
 * The environment of each Node service in the cluster: plain settings (its ConfigMap) and
 * secret ones (references to Secrets created outside the manifests). Pure functions of the
 * configuration. What the topology gives every deployment (ports, service URLs) comes from the
 * same function local mode uses, with the cluster's addresses: Service DNS names.
 */
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
    case 'payment':
      settings.PAYMENT_LATENCY_MS = String(config.latency.paymentLatencyMs);
      settings.PAYMENT_FAILURE_RATE = String(config.latency.paymentFailureRate);
      break;
    case 'email':
      settings.EMAIL_LATENCY_MS = String(config.latency.emailLatencyMs);
      if (config.infrastructure.mailpit) settings.SMTP_URL = `smtp://mailpit:${infraPorts.smtp}`;
      break;
    default:
      break;
  }
  return { ...settings, ...config.services[name].env };
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
