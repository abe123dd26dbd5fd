import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { schemaProblems } from '@scaleshop/cdk8s/test/kube-schema.ts';
import { parseManifests, readCommittedManifests, repositoryRoot } from '@scaleshop/cdk8s/test/manifests.ts';
import { crdFile } from '@scaleshop/cdk8s/src/helm-chart.ts';
import { applyDefaults } from '@scaleshop/cdk8s/src/shop-spec.ts';
import { appliedHashAnnotation, configOf, desiredObjects, shopLabel, type KubeObject, type Shop } from '../src/desired.ts';

const shop = (spec: unknown = {}): Shop => ({ apiVersion: 'scaleshop.dev/v1alpha1', kind: 'Shop', metadata: { name: 'demo', namespace: 'scaleshop', uid: 'uid-1' }, spec });

/** An object as cdk8s renders it, without what the operator adds. */
function withoutOwnership(object: KubeObject): KubeObject {
  const metadata = structuredClone(object.metadata);
  delete metadata.ownerReferences;
  if (metadata.labels) delete metadata.labels[shopLabel];
  if (metadata.annotations) delete metadata.annotations[appliedHashAnnotation];
  if (metadata.annotations && Object.keys(metadata.annotations).length === 0) delete metadata.annotations;
  return { ...object, metadata };
}

const id = (object: { kind: string; metadata: { name: string } }) => `${object.kind}/${object.metadata.name}`;

function render(args: string[]) {
  return spawnSync(process.execPath, ['services/operator/src/render-cli.ts', ...args], { cwd: repositoryRoot, encoding: 'utf8' });
}

