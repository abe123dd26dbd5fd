/**
 * The NetworkPolicies allow exactly the flows the shop needs. The intended flows are written
 * here by hand, from the architecture (not derived from cdk8s/src/flows.ts), and the
 * synthesized policies are evaluated against them: every intended flow is allowed, and every
 * other combination of source, destination and port is denied.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isAllowed, type Endpoint } from './network-evaluator.ts';
import { networkPolicies, parseManifests, variants, workloads, type K8sObject, type NetworkPolicyObject } from './manifests.ts';
import { defaultConfig } from '../src/config.ts';
import { manifestFile, renderObjects } from '../src/render.ts';
import { repositoryRoot } from './manifests.ts';

const manifestPath = join(repositoryRoot, manifestFile);

const apps = ['gateway', 'order', 'payment', 'email', 'product', 'user', 'cart', 'storefront'];
const databaseOwners = ['order', 'payment', 'email', 'product', 'user', 'cart'];
const sagaServices = ['order', 'payment', 'email', 'product', 'cart'];

/** Outside the namespace: a client through a node port or an ingress, a pod of another namespace. */
const ANYWHERE = 'anywhere';
/** Outside the cluster: the internet, an SMTP relay. */
const INTERNET = 'internet';

interface IntendedFlow {
  from: string;
  to: string;
  port: number;
  protocol?: 'TCP' | 'UDP';
}

/** The flows the shop needs, by hand from docs/architecture.md and docs/saga.md, not from the topology. */
function intendedFlows(options: { sharedPostgres: boolean; jaeger: boolean; mailpit: boolean; redis?: boolean; externalSmtpPort?: number }): IntendedFlow[] {
  const postgresOf = (service: string) => (options.sharedPostgres ? 'postgres' : `postgres-${service}`);
  const pods = [
    ...apps,
    ...(options.sharedPostgres ? ['postgres'] : databaseOwners.map(postgresOf)),
    'rabbitmq',
    ...(options.redis ? ['redis'] : []),
    ...(options.jaeger ? ['jaeger'] : []),
    ...(options.mailpit ? ['mailpit'] : []),
  ];
  const flows: IntendedFlow[] = [
    // DNS for every pod.
    ...pods.flatMap((pod) => [
      { from: pod, to: 'kube-dns', port: 53, protocol: 'UDP' as const },
      { from: pod, to: 'kube-dns', port: 53, protocol: 'TCP' as const },
    ]),
    // The public API.
    { from: ANYWHERE, to: 'gateway', port: 9000 },
    // The gateway routes to user, product, cart and order, and asks payment and email for /health.
    { from: 'gateway', to: 'user', port: 8005 },
    { from: 'gateway', to: 'product', port: 8004 },
    { from: 'gateway', to: 'cart', port: 8006 },
    { from: 'gateway', to: 'order', port: 8001 },
    { from: 'gateway', to: 'payment', port: 8002 },
    { from: 'gateway', to: 'email', port: 8003 },
    // Every page the gateway serves comes from the storefront.
    { from: 'gateway', to: 'storefront', port: 3000 },
    // The cart prices items at the catalog; checkout reads the cart.
    { from: 'cart', to: 'product', port: 8004 },
    { from: 'order', to: 'cart', port: 8006 },
    // Each service to its own database.
    ...databaseOwners.map((service) => ({ from: service, to: postgresOf(service), port: 5432 })),
    // The saga.
    ...sagaServices.map((service) => ({ from: service, to: 'rabbitmq', port: 5672 })),
    // No UI (RabbitMQ 15672, Jaeger 16686, Mailpit 8025): port-forwards reach them inside the
    // pod's network namespace, which NetworkPolicies do not govern.
  ];
  if (options.jaeger) flows.push(...apps.flatMap((service) => [4317, 4318].map((port) => ({ from: service, to: 'jaeger', port }))));
  if (options.mailpit) flows.push({ from: 'email', to: 'mailpit', port: 1025 });
  // The shared catalog cache is the product service's alone.
  if (options.redis) flows.push({ from: 'product', to: 'redis', port: 6379 });
  if (options.externalSmtpPort) flows.push({ from: 'email', to: INTERNET, port: options.externalSmtpPort });
  return flows;
}

