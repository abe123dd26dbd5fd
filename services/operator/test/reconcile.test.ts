/**
 * The reconcile loop against the API server stand-in (api-server.ts): the operator's real
 * client code (client-node's informers, server-side apply, status patches, events) over HTTP.
 * At the end, every request of these tests is checked against the chart's Role.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { defaultConfig } from '@scaleshop/cdk8s/src/config.ts';
import { externalSecrets } from '@scaleshop/cdk8s/src/secrets.ts';
import * as k8s from '@kubernetes/client-node';
import { createLogger } from '@scaleshop/platform';
import { Operator, fieldManager } from '../src/controller.ts';
import { desiredObjects, type Shop } from '../src/desired.ts';
import { holdsDesired } from '../src/drift.ts';
import { ownedKinds } from '../src/kinds.ts';
import { ApiServerStandIn, type RecordedRequest } from './api-server.ts';
import { chartRole, noRbacProblems, rbacProblems } from './rbac.ts';

const namespace = 'scaleshop';
const shops = `scaleshop.dev/v1alpha1/${namespace}/shops`;
const deployments = `apps/v1/${namespace}/deployments`;
const statefulSets = `apps/v1/${namespace}/statefulsets`;
const configMaps = `v1/${namespace}/configmaps`;
const allRequests: RecordedRequest[] = [];
const operatorToken = 'the-operators-token';

interface Harness {
  server: ApiServerStandIn;
  operator: Operator;
  reconciles: { outcome: string }[];
  stop(): Promise<void>;
}

async function startHarness(options: { keda?: boolean; shop?: Partial<Shop>; secrets?: Record<string, any>[] } = {}): Promise<Harness> {
  const server = new ApiServerStandIn();
  server.kedaInstalled = options.keda ?? false;
  const url = await server.start();
  for (const secret of options.secrets ?? []) server.write(`v1/${namespace}/secrets`, { apiVersion: 'v1', kind: 'Secret', ...secret }, 'kubectl');
  server.write(shops, { apiVersion: 'scaleshop.dev/v1alpha1', kind: 'Shop', metadata: { name: 'demo', namespace }, spec: {}, ...options.shop }, 'kubectl');
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'stand-in', server: url, skipTLSVerify: true }],
    users: [{ name: 'operator', token: operatorToken }],
    contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'operator', namespace }],
    currentContext: 'stand-in',
  });
  const reconciles: { outcome: string }[] = [];
  const operator = new Operator({
    kubeConfig,
    namespace,
    logger: createLogger({ service: 'operator', level: (process.env.OPERATOR_TEST_LOG ?? 'silent') as 'silent' }),
    metrics: { reconciled: (outcome) => reconciles.push({ outcome }) },
    backoff: { baseMs: 50, maxMs: 2000 },
    informerRestartMs: 50,
    resyncMs: 250,
  });
  await operator.start();
  return {
    server,
    operator,
    reconciles,
    async stop() {
      await operator.stop();
      await server.stop();
      allRequests.push(...server.requests);
    },
  };
}

/** Runs a test against a harness of its own, stopped whatever the test's outcome. */
async function withHarness(options: Parameters<typeof startHarness>[0], body: (harness: Harness) => Promise<void>): Promise<void> {
  const harness = await startHarness(options);
  try {
    await body(harness);
  } finally {
    await harness.stop();
  }
}

