/**
 * `npm run experiment -- --cluster`'s part (scripts/scaling/cluster.ts) against the API server
 * stand-in: it creates the ScalingExperiment, reports the status as it changes, and writes the
 * files of the results ConfigMap. The test plays the operator's part by writing the status.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { runInCluster } from '../../../scripts/scaling/cluster.ts';
import { experimentResults, specWithDefaults } from '../src/experiment/plan.ts';
import { ApiServerStandIn } from './api-server.ts';

const namespace = 'lab';
const experiments = `scaleshop.dev/v1alpha1/${namespace}/scalingexperiments`;

/** An API server stand-in, a kubeconfig for it, a folder for the results and the lines the CLI prints. */
async function standIn() {
  const server = new ApiServerStandIn();
  const url = await server.start();
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({ clusters: [{ name: 's', server: url, skipTLSVerify: true }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 's', cluster: 's', user: 'u' }], currentContext: 's' });
  return { server, kubeConfig, out: join(mkdtempSync(join(tmpdir(), 'cluster-experiment-')), 'results'), lines: [] as string[] };
}

test('--cluster: creates the experiment, follows its status, and writes results.json and report.md from its ConfigMap', async () => {
  const { server, kubeConfig, out, lines } = await standIn();
  try {
    const finished = runInCluster({
      kubeConfig,
      namespace,
      name: 'payment-1',
      spec: { target: { shop: 'demo', service: 'payment' }, replicas: [1, 2], scenario: 'buyer', load: { search: { startRate: 4, factor: 1.5, maxRuns: 8 } }, slo: { p99Ms: 1000, maxErrorRate: 0.01 }, warmupSeconds: 5, durationSeconds: 20, repeats: 1 },
      out,
      log: (line) => lines.push(line),
      pollMs: 20,
    });
    const until = async (what: string, condition: () => boolean) => {
      const deadline = Date.now() + 30_000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${lines.join(' | ')}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    await until('the experiment', () => lines.includes('Pending'));
    const created = server.get(experiments, 'payment-1')!;
    assert.equal(created.spec.target.service, 'payment');
    assert.deepEqual(created.spec.replicas, [1, 2]);
    const condition = (type: string, message: string) => ({ type, status: 'True', lastTransitionTime: '2026-12-01T00:00:00Z', reason: 'R', message });
    server.write(experiments, { metadata: { name: 'payment-1' }, status: { phase: 'Running', stepsDone: '1/2', conditions: [condition('Running', 'k6 buyer at 6/s against 2 replicas')] } }, 'operator');
    await until('the step reported', () => lines.includes('Running 1/2: k6 buyer at 6/s against 2 replicas'));
    server.write(
      `v1/${namespace}/configmaps`,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'payment-1-results', namespace }, data: { 'results.json': '{"service":"payment"}\n', 'report.md': '# payment\n', 'throughput.svg': '<svg>X</svg>', 'latency.svg': '<svg>p99</svg>' } },
      'operator',
    );
    server.write(experiments, { metadata: { name: 'payment-1' }, status: { phase: 'Succeeded', stepsDone: '2/2', resultsConfigMap: 'payment-1-results', conditions: [condition('Complete', '4 runs at 1, 2 replicas')] } }, 'operator');
    assert.deepEqual(await finished, { phase: 'Succeeded', message: '4 runs at 1, 2 replicas' });
    assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), '{"service":"payment"}\n');
    assert.equal(readFileSync(join(out, 'report.md'), 'utf8'), '# payment\n');
    assert.equal(readFileSync(join(out, 'throughput.svg'), 'utf8'), '<svg>X</svg>');
    assert.equal(readFileSync(join(out, 'latency.svg'), 'utf8'), '<svg>p99</svg>');
    assert.deepEqual(lines, ['created ScalingExperiment lab/payment-1', 'Pending', 'Running 1/2: k6 buyer at 6/s against 2 replicas', 'Succeeded 2/2', `written to ${out}: results.json, report.md, throughput.svg, latency.svg`]);
  } finally {
    await server.stop();
  }
});

test('--cluster: a results ConfigMap without the charts (left out past 1 MiB) gets them drawn here from its results.json', async () => {
  const { server, kubeConfig, out, lines } = await standIn();
  const spec = specWithDefaults({ target: { shop: 'demo', service: 'payment' }, replicas: [1, 2, 4], scenario: 'buyer', load: { rates: [10] } });
  const runs = [1, 2, 4].map((replicas) => ({ replicas, repeat: 0, rate: 10, throughput: 9 * replicas ** 0.8, p50Ms: 300, p99Ms: 900, errorRate: 0, generatorSaturated: false, thresholdsOk: true, holds: true, job: `j${replicas}` }));
  const { results, report } = experimentResults(spec, runs, { image: 'scaleshop/payment:1', coresPerReplica: 0.5, knobs: {}, startedAt: '2026-12-01T00:00:00Z', finishedAt: '2026-12-01T00:10:00Z' });
  try {
    server.write(`v1/${namespace}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'payment-2-results', namespace }, data: { 'results.json': JSON.stringify(results), 'report.md': report } }, 'operator');
    const finished = runInCluster({ kubeConfig, namespace, name: 'payment-2', spec: { ...spec }, out, log: (line) => lines.push(line), pollMs: 20 });
    const deadline = Date.now() + 30_000;
    while (!server.get(experiments, 'payment-2') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    server.write(experiments, { metadata: { name: 'payment-2' }, status: { phase: 'Succeeded', stepsDone: '3/3', resultsConfigMap: 'payment-2-results', conditions: [] } }, 'operator');
    assert.equal((await finished).phase, 'Succeeded');
    assert.match(readFileSync(join(out, 'throughput.svg'), 'utf8'), /^<svg[\s\S]*payment: throughput against replicas[\s\S]*<\/svg>$/);
    assert.match(readFileSync(join(out, 'latency.svg'), 'utf8'), /^<svg[\s\S]*payment: p99 against offered load/);
    assert.match(lines.at(-1)!, /the charts drawn here from results\.json: the ConfigMap had none/);
  } finally {
    await server.stop();
  }
});