/** The endpoints of the cluster around the shop. */
function endpointsOf(objects: readonly K8sObject[]) {
  const namespaceObject = objects.find((object) => object.kind === 'Namespace')!;
  const namespace = namespaceObject.metadata.name;
  // The API server labels every namespace with its name.
  const namespaceLabels = { ...namespaceObject.metadata.labels, 'kubernetes.io/metadata.name': namespace };
  const pods: Endpoint[] = workloads(objects).map((workload, index) => ({
    name: workload.spec.template.metadata.labels!['app.kubernetes.io/name']!,
    ip: `10.244.1.${index + 10}`,
    pod: {
      namespace,
      namespaceLabels,
      labels: workload.spec.template.metadata.labels!,
      ports: workload.spec.template.spec.containers.flatMap((container) => (container.ports ?? []).map((port) => ({ port: port.containerPort, protocol: port.protocol ?? 'TCP', ...(port.name ? { name: port.name } : {}) }))),
    },
  }));
  const kubeDns: Endpoint = {
    name: 'kube-dns',
    ip: '10.244.0.3',
    pod: {
      namespace: 'kube-system',
      namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
      labels: { 'k8s-app': 'kube-dns', 'pod-template-hash': '7db6d8ff4d' },
      ports: [
        { port: 53, protocol: 'UDP', name: 'dns' },
        { port: 53, protocol: 'TCP', name: 'dns-tcp' },
        { port: 9153, protocol: 'TCP', name: 'metrics' },
      ],
    },
  };
  const outsideClient: Endpoint = { name: ANYWHERE, ip: '203.0.113.10' };
  const otherNamespacePod: Endpoint = {
    name: ANYWHERE,
    ip: '10.244.2.7',
    pod: { namespace: 'default', namespaceLabels: { 'kubernetes.io/metadata.name': 'default' }, labels: { run: 'curl' }, ports: [{ port: 8080, protocol: 'TCP' }] },
  };
  const internet: Endpoint = { name: INTERNET, ip: '198.51.100.20', pod: undefined };
  const internetPorts = [
    { port: 443, protocol: 'TCP' },
    { port: 25, protocol: 'TCP' },
    { port: 587, protocol: 'TCP' },
    { port: 53, protocol: 'UDP' },
  ];
  return { pods, kubeDns, outsideClient, otherNamespacePod, internet, internetPorts };
}

function key(from: string, to: string, port: number, protocol = 'TCP'): string {
  return `${from} → ${to}:${port}/${protocol}`;
}

/** Every (source, destination, port) the policies allow, over all endpoints and every port they listen on. */
function allowedFlows(objects: readonly K8sObject[]): Set<string> {
  const policies = networkPolicies(objects);
  const { pods, kubeDns, outsideClient, otherNamespacePod, internet, internetPorts } = endpointsOf(objects);
  const allowed = new Set<string>();
  const destinations: [Endpoint, { port: number; protocol: string }[]][] = [
    ...pods.map((pod): [Endpoint, { port: number; protocol: string }[]] => [pod, [...pod.pod!.ports, { port: 12345, protocol: 'TCP' }, { port: 12345, protocol: 'UDP' }]]),
    [kubeDns, [...kubeDns.pod!.ports]],
    [internet, internetPorts],
  ];
  for (const from of [...pods, outsideClient, otherNamespacePod]) {
    for (const [to, ports] of destinations) {
      // A pod to itself is loopback; between two endpoints outside the shop our policies say nothing.
      if (from === to || (!pods.includes(from) && !pods.includes(to))) continue;
      for (const { port, protocol } of ports) {
        if (isAllowed(policies, { from, to, port, protocol })) allowed.add(key(from.name, to.name, port, protocol));
      }
    }
  }
  return allowed;
}

function allowed(objects: readonly K8sObject[], from: string, to: string, port: number, protocol = 'TCP'): boolean {
  const { pods, kubeDns, outsideClient, internet } = endpointsOf(objects);
  const find = (name: string) => (name === ANYWHERE ? outsideClient : name === INTERNET ? internet : name === 'kube-dns' ? kubeDns : pods.find((pod) => pod.name === name));
  const source = find(from);
  const destination = find(to);
  assert.ok(source && destination, `${from} and ${to} exist`);
  return isAllowed(networkPolicies(objects), { from: source, to: destination, port, protocol });
}

