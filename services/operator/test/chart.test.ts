import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { defaultConfig } from '@scaleshop/cdk8s/src/config.ts';
import { externalSecrets } from '@scaleshop/cdk8s/src/secrets.ts';
import { crdFile, renderCrd, renderValuesSchema, valuesSchemaFile } from '@scaleshop/cdk8s/src/helm-chart.ts';
import { schemaProblems } from '@scaleshop/cdk8s/test/kube-schema.ts';
import { allContainers, repositoryRoot, type Workload } from '@scaleshop/cdk8s/test/manifests.ts';
import { restrictedViolations } from '@scaleshop/cdk8s/test/restricted.ts';
import { shopProblems } from '../src/desired.ts';
import { helm } from './helm.ts';

const chart = 'charts/scaleshop';

function template(...extra: string[]) {
  const result = helm(['template', 'scaleshop', chart, '--namespace', 'scaleshop', ...extra]);
  assert.equal(result.status, 0, result.stderr);
  return parseAllDocuments(result.stdout)
    .map((document) => document.toJS() as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [key: string]: unknown } | null)
    .filter((object) => object !== null);
}

describe('the Helm chart (real helm)', () => {
  test('the operator may read exactly the Secrets a Shop references, whichever Postgres layout it has', () => {
    const role = template().find((object) => object.kind === 'Role' && object.metadata.name === 'scaleshop-operator') as unknown as { rules: { resources: string[]; verbs: string[]; resourceNames?: string[] }[] };
    const secretRules = role.rules.filter((rule) => rule.resources.includes('secrets'));
    const names = [true, false].flatMap((sharedPostgres) => externalSecrets({ ...defaultConfig, infrastructure: { ...defaultConfig.infrastructure, sharedPostgres } }).map((secret) => secret.name));
    assert.deepEqual(secretRules.map((rule) => ({ verbs: rule.verbs, names: rule.resourceNames?.slice().sort() })), [
      { verbs: ['get'], names: [...new Set(names)].sort() },
      { verbs: ['create'], names: undefined },
    ]);
  });

  test('its generated files are not stale: npm run synth writes the CRD and values.schema.json', () => {
    assert.ok(readFileSync(join(repositoryRoot, crdFile), 'utf8') === renderCrd(), `${crdFile} is stale: run npm run synth`);
    assert.ok(readFileSync(join(repositoryRoot, valuesSchemaFile), 'utf8') === renderValuesSchema(), `${valuesSchemaFile} is stale: run npm run synth`);
  });

  test('helm lint --strict is clean', () => {
    const result = helm(['lint', '--strict', chart]);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test('helm template: the operator, its RBAC and the Shop, every object valid against the Kubernetes schemas', () => {
    const objects = template();
    assert.deepEqual(objects.map((object) => `${object.kind}/${object.metadata.name}`).sort(), [
      'ConfigMap/loadtests',
      'Deployment/scaleshop-operator',
      'Role/scaleshop-operator',
      'Role/scaleshop-operator-experiments',
      'RoleBinding/scaleshop-operator',
      'RoleBinding/scaleshop-operator-experiments',
      'ServiceAccount/scaleshop-operator',
      'Shop/scaleshop',
    ]);
    for (const object of objects.filter((candidate) => candidate.kind !== 'Shop')) {
      assert.deepEqual(schemaProblems(object as Parameters<typeof schemaProblems>[0]), [], object.kind);
      assert.equal(object.metadata.namespace, 'scaleshop');
    }
    const shop = objects.find((object) => object.kind === 'Shop');
    assert.deepEqual(shop?.spec, {});
  });

  test('--include-crds adds the CRD from crds/', () => {
    const kinds = template('--include-crds').map((object) => object.kind);
    assert.ok(kinds.includes('CustomResourceDefinition'));
  });

  test('the operator Deployment: Pod Security restricted, requests, limits and three probes, one replica, Recreate', () => {
    const deployment = template().find((object) => object.kind === 'Deployment') as unknown as Workload & { spec: { strategy: { type: string } } };
    assert.equal(deployment.spec.replicas, 1);
    assert.equal(deployment.spec.strategy.type, 'Recreate');
    for (const values of [[], ['--set', 'operator.liveUpdate=true']]) {
      const pod = (template(...values).find((object) => object.kind === 'Deployment') as unknown as Workload).spec.template.spec;
      assert.deepEqual(restrictedViolations(pod), [], values.join(' '));
      for (const { container, init } of allContainers(pod)) {
        assert.equal(container.securityContext?.readOnlyRootFilesystem, true, container.name);
        const { requests = {}, limits = {} } = container.resources ?? {};
        assert.ok(requests.cpu && requests.memory && limits.cpu && limits.memory, `${container.name}: requests and limits`);
        if (!init) assert.ok(container.readinessProbe && container.livenessProbe && container.startupProbe, `${container.name}: probes`);
      }
    }
  });

  test('the Shop takes its spec from .Values.shop, and it is a valid Shop', () => {
    const shop = template('--set', 'shop.logLevel=debug', '--set', 'shop.services.payment.replicas=3').find((object) => object.kind === 'Shop');
    assert.deepEqual(shop?.spec, { logLevel: 'debug', services: { payment: { replicas: 3 } } });
    assert.deepEqual(shopProblems(shop), []);
  });

  test('values.schema.json rejects typos and bad values, in the Shop and in the operator', () => {
    for (const [set, fragment] of [
      ['shop.logLevl=debug', "additional properties 'logLevl' not allowed"],
      ['shop.services.payment.replicaz=2', "additional properties 'replicaz' not allowed"],
      ['shop.logLevel=loud', 'logLevel'],
      ['operator.imag.tag=x', "additional properties 'imag' not allowed"],
    ] as const) {
      const result = helm(['template', 'scaleshop', chart, '--set', set]);
      assert.notEqual(result.status, 0, set);
      assert.ok(result.stderr.includes(fragment), `${set}: ${result.stderr}`);
    }
  });
});
