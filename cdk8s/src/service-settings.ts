/**
 * The environment of each Node service in the cluster: plain settings (its ConfigMap) and
 * secret ones (references to Secrets created outside the manifests). Pure functions of the
 * configuration; services reach each other and the infrastructure by Service DNS names.
 */
import type { ShopConfig } from './config.ts';
import type { SecretRef } from './node-service.ts';
import { databaseUrlKey, databaseUrlSecretName, jwtSecret, rabbitmqUrlSecret } from './secrets.ts';
import { appServices, infraPorts, type AppServiceName } from './topology.ts';

export function serviceSettings(config: ShopConfig, name: AppServiceName): Record<string, string> {
  const shape = appServices[name];
  const settings: Record<string, string> = {
    HOST: '0.0.0.0',
    PORT: String(shape.port),
    ...(shape.metricsPort === undefined ? {} : { METRICS_PORT: String(shape.metricsPort) }),
    LOG_LEVEL: config.logLevel,
    OTEL_SERVICE_NAME: name,
  };
  if (config.infrastructure.jaeger) {
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = `http://jaeger:${infraPorts.otlpHttp}`;
    settings.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
  } else {
    // No collector to send to: the SDK stays off instead of retrying an unreachable endpoint.
    settings.OTEL_SDK_DISABLED = 'true';
  }
  for (const call of shape.calls) settings[call.variable] = `http://${call.service}:${appServices[call.service].port}`;
  switch (name) {
    case 'product':
      settings.SEED_CATALOG = String(config.devSeed);
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

export function serviceSecretEnv(name: AppServiceName): Record<string, SecretRef> {
  const shape = appServices[name];
  const env: Record<string, SecretRef> = {};
  if (shape.ownsDatabase && name !== 'gateway') env.DATABASE_URL = { secret: databaseUrlSecretName(name), key: databaseUrlKey };
  if (shape.saga) env.RABBITMQ_URL = { secret: rabbitmqUrlSecret.name, key: rabbitmqUrlSecret.url };
  if (shape.jwtKey) env[shape.jwtKey.variable] = { secret: jwtSecret.name, key: shape.jwtKey.key };
  return env;
}
