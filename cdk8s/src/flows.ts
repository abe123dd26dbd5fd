/**
 * Every network flow the shop needs, as data: the NetworkPolicies allow exactly these and
 * deny everything else. The tests hold their own hand-written copy of the intended flows and
 * evaluate the synthesized policies against it.
 */
import type { ShopConfig } from './config.ts';
import { calleesOf, ownsDatabase, urlVariable } from '@scaleshop/platform/topology';
import { appServiceNames, databaseServiceNames, infraPorts, postgresInstanceOf, serviceOf } from './topology.ts';

/** A client outside the namespace: a node port or an ingress, a pod of another namespace. Not a port-forward, which policies never see. */
export const anywhere = 'anywhere';
/** The cluster DNS (CoreDNS pods labelled k8s-app=kube-dns in kube-system). */
export const kubeDns = 'kube-dns';
/**
 * KEDA's operator, which runs the scalers: the pods labelled app=keda-operator (the label its
 * chart's Service selects them by) in the namespace `keda`, where its documentation installs it.
 */
export const kedaOperator = 'keda-operator';
export const kedaNamespace = 'keda';
export const kedaOperatorLabels = { app: 'keda-operator' } as const;

export interface Flow {
  /** A workload of the shop (its name label), `keda-operator`, or `anywhere`. */
  readonly from: string;
  /** A workload of the shop, `kube-dns`, or `anywhere` (outside the cluster). */
  readonly to: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
  readonly why: string;
}

/** The shop's workloads (pods) for this configuration: their names, which are also their name labels. */
export function workloadNames(config: ShopConfig): string[] {
  const postgres = config.infrastructure.sharedPostgres ? ['postgres'] : databaseServiceNames.map((service) => postgresInstanceOf(service, false));
  return [
    ...appServiceNames,
    ...postgres,
    'rabbitmq',
    ...(config.productCache === 'redis' ? ['redis'] : []),
    ...(config.infrastructure.jaeger ? ['jaeger'] : []),
    ...(config.infrastructure.mailpit ? ['mailpit'] : []),
  ];
}

export interface FlowOptions {
  /** A saga consumer autoscales through a KEDA ScaledObject, whose scaler asks the broker for its queue's length. */
  readonly kedaScalers?: boolean;
}

export function networkFlows(config: ShopConfig, options: FlowOptions = {}): Flow[] {
  const flows: Flow[] = [];
  const add = (from: string, to: string, port: number, why: string, protocol: 'TCP' | 'UDP' = 'TCP') => flows.push({ from, to, port, protocol, why });

  for (const workload of workloadNames(config)) {
    add(workload, kubeDns, infraPorts.dns, 'name resolution', 'UDP');
    add(workload, kubeDns, infraPorts.dns, 'name resolution (large answers)', 'TCP');
  }
  add(anywhere, 'gateway', serviceOf('gateway').port, 'the public API');
  for (const name of appServiceNames) {
    const shape = serviceOf(name);
    for (const callee of calleesOf(name)) add(name, callee, serviceOf(callee).port, urlVariable(callee));
    if (ownsDatabase(name)) add(name, postgresInstanceOf(name, config.infrastructure.sharedPostgres), infraPorts.postgres, 'its database');
    if (shape.saga) add(name, 'rabbitmq', infraPorts.amqp, 'the checkout saga');
    if (config.infrastructure.jaeger) {
      add(name, 'jaeger', infraPorts.otlpGrpc, 'traces (OTLP gRPC)');
      add(name, 'jaeger', infraPorts.otlpHttp, 'traces (OTLP HTTP)');
    }
  }
  // KEDA's rabbitmq scaler with `protocol: amqp` reads the queue's length over AMQP (a passive
  // declare), on the port of the URL in the Secret rabbitmq-url.
  if (options.kedaScalers) add(kedaOperator, 'rabbitmq', infraPorts.amqp, 'KEDA reads the length of the consumed queues');
  if (config.productCache === 'redis') add('product', 'redis', infraPorts.redis, 'REDIS_URL, the shared catalog cache');
  if (config.infrastructure.mailpit) add('email', 'mailpit', infraPorts.smtp, 'SMTP_URL');
  else add('email', anywhere, smtpPort(config.services.email.env.SMTP_URL ?? ''), 'SMTP_URL, a mail server outside the namespace');
  // No flow to the UIs (Jaeger 16686, RabbitMQ 15672, Mailpit 8025): `kubectl port-forward`, and
  // Tilt's port_forward with it, connects inside the pod's network namespace, where no
  // NetworkPolicy applies, and a rule for it would open the UIs to every pod in the cluster.
  return flows;
}

/** The port of an smtp:// or smtps:// URL, with the protocols' defaults. */
export function smtpPort(url: string): number {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed) throw new Error(`SMTP_URL "${url}" is not a URL`);
  if (parsed.port) return Number(parsed.port);
  return parsed.protocol === 'smtps:' ? 465 : 25;
}