// Generous: the machines that run these tests may be busy, and every step is an HTTP round trip.
async function waitFor(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const pluralOf = (kind: string) => ownedKinds.find((candidate) => candidate.kind === kind)!.plural;

const settle = (ms = 400) => new Promise((resolve) => setTimeout(resolve, ms));

function shopOf(server: ApiServerStandIn): Shop {
  return server.get(shops, 'demo') as Shop;
}

function expectedCount(server: ApiServerStandIn, keda = false): number {
  return desiredObjects(shopOf(server), { keda }).length;
}

function ownedCount(server: ApiServerStandIn): number {
  const uid = shopOf(server).metadata.uid;
  return ['v1/scaleshop/configmaps', 'v1/scaleshop/services', deployments, statefulSets, `networking.k8s.io/v1/${namespace}/networkpolicies`, `autoscaling/v2/${namespace}/horizontalpodautoscalers`]
    .flatMap((collection) => server.list(collection))
    .filter((object) => object.metadata.ownerReferences?.[0]?.uid === uid).length;
}

/** What the kubelet and the workload controllers would report once the pods are ready. */
function markWorkloadsReady(server: ApiServerStandIn): void {
  for (const collection of [deployments, statefulSets]) {
    for (const workload of server.list(collection)) {
      const replicas = workload.spec?.replicas ?? 1;
      server.write(collection, { metadata: { name: workload.metadata.name }, status: { replicas, readyReplicas: replicas } }, 'kube-controller-manager');
    }
  }
}

const writes = (requests: RecordedRequest[]) => requests.filter((request) => ['PATCH', 'POST', 'PUT', 'DELETE'].includes(request.method));
const condition = (server: ApiServerStandIn, type: string) => shopOf(server).status?.conditions?.find((candidate) => candidate.type === type);

describe('the reconcile loop against an API server stand-in', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(async () => {
    await harness.stop();
  });

  test('a new Shop: everything is applied with server-side apply, and status turns Ready once the children report ready', async () => {
    const { server } = harness;
    await waitFor('every object', () => ownedCount(server) === expectedCount(server));
    const applies = server.requests.filter((request) => request.method === 'PATCH' && request.resource !== 'shops/status');
    assert.equal(applies.length, expectedCount(server));
    for (const request of applies) {
      assert.equal(request.contentType, 'application/apply-patch+yaml');
      assert.equal(request.query.fieldManager, fieldManager);
      assert.equal(request.query.force, 'true');
    }
    // Applied as rendered: every field, named as on the wire (a NetworkPolicy rule's `from`, which
    // client-node's model calls `_from`, reached the server only once objects went through the model).
    for (const object of desiredObjects(shopOf(server), { keda: false })) {
      const collection = `${object.apiVersion}/${namespace}/${object.metadata.name === undefined ? '' : pluralOf(object.kind)}`;
      assert.ok(holdsDesired(server.get(collection, object.metadata.name), object), `${object.kind}/${object.metadata.name} as rendered`);
    }
    await waitFor('status', () => condition(server, 'Ready')?.reason === 'WorkloadsNotReady');
    assert.equal(condition(server, 'Ready')?.status, 'False');
    assert.equal(condition(server, 'Progressing')?.status, 'True');
    assert.equal(shopOf(server).status?.observedGeneration, 1);

    markWorkloadsReady(server);
    await waitFor('Ready', () => condition(server, 'Ready')?.status === 'True');
    const status = shopOf(server).status!;
    assert.equal(status.servicesReady, '8/8');
    assert.deepEqual(status.services?.payment, { readyReplicas: 1, desiredReplicas: 1 });
    assert.equal(condition(server, 'Degraded')?.status, 'False');
    assert.equal(condition(server, 'Progressing')?.status, 'False');
    const statusWrites = server.requests.filter((request) => request.resource === 'shops/status');
    assert.ok(statusWrites.every((request) => request.contentType === 'application/merge-patch+json'));
  });

  test('a quiet cluster sees no writes, though every Shop is reconciled again on each resync', async () => {
    const { server, reconciles } = harness;
    await settle();
    const before = server.requests.length;
    const reconciledBefore = reconciles.length;
    await settle(1500);
    assert.deepEqual(writes(server.requests.slice(before)), []);
    assert.ok(reconciles.length - reconciledBefore >= 3, `${reconciles.length - reconciledBefore} reconciles`);
  });

  test('a spec change patches only the changed objects', async () => {
    const { server } = harness;
    await settle();
    const before = server.requests.length;
    server.write(shops, { metadata: { name: 'demo' }, spec: { latency: { paymentLatencyMs: 50 } } }, 'kubectl');
    await waitFor('the new generation observed', () => shopOf(server).status?.observedGeneration === 2);
    await settle();
    const patched = writes(server.requests.slice(before)).filter((request) => request.resource !== 'shops/status').map((request) => request.path.split('/').slice(-2).join('/'));
    // The knobs reach the pods through their ConfigMap's file: no write to the Deployment, no rollout.
    assert.deepEqual(patched.sort(), ['configmaps/payment-knobs']);
    assert.equal(JSON.parse(server.get(configMaps, 'payment-knobs')?.data['fault-knobs.json']).latency_ms, 50);
  });

  test('an object deleted by hand is re-created', async () => {
    const { server } = harness;
    server.remove(deployments, 'cart');
    await waitFor('Deployment/cart again', () => server.get(deployments, 'cart') !== undefined);
    assert.equal(server.get(deployments, 'cart')?.metadata.ownerReferences[0].uid, shopOf(server).metadata.uid);
  });

  test('a Deployment scaled by hand is left alone, also when the Shop changes', async () => {
    const { server } = harness;
    await settle();
    const before = server.requests.length;
    server.write(deployments, { metadata: { name: 'order' }, spec: { replicas: 3 } }, 'kubectl');
    await settle();
    assert.deepEqual(writes(server.requests.slice(before)).filter((request) => request.path.endsWith('/deployments/order')), []);
    // A change of the spec re-applies the Deployment (its ConfigMap's checksum changed) without replicas.
    server.write(shops, { metadata: { name: 'demo' }, spec: { logLevel: 'debug' } }, 'kubectl');
    await waitFor('the order Deployment re-applied', () => writes(server.requests.slice(before)).some((request) => request.path.endsWith('/deployments/order')));
    await settle();
    assert.equal(server.get(deployments, 'order')?.spec.replicas, 3);
    assert.equal(server.get(configMaps, 'order-config')?.data.LOG_LEVEL, 'debug');
  });

  test('a hand edit of fields the operator set is reverted, while a hand-scaled Deployment stays scaled', async () => {
    const { server } = harness;
    await settle();
    const live = server.get(deployments, 'cart')!;
    const container = live.spec.template.spec.containers.find((candidate: { name: string }) => candidate.name === 'cart');
    const image = container.image;
    const env = container.env;
    // As `kubectl set image` and `kubectl edit` would: another image, one variable less, and a scale.
    const edited = { ...container, image: 'someone/else:latest', env: env.filter((variable: { name: string }) => variable.name !== 'DATABASE_URL') };
    assert.ok(env.some((variable: { name: string }) => variable.name === 'DATABASE_URL'));
    server.write(deployments, { metadata: { name: 'cart' }, spec: { replicas: 4, template: { spec: { containers: [edited] } } } }, 'kubectl');
    server.write(configMaps, { metadata: { name: 'cart-config' }, data: { LOG_LEVEL: 'trace' } }, 'kubectl');
    await waitFor('the image restored', () => server.get(deployments, 'cart')?.spec.template.spec.containers[0].image === image);
    await waitFor('the setting restored', () => server.get(configMaps, 'cart-config')?.data.LOG_LEVEL !== 'trace');
    assert.deepEqual(server.get(deployments, 'cart')?.spec.template.spec.containers[0].env, env);
    assert.equal(server.get(deployments, 'cart')?.spec.replicas, 4);
    // Restored once: then quiet again.
    await settle();
    const before = server.requests.length;
    await settle(800);
    assert.deepEqual(writes(server.requests.slice(before)), []);
  });

  test('replicas set in the spec are the operator’s to keep: it takes them over from kubectl scale by force', async () => {
    const { server } = harness;
    // kubectl owns spec.replicas of order (the test above): an apply that sets them without
    // force is a 409 conflict, as the API server answers.
    const conflict = await fetch(`${server.url}/apis/apps/v1/namespaces/${namespace}/deployments/order?fieldManager=someone-else`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/apply-patch+yaml' },
      body: JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'order' }, spec: { replicas: 5 } }),
    });
    assert.equal(conflict.status, 409);
    server.write(shops, { metadata: { name: 'demo' }, spec: { services: { order: { replicas: 2 } } } }, 'kubectl');
    await waitFor('replicas 2', () => server.get(deployments, 'order')?.spec.replicas === 2);
  });

  test('a paused Shop: nothing is applied', async () => {
    const { server } = harness;
    server.write(shops, { metadata: { name: 'demo', annotations: { 'scaleshop.dev/paused': 'true' } } }, 'kubectl');
    await settle();
    const before = server.requests.length;
    server.write(shops, { metadata: { name: 'demo' }, spec: { logLevel: 'warn' } }, 'kubectl');
    server.remove(deployments, 'email');
    await settle(800);
    assert.deepEqual(writes(server.requests.slice(before)), []);
    assert.equal(server.get(deployments, 'email'), undefined);
    server.write(shops, { metadata: { name: 'demo', annotations: { 'scaleshop.dev/paused': null } } }, 'kubectl');
    await waitFor('unpaused: Deployment/email again', () => server.get(deployments, 'email') !== undefined);
    assert.equal(server.get(configMaps, 'email-config')?.data.LOG_LEVEL, 'warn');
  });

  test('objects a Shop no longer wants are pruned', async () => {
    const { server } = harness;
    assert.ok(server.get(deployments, 'jaeger'));
    server.write(shops, { metadata: { name: 'demo' }, spec: { infrastructure: { jaeger: false } } }, 'kubectl');
    await waitFor('Deployment/jaeger pruned', () => server.get(deployments, 'jaeger') === undefined);
    assert.equal(server.get(configMaps, 'jaeger-config'), undefined);
  });
});