describe('network policies', () => {
  for (const variant of variants()) {
    const smtp = variant.config.services.email.env.SMTP_URL;
    const intended = intendedFlows({
      sharedPostgres: variant.config.infrastructure.sharedPostgres,
      jaeger: variant.config.infrastructure.jaeger,
      mailpit: variant.config.infrastructure.mailpit,
      redis: variant.config.productCache === 'redis',
      ...(smtp && !variant.config.infrastructure.mailpit ? { externalSmtpPort: Number(new URL(smtp).port) } : {}),
    });

    test(`${variant.name}: the policies allow exactly the intended flows`, () => {
      // Anywhere means from outside the namespace: a client outside the cluster and a pod of
      // another namespace alike (both are named `anywhere` in the evaluation).
      const expected = new Set(intended.map((flow) => key(flow.from, flow.to, flow.port, flow.protocol ?? 'TCP')));
      const actual = allowedFlows(variant.objects);
      const missing = [...expected].filter((flow) => !actual.has(flow)).sort();
      const extra = [...actual].filter((flow) => !expected.has(flow)).sort();
      assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
    });
  }

  const objects = variants()[0]!.objects;

  test('every intended flow is allowed, from a client outside the cluster and from a pod of another namespace alike', () => {
    const policies = networkPolicies(objects);
    const { pods, otherNamespacePod, outsideClient } = endpointsOf(objects);
    for (const flow of intendedFlows({ sharedPostgres: false, jaeger: true, mailpit: true }).filter((candidate) => candidate.from === ANYWHERE)) {
      const to = pods.find((pod) => pod.name === flow.to)!;
      for (const from of [outsideClient, otherNamespacePod]) assert.ok(isAllowed(policies, { from, to, port: flow.port, protocol: 'TCP' }), `${from.ip} → ${flow.to}:${flow.port}`);
    }
  });

  test('undocumented flows are denied', () => {
    const denied: [string, string, number][] = [
      ['payment', 'postgres-order', 5432],
      ['gateway', 'postgres-user', 5432],
      ['cart', 'order', 8001],
      ['user', 'rabbitmq', 5672],
      ['gateway', 'rabbitmq', 5672],
      ['product', 'cart', 8006],
      ['email', 'jaeger', 16686],
      ['payment', 'mailpit', 1025],
      ['mailpit', 'gateway', 9000],
      ['postgres-order', 'rabbitmq', 5672],
      [ANYWHERE, 'order', 8001],
      [ANYWHERE, 'postgres-order', 5432],
      [ANYWHERE, 'rabbitmq', 5672],
      [ANYWHERE, 'jaeger', 4317],
      ['payment', INTERNET, 443],
      ['email', INTERNET, 25],
      ['gateway', INTERNET, 53],
      // The UIs, from anywhere and from the shop's own pods.
      [ANYWHERE, 'rabbitmq', 15672],
      [ANYWHERE, 'jaeger', 16686],
      [ANYWHERE, 'mailpit', 8025],
      ['gateway', 'rabbitmq', 15672],
      ['order', 'jaeger', 16686],
      ['email', 'mailpit', 8025],
      // The gateway's metrics port: no scraper is admitted, and the public API stays on 9000.
      [ANYWHERE, 'gateway', 9464],
      ['order', 'gateway', 9464],
      ['jaeger', 'gateway', 9464],
    ];
    for (const [from, to, port] of denied) assert.equal(allowed(objects, from, to, port, to === INTERNET && port === 53 ? 'UDP' : 'TCP'), false, `${from} → ${to}:${port} must be denied`);
  });

  test('documented flows are allowed, the saga ones included', () => {
    const open: [string, string, number][] = [
      ['product', 'rabbitmq', 5672],
      ['cart', 'rabbitmq', 5672],
      ['order', 'cart', 8006],
      ['cart', 'product', 8004],
      ['gateway', 'email', 8003],
      ['email', 'mailpit', 1025],
      ['user', 'jaeger', 4318],
      [ANYWHERE, 'gateway', 9000],
    ];
    for (const [from, to, port] of open) assert.equal(allowed(objects, from, to, port), true, `${from} → ${to}:${port} must be allowed`);
  });

  test('with sharedPostgres every database owner reaches the one instance, and nothing else does', () => {
    const shared = variants()[1]!.objects;
    for (const service of databaseOwners) assert.ok(allowed(shared, service, 'postgres', 5432), service);
    assert.equal(allowed(shared, 'gateway', 'postgres', 5432), false);
    assert.equal(allowed(shared, ANYWHERE, 'postgres', 5432), false);
  });

  test('a consumer autoscaled by KEDA: the KEDA operator (pods app=keda-operator in namespace keda) reaches the broker on AMQP, and nothing more', () => {
    const config = { ...defaultConfig, services: { ...defaultConfig.services, payment: { ...defaultConfig.services.payment, autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 4, targetCPUUtilization: 70, queueLength: 10 } } } };
    const kedaObjects = renderObjects(config, { keda: true }) as unknown as K8sObject[];
    const policies = networkPolicies(kedaObjects);
    const rabbitmq = endpointsOf(kedaObjects).pods.find((pod) => pod.name === 'rabbitmq')!;
    // As KEDA's chart labels its operator's pods (its Service selects app: keda-operator).
    const kedaPod = (namespace: string, labels: Record<string, string>): Endpoint => ({ name: 'keda', ip: '10.244.3.4', pod: { namespace, namespaceLabels: { 'kubernetes.io/metadata.name': namespace }, labels, ports: [] } });
    const operator = kedaPod('keda', { app: 'keda-operator', 'app.kubernetes.io/name': 'keda-operator' });
    assert.ok(isAllowed(policies, { from: operator, to: rabbitmq, port: 5672, protocol: 'TCP' }), 'KEDA → rabbitmq:5672');
    assert.ok(!isAllowed(policies, { from: operator, to: rabbitmq, port: 15672, protocol: 'TCP' }), 'not the management port');
    assert.ok(!isAllowed(policies, { from: kedaPod('default', { app: 'keda-operator' }), to: rabbitmq, port: 5672, protocol: 'TCP' }), 'the label alone, in another namespace');
    assert.ok(!isAllowed(policies, { from: kedaPod('keda', { app: 'keda-operator-metrics-apiserver' }), to: rabbitmq, port: 5672, protocol: 'TCP' }), 'another pod of KEDA');
    // The gateway's public API is open to anywhere, KEDA included; nothing else of the shop is.
    for (const pod of endpointsOf(kedaObjects).pods.filter((candidate) => !['rabbitmq', 'gateway'].includes(candidate.name))) {
      assert.ok(!isAllowed(policies, { from: operator, to: pod, port: pod.pod!.ports[0]?.port ?? 1, protocol: 'TCP' }), `KEDA → ${pod.name}`);
    }
    // Without KEDA (or without an autoscaled consumer) the broker admits no one from outside.
    for (const objects of [renderObjects(config, { keda: false }), parseManifests(readFileSync(manifestPath, 'utf8'))] as unknown as K8sObject[][]) {
      const broker = endpointsOf(objects).pods.find((pod) => pod.name === 'rabbitmq')!;
      assert.ok(!isAllowed(networkPolicies(objects), { from: operator, to: broker, port: 5672, protocol: 'TCP' }));
    }
  });

  test('there is a default deny for ingress and egress', () => {
    const defaultDeny = networkPolicies(objects).find((policy) => policy.metadata.name === 'default-deny');
    assert.deepEqual(defaultDeny?.spec, { podSelector: {}, policyTypes: ['Egress', 'Ingress'] });
  });
});

