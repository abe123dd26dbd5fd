/**
 * Jaeger v2 (the OpenTelemetry-Collector-based binary) with in-memory storage: OTLP in on
 * 4317 (gRPC) and 4318 (HTTP), the UI on 16686. Its configuration is a ConfigMap, so the
 * number of traces kept — and with it Jaeger's memory — is bounded.
 */
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import type { InfraReplicas, PullPolicy, Resources } from './config.ts';
import {
  containerResources,
  emptyDir,
  hardenPodTemplate,
  labelsFor,
  probeOptions,
  pullPolicy,
  restrictedContainer,
  restrictedPod,
  selectorFor,
} from './workload-defaults.ts';
import { infraPorts } from './topology.ts';

/** The image's own user. */
export const jaegerUid = 10001;
const ports = { otlpGrpc: infraPorts.otlpGrpc, otlpHttp: infraPorts.otlpHttp, ui: infraPorts.jaegerUi, health: infraPorts.jaegerHealth } as const;
const configPath = '/etc/jaeger';

export interface JaegerProps {
  readonly name: string;
  readonly image: string;
  readonly pullPolicy: PullPolicy;
  readonly replicas: InfraReplicas;
  readonly maxTraces: number;
  readonly resources: Resources;
}

/** Jaeger's all-in-one configuration, trimmed to OTLP in, memory storage, UI and health check. */
export function jaegerConfigYaml(maxTraces: number): string {
  return [
    'service:',
    '  extensions: [jaeger_storage, jaeger_query, healthcheckv2]',
    '  pipelines:',
    '    traces:',
    '      receivers: [otlp]',
    '      processors: [batch]',
    '      exporters: [jaeger_storage_exporter]',
    '  telemetry:',
    '    resource:',
    '      service.name: jaeger',
    '    logs:',
    '      level: info',
    'extensions:',
    '  healthcheckv2:',
    '    use_v2: true',
    '    http:',
    `      endpoint: 0.0.0.0:${ports.health}`,
    '  jaeger_query:',
    '    storage:',
    '      traces: in_memory',
    '  jaeger_storage:',
    '    backends:',
    '      in_memory:',
    '        memory:',
    `          max_traces: ${maxTraces}`,
    'receivers:',
    '  otlp:',
    '    protocols:',
    '      grpc:',
    `        endpoint: 0.0.0.0:${ports.otlpGrpc}`,
    '      http:',
    `        endpoint: 0.0.0.0:${ports.otlpHttp}`,
    'processors:',
    '  batch: {}',
    'exporters:',
    '  jaeger_storage_exporter:',
    '    trace_storage: in_memory',
    '',
  ].join('\n');
}

export class Jaeger extends Construct {
  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;

  constructor(scope: Construct, id: string, props: JaegerProps) {
    super(scope, id);
    const labels = labelsFor(props.name, 'observability');

    const config = new kplus.ConfigMap(this, 'config', { metadata: { name: `${props.name}-config`, labels }, data: { 'config.yaml': jaegerConfigYaml(props.maxTraces) } });

    this.deployment = new kplus.Deployment(this, 'deployment', {
      metadata: { name: props.name, labels },
      // Infrastructure: the replica count is configuration (0 turns it off). One at most: memory storage.
      replicas: props.replicas,
      // Memory storage cannot be shared: never two at once during a rollout.
      strategy: kplus.DeploymentStrategy.recreate(),
      select: false,
      podMetadata: { labels },
      securityContext: restrictedPod(jaegerUid),
      automountServiceAccountToken: false,
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selectorFor(props.name) }));
    hardenPodTemplate(this.deployment);

    const health = (timings: Parameters<typeof probeOptions>[0]) => kplus.Probe.fromHttpGet('/status', { port: ports.health, ...probeOptions(timings) });
    const container = this.deployment.addContainer({
      name: 'jaeger',
      image: props.image,
      imagePullPolicy: pullPolicy(props.pullPolicy),
      args: ['--config', `${configPath}/config.yaml`],
      ports: [
        { number: ports.otlpGrpc, name: 'otlp-grpc' },
        { number: ports.otlpHttp, name: 'otlp-http' },
        { number: ports.ui, name: 'ui' },
        { number: ports.health, name: 'health' },
      ],
      resources: containerResources(props.resources),
      securityContext: restrictedContainer(jaegerUid),
      startup: health({ periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 }),
      readiness: health({ periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 }),
      liveness: health({ periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 3 }),
    });
    container.mount(configPath, kplus.Volume.fromConfigMap(this, 'config-volume', config, { name: 'config' }), { readOnly: true });
    container.mount('/tmp', emptyDir(this, 'tmp', 64));

    this.service = new kplus.Service(this, 'service', {
      metadata: { name: props.name, labels },
      type: kplus.ServiceType.CLUSTER_IP,
      ports: [
        { name: 'otlp-grpc', port: ports.otlpGrpc, targetPort: ports.otlpGrpc },
        { name: 'otlp-http', port: ports.otlpHttp, targetPort: ports.otlpHttp },
        { name: 'ui', port: ports.ui, targetPort: ports.ui },
      ],
    });
    for (const [key, value] of Object.entries(selectorFor(props.name))) this.service.selectLabel(key, value);
  }
}
