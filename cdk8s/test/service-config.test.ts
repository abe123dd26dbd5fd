/**
 * Each Node service, as the manifests start it, gets an environment its own configuration spec
 * accepts: its ConfigMap, the variables of its container (the Secrets' values stood in for) and
 * nothing else. A key the service does not read (a misspelled knob in `services.<name>.env`, a
 * setting renamed in the service but not here) fails, and so does a required variable missing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateTokenKeys, loadConfig } from '@scaleshop/platform';
import { serviceNames, variablesOf, type ServiceName } from '@scaleshop/platform/topology';
import { defaultConfig, type ShopConfig } from '../src/config.ts';
import { renderManifests } from '../src/render.ts';
import { jwtSecret, rabbitmqUrlSecret } from '../src/secrets.ts';
import { parseManifests, variants, workloads, type K8sObject } from './manifests.ts';

const keys = generateTokenKeys();

/** What a Secret created by scripts/k8s-secrets.sh would hold, in the form the service reads. */
function standIn(secret: string, key: string): string {
  if (secret === jwtSecret.name) return key === jwtSecret.privateKey ? keys.privateKeyPem : keys.publicKeyPem;
  if (secret === rabbitmqUrlSecret.name) return 'amqp://scaleshop:secret@rabbitmq:5672';
  if (secret.endsWith('-database')) return `postgres://postgres:secret@postgres:5432/${secret}`;
  throw new Error(`no stand-in for Secret ${secret}/${key}`);
}

/** The environment a service's container starts with, as the kubelet would assemble it. */
function environmentOf(objects: readonly K8sObject[], service: ServiceName): Record<string, string> {
  const deployment = workloads(objects).find((workload) => workload.kind === 'Deployment' && workload.metadata.name === service);
  assert.ok(deployment, `Deployment ${service}`);
  const container = deployment.spec.template.spec.containers.find((candidate) => candidate.name === service)!;
  const environment: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const configMap = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === source.configMapRef?.name);
    assert.ok(configMap, `${service}: ConfigMap ${source.configMapRef?.name}`);
    Object.assign(environment, (configMap as K8sObject & { data?: Record<string, string> }).data);
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (variable.value !== undefined) environment[variable.name] = variable.value;
    else if (from?.secretKeyRef) environment[variable.name] = standIn(from.secretKeyRef.name, from.secretKeyRef.key);
    else if (from?.fieldRef) environment[variable.name] = `${from.fieldRef.fieldPath} of the pod`;
    else assert.fail(`${service}: ${variable.name} has no value the test understands`);
  }
  return environment;
}

/** Why a service would refuse its environment, or read past part of it; none when all is well. */
function problemsOf(objects: readonly K8sObject[], service: ServiceName): string[] {
  const environment = environmentOf(objects, service);
  const known = variablesOf(service);
  const unknown = Object.keys(environment).filter((key) => !(key in known)).map((key) => `${key} is not a setting of ${service}`);
  try {
    loadConfig(known, environment);
    return unknown;
  } catch (error) {
    return [...unknown, (error as Error).message];
  }
}

for (const variant of variants()) {
  describe(`service configuration: ${variant.name}`, () => {
    for (const service of serviceNames) {
      test(`${service} starts with what its ConfigMap and Secrets give it, and reads every key of them`, () => {
        assert.deepEqual(problemsOf(variant.objects, service), []);
      });
    }
  });
}

describe('the service configuration check', () => {
  const render = (config: ShopConfig) => parseManifests(renderManifests(config));

  test('fails on a key the service does not read', () => {
    const misspelled = { ...defaultConfig, services: { ...defaultConfig.services, cart: { ...defaultConfig.services.cart, env: { PRODUCT_TIMEOUT: '5000' } } } };
    assert.deepEqual(problemsOf(render(misspelled), 'cart'), ['PRODUCT_TIMEOUT is not a setting of cart']);
  });

  test('fails on a value the service refuses', () => {
    const slow = { ...defaultConfig, services: { ...defaultConfig.services, payment: { ...defaultConfig.services.payment, env: { PAYMENT_LATENCY_MS: 'slow' } } } };
    assert.match(problemsOf(render(slow), 'payment').join('\n'), /PAYMENT_LATENCY_MS must be an integer/);
  });

  test('fails when a required variable is missing', () => {
    const objects = render(defaultConfig).map((object) => {
      if (object.kind !== 'Deployment' || object.metadata.name !== 'user') return object;
      const copy = structuredClone(object) as typeof object & { spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string }> }> } } } };
      const container = copy.spec.template.spec.containers[0]!;
      container.env = container.env?.filter((variable) => variable.name !== 'JWT_PRIVATE_KEY');
      return copy;
    });
    assert.deepEqual(problemsOf(objects, 'user'), ['invalid configuration:\n  - JWT_PRIVATE_KEY is required but not set']);
  });
});
