import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { schemaProblems } from './kube-schema.ts';
import { objectId, parseManifests, readCommittedManifests, variants, type K8sObject } from './manifests.ts';

describe('Kubernetes API schemas (kubernetes-models, strict about unknown fields)', () => {
  for (const variant of variants()) {
    test(`every object validates: ${variant.name}`, () => {
      const problems = variant.objects.flatMap((object) => schemaProblems(object));
      assert.deepEqual(problems, []);
      assert.ok(variant.objects.length > 10);
    });
  }

  const committed = parseManifests(readCommittedManifests());
  const copyOf = (kind: string, name: string): K8sObject => {
    const object = committed.find((candidate) => candidate.kind === kind && candidate.metadata.name === name);
    assert.ok(object, `${kind}/${name} exists`);
    return structuredClone(object);
  };

  test('a misspelled field is caught: spec.template.spec.containers[0].imagePulPolicy', () => {
    const deployment = copyOf('Deployment', 'payment') as K8sObject & { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    const container = deployment.spec.template.spec.containers[0]!;
    container.imagePulPolicy = container.imagePullPolicy;
    delete container.imagePullPolicy;
    assert.deepEqual(schemaProblems(deployment), ['Deployment/payment.spec.template.spec.containers[0].imagePulPolicy: unknown field']);
  });

  test('misspellings anywhere are caught, with their path', () => {
    const service = copyOf('Service', 'gateway') as K8sObject & { spec: Record<string, unknown> };
    service.spec.selecter = service.spec.selector;
    assert.deepEqual(schemaProblems(service), ['Service/gateway.spec.selecter: unknown field']);

    const policy = copyOf('NetworkPolicy', 'allow-order') as K8sObject & { spec: { ingress: Record<string, unknown>[] } };
    policy.spec.ingress[0]!.form = policy.spec.ingress[0]!.from;
    assert.deepEqual(schemaProblems(policy), ['NetworkPolicy/allow-order.spec.ingress[0].form: unknown field']);

    const statefulSet = copyOf('StatefulSet', 'rabbitmq') as K8sObject & { spec: { template: { spec: { securityContext: Record<string, unknown> } } } };
    statefulSet.spec.template.spec.securityContext.runAsNonroot = true;
    assert.deepEqual(schemaProblems(statefulSet), ['StatefulSet/rabbitmq.spec.template.spec.securityContext.runAsNonroot: unknown field']);

    const namespace = copyOf('Namespace', 'scaleshop') as K8sObject & { metadata: Record<string, unknown> };
    namespace.metadata.label = { a: 'b' };
    assert.deepEqual(schemaProblems(namespace), ['Namespace/scaleshop.metadata.label: unknown field']);
  });

  test('labels and other maps accept any key', () => {
    const deployment = copyOf('Deployment', 'cart');
    deployment.metadata.labels = { ...deployment.metadata.labels, 'example.com/anything-goes': 'yes' };
    assert.deepEqual(schemaProblems(deployment), []);
  });

  test('wrong types and missing required fields are caught', () => {
    const deployment = copyOf('Deployment', 'user') as K8sObject & { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    deployment.spec.template.spec.containers[0]!.imagePullPolicy = 'Sometimes';
    assert.match(schemaProblems(deployment).join('\n'), /imagePullPolicy/);

    const service = copyOf('Service', 'cart') as K8sObject & { spec: { ports: Record<string, unknown>[] } };
    delete service.spec.ports[0]!.port;
    assert.match(schemaProblems(service).join('\n'), /port/);
  });

  test('an unknown kind is reported, not skipped', () => {
    assert.deepEqual(schemaProblems({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }), ['no schema for apiVersion example.com/v1 kind Widget']);
  });

  test('every kind in k8s/ has a schema', () => {
    const kinds = [...new Set(committed.map((object) => `${object.apiVersion} ${object.kind}`))].sort();
    assert.deepEqual(kinds, ['apps/v1 Deployment', 'apps/v1 StatefulSet', 'networking.k8s.io/v1 NetworkPolicy', 'v1 ConfigMap', 'v1 Namespace', 'v1 Service']);
    assert.ok(committed.every((object) => schemaProblems(object).length === 0), committed.map(objectId).join(', '));
  });
});

describe('the Shop spec’s fault knobs', () => {
  test('have the bounds of the runtime knobs they set, so that a valid Shop never writes a file the services refuse', async () => {
    const { faultKnobs } = await import('@scaleshop/platform');
    const { shopSpecSchema } = await import('../src/config.ts');
    const latency = (shopSpecSchema as unknown as { properties: { latency: { properties: Record<string, { minimum: number; maximum: number }> } } }).properties.latency.properties;
    const bounds = (schema: { minimum: number; maximum: number } | undefined) => [schema?.minimum, schema?.maximum];
    assert.deepEqual(bounds(latency.paymentLatencyMs), [faultKnobs.payment.latency_ms.min, faultKnobs.payment.latency_ms.max]);
    assert.deepEqual(bounds(latency.paymentFailureRate), [faultKnobs.payment.failure_rate.min, faultKnobs.payment.failure_rate.max]);
    assert.deepEqual(bounds(latency.emailLatencyMs), [faultKnobs.email.latency_ms.min, faultKnobs.email.latency_ms.max]);
  });
});