describe('rendering a Shop', () => {
  test('the default Shop renders exactly k8s/ (but the Namespace it lives in), each object owned by the Shop', () => {
    const committed = parseManifests(readCommittedManifests()).filter((object) => object.kind !== 'Namespace');
    const desired = desiredObjects(shop(), { keda: true });
    assert.deepEqual(desired.map(withoutOwnership), committed);
    for (const object of desired) {
      assert.deepEqual(object.metadata.ownerReferences, [{ apiVersion: 'scaleshop.dev/v1alpha1', kind: 'Shop', name: 'demo', uid: 'uid-1', controller: true }], id(object));
      assert.equal(object.metadata.labels?.[shopLabel], 'demo');
    }
  });

  test('npm run render prints the same objects for the example Shop', () => {
    const result = render(['services/operator/examples/shop.yaml']);
    assert.equal(result.status, 0, result.stderr);
    const printed = parseAllDocuments(result.stdout).map((document) => document.toJS() as KubeObject);
    const committed = parseManifests(readCommittedManifests()).filter((object) => object.kind !== 'Namespace');
    assert.deepEqual(printed.map(withoutOwnership), committed);
  });

  test('a changed spec renders exactly the expected change', () => {
    const before = new Map(desiredObjects(shop(), { keda: true }).map((object) => [id(object), withoutOwnership(object)]));
    const after = new Map(desiredObjects(shop({ services: { payment: { replicas: 3 } }, latency: { paymentLatencyMs: 50 } }), { keda: true }).map((object) => [id(object), withoutOwnership(object)]));
    assert.deepEqual([...after.keys()], [...before.keys()]);
    const changed = [...after.keys()].filter((key) => JSON.stringify(after.get(key)) !== JSON.stringify(before.get(key)));
    // The payment knobs' ConfigMap gets the new latency (no rollout: the pod template does not
    // carry it), its Deployment the replicas.
    assert.deepEqual(changed.sort(), ['ConfigMap/payment-knobs', 'Deployment/payment']);
    const knobs = after.get('ConfigMap/payment-knobs') as KubeObject & { data: Record<string, string> };
    assert.equal(JSON.parse(knobs.data['fault-knobs.json']!).latency_ms, 50);
    const deployment = after.get('Deployment/payment') as KubeObject & { spec: { replicas?: number } };
    assert.equal(deployment.spec.replicas, 3);
    assert.equal((before.get('Deployment/payment') as KubeObject & { spec: { replicas?: number } }).spec.replicas, undefined);
  });

  test('autoscaling: an HPA on CPU for an HTTP service, a KEDA ScaledObject on its queue for a consumer, none without KEDA', () => {
    const spec = { services: { gateway: { autoscaling: { enabled: true, maxReplicas: 5 } }, payment: { autoscaling: { enabled: true, queueLength: 7 } } } };
    const objects = desiredObjects(shop(spec), { keda: true });
    const hpa = objects.find((object) => object.kind === 'HorizontalPodAutoscaler') as KubeObject & { spec: Record<string, unknown> };
    assert.equal(hpa.metadata.name, 'gateway');
    assert.deepEqual(hpa.spec, {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'gateway' },
      minReplicas: 1,
      maxReplicas: 5,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
    });
    const scaled = objects.find((object) => object.kind === 'ScaledObject') as KubeObject & { spec: { triggers: { metadata: Record<string, string> }[] } };
    assert.equal(scaled.metadata.name, 'payment');
    assert.deepEqual(scaled.spec.triggers[0]?.metadata, { protocol: 'amqp', mode: 'QueueLength', value: '7', queueName: 'payment.inventory' });
    assert.ok(objects.some((object) => object.kind === 'TriggerAuthentication'));
    const withoutKeda = desiredObjects(shop(spec), { keda: false });
    assert.deepEqual(withoutKeda.filter((object) => object.apiVersion.startsWith('keda.sh')), []);
    assert.ok(withoutKeda.some((object) => object.kind === 'HorizontalPodAutoscaler'));
    for (const object of objects.filter((candidate) => candidate.metadata.name === 'gateway' || candidate.metadata.name === 'payment')) {
      if (object.kind === 'Deployment') assert.equal((object as KubeObject & { spec: { replicas?: number } }).spec.replicas, undefined, 'an autoscaled Deployment has no replicas');
    }
  });

  test('deleteVolumesWithShop: the StatefulSets delete their claims with themselves; by default they keep them', () => {
    const policies = (spec: unknown) =>
      desiredObjects(shop(spec), { keda: true })
        .filter((object) => object.kind === 'StatefulSet')
        .map((object) => (object as KubeObject & { spec: { persistentVolumeClaimRetentionPolicy?: unknown } }).spec.persistentVolumeClaimRetentionPolicy);
    assert.ok(policies({}).every((policy) => policy === undefined));
    assert.deepEqual(new Set(policies({ deleteVolumesWithShop: true }).map((policy) => JSON.stringify(policy))), new Set([JSON.stringify({ whenDeleted: 'Delete', whenScaled: 'Retain' })]));
  });

  test('a bad Shop: every problem is named, exit 2, nothing printed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'render-'));
    try {
      const file = join(dir, 'shop.yaml');
      writeFileSync(
        file,
        [
          'apiVersion: scaleshop.dev/v1',
          'kind: Shop',
          'metadata: {name: demo}',
          'spec:',
          '  logLevel: loud',
          '  latency: {paymentFailureRate: 2}',
          '  services:',
          '    cart: {replicas: 2, autoscaling: {enabled: true}, resourcs: {}}',
          '    user: {resources: {memory: {requestMiB: 512, limitMiB: 256}}, env: {DB_PASSWORD: x}}',
          '  infrastructure: {mailpit: false}',
        ].join('\n'),
      );
      const result = render([file]);
      assert.equal(result.status, 2);
      assert.equal(result.stdout, '');
      const lines = result.stderr.split('\n').filter((line) => line.startsWith('  - ')).map((line) => line.slice(4)).sort();
      assert.deepEqual(lines, [
        'apiVersion: must be scaleshop.dev/v1alpha1, not "scaleshop.dev/v1"',
        'spec.infrastructure.mailpit is off: set services.email.env.SMTP_URL to the SMTP server the email service should use',
        'spec.latency.paymentFailureRate: must be <= 1',
        'spec.logLevel: must be equal to one of the allowed values (fatal, error, warn, info, debug, trace, silent)',
        'spec.services.cart.resourcs: unknown field',
        'spec.services.cart: replicas and autoscaling exclude each other: an autoscaler owns the count',
        'spec.services.user.env: a key looks like a secret; secrets come from Secrets created outside the spec',
        'spec.services.user.resources.memory: the memory limit is below its request',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a missing file or a wrong argument is exit 2 with a message', () => {
    assert.equal(render([]).status, 2);
    assert.match(render(['/nonexistent/shop.yaml']).stderr, /cannot read/);
    assert.equal(render(['x.yaml', '--bogus']).status, 2);
  });
});

describe('the Shop CRD', () => {
  const crd = parse(readFileSync(join(repositoryRoot, crdFile), 'utf8'));
  const version = crd.spec.versions[0];
  const specSchema = version.schema.openAPIV3Schema.properties.spec;

  test('its own schema defaults an empty spec to the configuration of k8s/ (as the API server would)', () => {
    const { namespace: _namespace, ...expected } = configOf(shop());
    assert.deepEqual(applyDefaults(specSchema, {}), expected);
  });

  test('is structural: every node has a type, no additionalProperties: false, maps as additionalProperties', () => {
    const problems: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      if (typeof node.type !== 'string') problems.push(`${path}: no type`);
      if (node.additionalProperties === false) problems.push(`${path}: additionalProperties false`);
      if (node.patternProperties) problems.push(`${path}: patternProperties`);
      for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) walk(child, `${path}.${key}`);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties as Record<string, unknown>, `${path}[*]`);
      if (node.items) walk(node.items as Record<string, unknown>, `${path}[]`);
    };
    walk(specSchema, 'spec');
    walk(version.schema.openAPIV3Schema.properties.status, 'status');
    assert.deepEqual(problems, []);
    assert.deepEqual(specSchema.properties.services.properties.payment.properties.env.additionalProperties, { type: 'string', maxLength: 4096 });
  });

  test('status subresource, printer columns for Ready, services ready and age, a short name, namespaced', () => {
    assert.deepEqual(version.subresources, { status: {} });
    assert.deepEqual(
      version.additionalPrinterColumns.map((column: { name: string; jsonPath: string }) => [column.name, column.jsonPath]),
      [
        ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
        ['Services', '.status.servicesReady'],
        ['Reason', '.status.conditions[?(@.type=="Ready")].reason'],
        ['Age', '.metadata.creationTimestamp'],
      ],
    );
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.deepEqual(crd.spec.names.shortNames, ['shp']);
  });

  test('the cross-field rules are CEL on the nodes they read', () => {
    const rules = (node: { 'x-kubernetes-validations'?: { rule: string }[] }) => (node['x-kubernetes-validations'] ?? []).map((rule) => rule.rule);
    assert.deepEqual(rules(specSchema), ["self.infrastructure.mailpit || 'SMTP_URL' in self.services.email.env"]);
    assert.deepEqual(rules(specSchema.properties.services.properties.cart), ['!(has(self.replicas) && has(self.autoscaling) && self.autoscaling.enabled)']);
    assert.deepEqual(rules(specSchema.properties.postgres.properties.resources.properties.memory), ['self.limitMiB >= self.requestMiB']);
  });

  test('every object a Shop renders validates against the Kubernetes schemas', () => {
    const objects = desiredObjects(shop({ services: { payment: { replicas: 2 } } }), { keda: false }).filter((object) => !['HorizontalPodAutoscaler'].includes(object.kind));
    assert.deepEqual(objects.flatMap((object) => schemaProblems(object as Parameters<typeof schemaProblems>[0])), []);
  });
});
