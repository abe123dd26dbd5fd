/**
 * What the chart ships and the operator renders for ScalingExperiments, checked offline: the
 * generated files are current, the CRD and every rendered object pass the Kubernetes schemas
 * strictly (a misspelled field fails), and the scripts' ConfigMap holds every file an entry
 * point imports, at the path k6 will look for it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { experimentCrdFile, loadtestScripts, loadtestsConfigMapFile, renderExperimentCrd, renderLoadtestsConfigMap } from '@scaleshop/cdk8s/src/experiment-chart.ts';
import { scenarioNames } from '../../../loadtests/lib/runtime.ts';
import { schemaProblems } from '@scaleshop/cdk8s/test/kube-schema.ts';
import { repositoryRoot } from '@scaleshop/cdk8s/test/manifests.ts';
import { specWithDefaults } from '../src/experiment/plan.ts';
import { k6Job, k6NetworkPolicy, resultsConfigMap, scriptItems, type Experiment } from '../src/experiment/render.ts';
import { helm } from './helm.ts';

const experiment: Experiment = {
  apiVersion: 'scaleshop.dev/v1alpha1',
  kind: 'ScalingExperiment',
  metadata: { name: 'payment-sweep', namespace: 'scaleshop', uid: '0a1b2c3d-0000-4000-8000-000000000000' },
  spec: specWithDefaults({ target: { shop: 'demo', service: 'payment' }, replicas: [1, 2, 4, 8], scenario: 'buyer', load: { search: { startRate: 4 } } }),
};

describe('ScalingExperiment: the chart and the rendered objects', () => {
  test('the CRD and the scripts ConfigMap are not stale: npm run synth writes them', () => {
    assert.ok(readFileSync(join(repositoryRoot, experimentCrdFile), 'utf8') === renderExperimentCrd(), `${experimentCrdFile} is stale: run npm run synth`);
    assert.ok(readFileSync(join(repositoryRoot, loadtestsConfigMapFile), 'utf8') === renderLoadtestsConfigMap(repositoryRoot), `${loadtestsConfigMapFile} is stale: run npm run synth`);
  });

  test('the CRD: structural (every node typed), and each printer column reads a field its schema has, of the column’s type', () => {
    const crd = parseAllDocuments(renderExperimentCrd())[0]!.toJS();
    const version = crd.spec.versions[0];
    const untyped: string[] = [];
    const walk = (node: Record<string, any>, path: string) => {
      if (!node.type) untyped.push(path);
      for (const [key, child] of Object.entries(node.properties ?? {})) walk(child as Record<string, any>, `${path}.${key}`);
      if (node.items) walk(node.items, `${path}[]`);
    };
    walk(version.schema.openAPIV3Schema, '');
    assert.deepEqual(untyped, []);
    const columns = version.additionalPrinterColumns as { name: string; type: string; jsonPath: string }[];
    assert.deepEqual(columns.map((column) => column.name), ['Service', 'Phase', 'Steps', 'Sigma', 'Kappa', 'E(max N)', 'Age']);
    for (const column of columns.filter((candidate) => !candidate.jsonPath.startsWith('.metadata'))) {
      const node = column.jsonPath.split('.').slice(1).reduce((schema: Record<string, any> | undefined, key) => schema?.properties?.[key], version.schema.openAPIV3Schema);
      assert.equal(node?.type, column.type, column.jsonPath);
    }
  });

  test('the k6 Job (with its warm-up), the NetworkPolicy and the results ConfigMap pass the Kubernetes schemas strictly', () => {
    const job = k6Job(experiment, { replicas: 4, repeat: 0, rate: 12.5 }, 'payment-sweep-n4-3-0', Object.keys(loadtestScripts(repositoryRoot)));
    const results = resultsConfigMap(experiment, { resultsJson: '{}', reportMd: '# r' }, { 'throughput.svg': '<svg></svg>', 'latency.svg': '<svg></svg>' });
    assert.ok(results.kind === 'fits');
    for (const object of [job, k6NetworkPolicy(experiment), results.object]) {
      assert.deepEqual(schemaProblems(object as Parameters<typeof schemaProblems>[0]), [], object.kind);
    }
    const pod = (job as unknown as { spec: { template: { spec: { initContainers: { name: string; env: { name: string; value: string }[] }[] } } } }).spec.template.spec;
    assert.equal(pod.initContainers[0]!.name, 'warmup');
    assert.ok(pod.initContainers[0]!.env.some((variable) => variable.name === 'DURATION' && variable.value === '10s'));
  });

  test('a misspelled field in a rendered Job fails the check', () => {
    const job = k6Job(experiment, { replicas: 1, repeat: 0, rate: 4 }, 'x', ['buyer.ts']) as unknown as { spec: Record<string, unknown> };
    assert.notDeepEqual(schemaProblems({ ...job, spec: { ...job.spec, backofLimit: 0 } } as unknown as Parameters<typeof schemaProblems>[0]), []);
  });

  test('the scripts ConfigMap, mounted with its items, holds every file each entry point imports', () => {
    const chartMap = parseAllDocuments(readFileSync(join(repositoryRoot, loadtestsConfigMapFile), 'utf8').replace('{{ .Release.Namespace }}', 'scaleshop'))[0]!.toJS();
    const files = new Map(scriptItems(Object.keys(chartMap.data)).map((item) => [item.path, chartMap.data[item.key] as string]));
    const missing: string[] = [];
    const visit = (path: string, seen: Set<string>) => {
      if (seen.has(path)) return;
      seen.add(path);
      const source = files.get(path);
      if (source === undefined) return void missing.push(path);
      for (const [, specifier] of source.matchAll(/from '(\.{1,2}\/[^']+)'/g)) visit(normalize(join(dirname(path), specifier!)), seen);
    };
    for (const scenario of scenarioNames) visit(`${scenario}.ts`, new Set());
    assert.deepEqual(missing, []);
    assert.equal(files.get('lib/summary.ts'), readFileSync(join(repositoryRoot, 'loadtests/lib/summary.ts'), 'utf8'));
  });

  test('helm template renders the scripts ConfigMap in the release namespace', () => {
    const result = helm(['template', 'scaleshop', 'charts/scaleshop', '--namespace', 'shop-a']);
    assert.equal(result.status, 0, result.stderr);
    const configMap = parseAllDocuments(result.stdout).map((document) => document.toJS()).find((object) => object?.kind === 'ConfigMap' && object.metadata.name === 'loadtests');
    assert.equal(configMap.metadata.namespace, 'shop-a');
    assert.deepEqual(schemaProblems(configMap), []);
  });
});
