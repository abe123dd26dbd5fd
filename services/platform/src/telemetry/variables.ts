/**
 * The variables the telemetry start-up and the OpenTelemetry SDK read, as a configuration spec:
 * docs/configuration.md is generated from it, and the manifest checks accept these keys in a
 * ConfigMap. It is never loaded at start: telemetry reads the environment itself
 * (settings.ts), warning instead of refusing to start, and the SDK reads its own variables.
 * Kept apart from settings.ts so that the preload imports nothing it does not need.
 */
import { boolean, integer, oneOf, optionalString } from '../config.ts';

export const telemetryConfig = {
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString('Where traces are exported over OTLP. Unset, tracing is off and the SDK is not even loaded.'),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalString('The same, for traces only; wins over OTEL_EXPORTER_OTLP_ENDPOINT.'),
  OTEL_EXPORTER_OTLP_PROTOCOL: oneOf(['http/protobuf', 'http/json', 'grpc'], 'http/protobuf', 'The OTLP protocol; an unknown one is warned about and replaced by the default.'),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: optionalString('The same, for traces only.'),
  OTEL_SERVICE_NAME: optionalString("The service's name in its spans; unset, the name of its directory (local mode and the manifests set it)."),
  OTEL_RESOURCE_ATTRIBUTES: optionalString('Resource attributes, `key=value` pairs; they override those from K8S_POD_NAME and K8S_NAMESPACE.'),
  K8S_POD_NAME: optionalString('Becomes `k8s.pod.name` on every span (the manifests fill it from the downward API).'),
  K8S_NAMESPACE: optionalString('Becomes `k8s.namespace.name` on every span (the manifests fill it from the downward API).'),
  OTEL_TRACES_SAMPLER: optionalString('The SDK\'s sampler; unset, `parentbased_always_on`.'),
  OTEL_TRACES_SAMPLER_ARG: optionalString('The argument of OTEL_TRACES_SAMPLER, e.g. a ratio.'),
  OTEL_TRACES_EXPORTER: optionalString('`none` turns tracing off; only `otlp` is supported otherwise.'),
  OTEL_SDK_DISABLED: boolean(false, 'Turns tracing off.'),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: integer({ default: 64, min: 1, description: "Spans per export batch (the SDK's 512 blocked the event loop for milliseconds while serialized)." }),
  OTEL_BSP_SCHEDULE_DELAY: optionalString("Most milliseconds between exports; unset, the SDK's 5000."),
  OTEL_BSP_MAX_QUEUE_SIZE: optionalString("Most spans waiting for export; unset, the SDK's 2048."),
  OTEL_METRICS_EXPORTER: optionalString('Unset, `none`: Jaeger stores only traces, so metrics are not exported over OTLP unless asked for.'),
  OTEL_LOGS_EXPORTER: optionalString('Unset, `none`, as for metrics.'),
};
