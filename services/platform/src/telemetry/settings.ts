/**
 * What the telemetry start-up reads from the environment. Pure, so it is tested without
 * starting anything; `register.ts` acts on it.
 *
 * Only the variables of the OpenTelemetry specification are read, plus SERVICE_INSTANCE_ID, K8S_POD_NAME and
 * K8S_NAMESPACE, which the Kubernetes manifests fill from the downward API.
 */
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

export interface TelemetrySettings {
  /** Tracing runs only when traces have somewhere to go. */
  enabled: boolean;
  /** Why tracing is off, for the one start-up line. */
  disabledBecause?: string;
  serviceName: string;
  protocol: OtlpProtocol;
  /** The OTLP endpoint traces go to (the base endpoint, or the traces-specific one). */
  endpoint?: string;
  /** Resource attributes we add; OTEL_RESOURCE_ATTRIBUTES, read by the SDK, overrides them. */
  resourceAttributes: Record<string, string>;
  /** Problems that do not stop the service, e.g. an unknown protocol. */
  warnings: string[];
}

const protocols: readonly OtlpProtocol[] = ['http/protobuf', 'http/json', 'grpc'];

import { instanceId } from '../instance.ts';

const isTrue = (value: string | undefined) => ['true', '1', 'yes', 'on'].includes((value ?? '').trim().toLowerCase());
const nonEmpty = (value: string | undefined) => (value !== undefined && value.trim() !== '' ? value.trim() : undefined);

/** `services/<name>/src/main.ts` → `<name>`: a service started without OTEL_SERVICE_NAME still names itself. */
export function serviceNameFromScript(script: string | undefined): string | undefined {
  const match = script ? /services[\\/]([^\\/]+)[\\/]src[\\/]main\.ts$/.exec(script) : null;
  return match?.[1];
}

export function telemetrySettings(env: Record<string, string | undefined>, script?: string): TelemetrySettings {
  const warnings: string[] = [];
  const serviceName = nonEmpty(env.OTEL_SERVICE_NAME) ?? serviceNameFromScript(script) ?? 'unknown_service:node';

  let protocol: OtlpProtocol = 'http/protobuf';
  const requested = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL);
  if (requested !== undefined) {
    if ((protocols as readonly string[]).includes(requested)) protocol = requested as OtlpProtocol;
    else warnings.push(`unsupported OTLP protocol "${requested}"; using http/protobuf (supported: ${protocols.join(', ')})`);
  }

  const resourceAttributes: Record<string, string> = {};
  const pod = nonEmpty(env.K8S_POD_NAME);
  const namespace = nonEmpty(env.K8S_NAMESPACE);
  if (pod) resourceAttributes['k8s.pod.name'] = pod;
  resourceAttributes['service.instance.id'] = instanceId(env);
  if (namespace) resourceAttributes['k8s.namespace.name'] = namespace;

  const endpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  const base = { serviceName, protocol, resourceAttributes, warnings };
  if (isTrue(env.OTEL_SDK_DISABLED)) return { ...base, enabled: false, disabledBecause: 'OTEL_SDK_DISABLED is true' };
  if (exporters.length > 0 && exporters.every((name) => name === 'none')) return { ...base, enabled: false, disabledBecause: 'OTEL_TRACES_EXPORTER is none' };
  if (exporters.some((name) => name !== 'otlp' && name !== 'none')) warnings.push(`OTEL_TRACES_EXPORTER "${env.OTEL_TRACES_EXPORTER}": only otlp is supported; using otlp`);
  if (endpoint === undefined) return { ...base, enabled: false, disabledBecause: 'OTEL_EXPORTER_OTLP_ENDPOINT is not set' };
  return { ...base, enabled: true, endpoint };
}

/** Requests that make no spans: probes, scrapes and documentation. */
export function isInfrastructurePath(path: string | undefined): boolean {
  if (!path) return false;
  return (
    path === '/health' ||
    path.startsWith('/health/') ||
    path.startsWith('/health?') ||
    path === '/metrics' ||
    path.startsWith('/metrics?') ||
    path === '/docs' ||
    path.startsWith('/docs/') ||
    path.startsWith('/docs?') ||
    path === '/openapi.json' ||
    path.startsWith('/openapi.json?')
  );
}