describe('failures: retried with backoff, nothing missed', () => {
  test('a 500 on an apply: an Event on the Shop, then retried until applied, and nothing left Degraded', async () => {
    await withHarness({}, async ({ server, reconciles }) => {
    server.failNext((request) => request.method === 'PATCH' && request.path.endsWith('/deployments/payment'), 500);
    await waitFor('every object', () => ownedCount(server) === expectedCount(server));
    const events = server.list(`v1/${namespace}/events`);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.reason, 'ApplyFailed');
    assert.equal(events[0]?.involvedObject.name, 'demo');
    assert.match(events[0]?.message, /Deployment\/payment: HTTP 500/);
    assert.ok(reconciles.some((reconcile) => reconcile.outcome === 'error'));
    await waitFor('Degraded cleared', () => condition(server, 'Degraded')?.status === 'False');
    });
  });

  test('a 409 conflict on an apply: an Event, then retried until applied', async () => {
    await withHarness({}, async ({ server }) => {
    server.failNext((request) => request.method === 'PATCH' && request.path.endsWith('/configmaps/order-config'), 409);
    await waitFor('every object', () => ownedCount(server) === expectedCount(server));
    const events = server.list(`v1/${namespace}/events`);
    assert.deepEqual(events.map((event) => event.reason), ['ApplyFailed']);
    assert.match(events[0]?.message, /ConfigMap\/order-config: HTTP 409/);
    });
  });

  test('a 429 with Retry-After: the next attempt waits as long as it asks', async () => {
    await withHarness({}, async ({ server }) => {
    server.failNext((request) => request.method === 'PATCH' && request.path.endsWith('/services/gateway'), 429, { 'retry-after': '1' });
    await waitFor('every object', () => ownedCount(server) === expectedCount(server));
    const attempts = server.requests.filter((request) => request.method === 'PATCH' && request.path.endsWith('/services/gateway'));
    assert.equal(attempts.length, 2);
    const [first, second] = attempts as [RecordedRequest, RecordedRequest];
    // The queue's own backoff would retry after 50 ms; the server asked for a second.
    assert.ok(second.at - first.at >= 1000, `retried after ${second.at - first.at} ms`);
    });
  });

  test('a dropped watch resumes from its resourceVersion; a 410 Gone relists; changes in between are not missed', async () => {
    await withHarness({}, async ({ server }) => {
    await waitFor('every object', () => ownedCount(server) === expectedCount(server));
    await settle();
    // Dropped: the informers reconnect from the last resourceVersion they saw and replay the delete.
    server.dropWatches();
    server.remove(deployments, 'user');
    await waitFor('Deployment/user again', () => server.get(deployments, 'user') !== undefined);
    // Compacted: the resumed watch gets 410 Gone, the informer lists again and sees the gap.
    await settle();
    server.dropWatches();
    server.remove(statefulSets, 'rabbitmq');
    server.compact();
    await waitFor('StatefulSet/rabbitmq again', () => server.get(statefulSets, 'rabbitmq') !== undefined);
    const watches = server.requests.filter((request) => request.verb === 'watch' && request.resource === 'statefulsets');
    assert.ok(watches.length >= 3, `watches: ${watches.length}`);
    const lists = server.requests.filter((request) => request.verb === 'list' && request.resource === 'statefulsets');
    assert.ok(lists.length >= 2, 'relisted after 410');
    });
  });

  test('a 500 on a watch: the informer is restarted', async () => {
    await withHarness({}, async ({ server }) => {
    await waitFor('every object', () => ownedCount(server) === expectedCount(server));
    await settle();
    server.failNext((request) => request.verb === 'watch' && request.resource === 'configmaps', 500);
    server.dropWatches();
    await settle(300);
    server.remove(configMaps, 'cart-config');
    await waitFor('ConfigMap/cart-config again', () => server.get(configMaps, 'cart-config') !== undefined);
    });
  });

  test('deleting the Shop: what it owned is collected, and the operator re-creates nothing', async () => {
    await withHarness({}, async ({ server }) => {
    await waitFor('every object', () => ownedCount(server) === expectedCount(server));
    await settle();
    const before = server.requests.length;
    server.remove(shops, 'demo');
    await settle(800);
    assert.equal(server.list(deployments).length, 0);
    assert.deepEqual(writes(server.requests.slice(before)), []);
    });
  });

  test('autoscaling without KEDA: no ScaledObject, and a condition says why', async () => {
    await withHarness({ shop: { spec: { services: { payment: { autoscaling: { enabled: true } }, gateway: { autoscaling: { enabled: true } } } } } }, async ({ server }) => {
    await waitFor('the HPA', () => server.get(`autoscaling/v2/${namespace}/horizontalpodautoscalers`, 'gateway') !== undefined);
    await waitFor('Degraded', () => condition(server, 'Degraded')?.reason === 'KedaNotInstalled');
    assert.match(condition(server, 'Degraded')?.message ?? '', /payment cannot autoscale on queue length/);
    assert.equal(server.requests.filter((request) => request.apiGroup === 'keda.sh').length, 0);
    });
  });

  test('autoscaling with KEDA: a ScaledObject for the consumer', async () => {
    await withHarness({ keda: true, shop: { spec: { services: { payment: { autoscaling: { enabled: true } } } } } }, async ({ server }) => {
    await waitFor('the ScaledObject', () => server.get(`keda.sh/v1alpha1/${namespace}/scaledobjects`, 'payment') !== undefined);
    await waitFor('its TriggerAuthentication', () => server.get(`keda.sh/v1alpha1/${namespace}/triggerauthentications`, 'rabbitmq-keda') !== undefined);
    assert.equal(server.get(`keda.sh/v1alpha1/${namespace}/scaledobjects`, 'payment')?.spec.triggers[0].authenticationRef.name, 'rabbitmq-keda');
    assert.equal(server.get(deployments, 'payment')?.spec.replicas, undefined);
    });
  });
});