describe('the NetworkPolicy evaluator', () => {
  const pod = (name: string, labels: Record<string, string>, namespace = 'shop', ports: { port: number; name?: string; protocol: string }[] = []): Endpoint => ({
    name,
    ip: '10.0.0.1',
    pod: { namespace, namespaceLabels: { 'kubernetes.io/metadata.name': namespace, ...(namespace === 'shop' ? { team: 'shop' } : {}) }, labels, ports },
  });
  const policy = (spec: NetworkPolicyObject['spec'], namespace = 'shop'): NetworkPolicyObject => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace }, spec });
  const a = pod('a', { app: 'a' });
  const b = pod('b', { app: 'b' }, 'shop', [{ port: 8080, name: 'http', protocol: 'TCP' }]);
  const c = pod('c', { app: 'c' }, 'other');

  test('no policy: everything is allowed', () => {
    assert.ok(isAllowed([], { from: a, to: b, port: 1, protocol: 'TCP' }));
  });

  test('an ingress policy isolates only the pods it selects, only for ingress', () => {
    const policies = [policy({ podSelector: { matchLabels: { app: 'b' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }], ports: [{ port: 8080 }] }] })];
    assert.ok(isAllowed(policies, { from: a, to: b, port: 8080, protocol: 'TCP' }));
    assert.ok(!isAllowed(policies, { from: a, to: b, port: 8081, protocol: 'TCP' }));
    assert.ok(!isAllowed(policies, { from: a, to: b, port: 8080, protocol: 'UDP' }));
    assert.ok(!isAllowed(policies, { from: c, to: b, port: 8080, protocol: 'TCP' }), 'a podSelector alone means the policy’s namespace');
    assert.ok(isAllowed(policies, { from: b, to: a, port: 9, protocol: 'TCP' }), 'a is not selected');
  });

  test('namespaceSelector with podSelector, named ports, port ranges, ipBlocks', () => {
    const toB = (rule: NonNullable<NetworkPolicyObject['spec']['ingress']>[number]) => [policy({ podSelector: { matchLabels: { app: 'b' } }, ingress: [rule] })];
    assert.ok(isAllowed(toB({ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'other' } }, podSelector: { matchLabels: { app: 'c' } } }] }), { from: c, to: b, port: 1, protocol: 'TCP' }));
    assert.ok(!isAllowed(toB({ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'other' } }, podSelector: { matchLabels: { app: 'x' } } }] }), { from: c, to: b, port: 1, protocol: 'TCP' }));
    assert.ok(isAllowed(toB({ from: [{ namespaceSelector: {} }] }), { from: c, to: b, port: 1, protocol: 'TCP' }), 'every namespace');
    assert.ok(isAllowed(toB({ ports: [{ port: 'http' }] }), { from: c, to: b, port: 8080, protocol: 'TCP' }));
    assert.ok(!isAllowed(toB({ ports: [{ port: 'http' }] }), { from: c, to: b, port: 8081, protocol: 'TCP' }));
    assert.ok(isAllowed(toB({ ports: [{ port: 8000, endPort: 8100 }] }), { from: c, to: b, port: 8080, protocol: 'TCP' }));
    const outside: Endpoint = { name: 'outside', ip: '203.0.113.10' };
    assert.ok(isAllowed(toB({ from: [{ ipBlock: { cidr: '203.0.113.0/24' } }] }), { from: outside, to: b, port: 1, protocol: 'TCP' }));
    assert.ok(!isAllowed(toB({ from: [{ ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.0/28'] } }] }), { from: outside, to: b, port: 1, protocol: 'TCP' }));
    assert.ok(!isAllowed(toB({ from: [{ podSelector: {} }] }), { from: outside, to: b, port: 1, protocol: 'TCP' }), 'a pod selector never matches a client outside the cluster');
  });

  test('egress: policyTypes defaults to Ingress, plus Egress when there are egress rules; both ends must allow', () => {
    const egressOnly = [policy({ podSelector: { matchLabels: { app: 'a' } }, egress: [{ to: [{ podSelector: { matchLabels: { app: 'b' } } }] }] })];
    assert.ok(isAllowed(egressOnly, { from: a, to: b, port: 1, protocol: 'TCP' }));
    assert.ok(!isAllowed(egressOnly, { from: a, to: c, port: 1, protocol: 'TCP' }));
    assert.ok(!isAllowed(egressOnly, { from: b, to: a, port: 1, protocol: 'TCP' }), 'a is isolated for ingress too, with no ingress rule');
    const denyB = policy({ podSelector: { matchLabels: { app: 'b' } }, policyTypes: ['Ingress'] });
    assert.ok(!isAllowed([...egressOnly, denyB], { from: a, to: b, port: 1, protocol: 'TCP' }), 'the receiving side denies');
  });
});