describe('the Secrets a Shop references: made when missing, never overwritten', () => {
  const secrets = `v1/${namespace}/secrets`;
  const decoded = (server: ApiServerStandIn, name: string, key: string) => Buffer.from(server.get(secrets, name)?.data[key] ?? '', 'base64').toString('utf8');

  test('a new Shop with no Secret: every one it references is made, random, consistent, kept after the Shop', async () => {
    await withHarness({}, async ({ server }) => {
      const wanted = externalSecrets({ ...defaultConfig, namespace });
      await waitFor('every Secret', () => wanted.every((secret) => server.get(secrets, secret.name) !== undefined));
      for (const secret of wanted) assert.deepEqual(Object.keys(server.get(secrets, secret.name)!.data).sort(), [...secret.keys].sort(), secret.name);
      // The URLs carry the passwords of the instances they name, percent-encoded.
      const orderUrl = new URL(decoded(server, 'order-database', 'url'));
      assert.equal(orderUrl.hostname, 'postgres-order');
      assert.equal(decodeURIComponent(orderUrl.password), decoded(server, 'postgres-order', 'password'));
      assert.notEqual(decoded(server, 'postgres-order', 'password'), decoded(server, 'postgres-user', 'password'));
      assert.ok(decoded(server, 'postgres-order', 'password').length >= 32);
      const brokerUrl = new URL(decoded(server, 'rabbitmq-url', 'url'));
      assert.equal(brokerUrl.hostname, `rabbitmq.${namespace}.svc.cluster.local`);
      assert.equal(decodeURIComponent(brokerUrl.password), decoded(server, 'rabbitmq', 'password'));
      const privateKey = createPrivateKey(decoded(server, 'scaleshop-jwt', 'private.pem'));
      assert.ok(verify(null, Buffer.from('token'), createPublicKey(decoded(server, 'scaleshop-jwt', 'public.pem')), sign(null, Buffer.from('token'), privateKey)));
      // Kept with the volumes (deleteVolumesWithShop is off): not owned, so not collected.
      assert.ok(wanted.every((secret) => server.get(secrets, secret.name)!.metadata.ownerReferences === undefined));
      await waitFor('every object', () => ownedCount(server) === expectedCount(server));
      server.remove(shops, 'demo');
      await settle();
      assert.ok(wanted.every((secret) => server.get(secrets, secret.name) !== undefined));
    });
  });

  test('a Secret the user brought is never overwritten, and the URL made for it uses its password', async () => {
    await withHarness({ secrets: [{ metadata: { name: 'postgres-order' }, data: { password: Buffer.from('their p@ss/word').toString('base64') } }, { metadata: { name: 'rabbitmq-url' }, data: { url: Buffer.from('amqp://theirs').toString('base64') } }] }, async ({ server }) => {
      await waitFor('order-database', () => server.get(secrets, 'order-database') !== undefined);
      await waitFor('every object', () => ownedCount(server) === expectedCount(server));
      assert.equal(decoded(server, 'postgres-order', 'password'), 'their p@ss/word');
      assert.equal(decoded(server, 'rabbitmq-url', 'url'), 'amqp://theirs');
      assert.equal(decodeURIComponent(new URL(decoded(server, 'order-database', 'url')).password), 'their p@ss/word');
      const creates = server.requests.filter((request) => request.resource === 'secrets' && request.method === 'POST').map((request) => request.path);
      assert.ok(!creates.some((path) => path.endsWith('/postgres-order') || path.endsWith('/rabbitmq-url')));
      assert.ok(server.requests.filter((request) => request.resource === 'secrets').every((request) => request.method === 'GET' || request.method === 'POST'), 'never written once there');
    });
  });

  test('deleteVolumesWithShop: the Secrets it made are owned by the Shop, and go with it', async () => {
    await withHarness({ shop: { spec: { deleteVolumesWithShop: true } } }, async ({ server }) => {
      await waitFor('every object', () => ownedCount(server) === expectedCount(server));
      await waitFor('rabbitmq-url', () => server.get(secrets, 'rabbitmq-url') !== undefined);
      assert.equal(server.get(secrets, 'rabbitmq')?.metadata.ownerReferences?.[0]?.uid, shopOf(server).metadata.uid);
      server.remove(shops, 'demo');
      assert.deepEqual(server.list(secrets), []);
    });
  });
});

describe('RBAC', () => {
  test('every request of the reconcile tests is allowed by the chart’s Role, and the Role has no wildcard and nothing unused', () => {
    // The operator's requests: those with its token (the tests' own writes come without one).
    const operatorRequests = allRequests.filter((request) => request.token === operatorToken);
    assert.ok(operatorRequests.filter((request) => request.resource !== '').length > 100, `${operatorRequests.length} requests recorded`);
    assert.deepEqual(rbacProblems(chartRole(namespace, 'scaleshop-operator'), operatorRequests), noRbacProblems);
  });
});
