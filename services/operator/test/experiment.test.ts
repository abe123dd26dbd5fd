/**
 * The ScalingExperiment loop against the API server stand-in (api-server.ts), over HTTP with the
 * operator's real client code. The tests play the cluster's other parts: the Deployment
 * controller (ready replicas follow spec.replicas), the Job controller and k6 (a pod per Job
 * whose log ends with a summary these tests write, and an exit code). At the end every request
 * the experiment loop made is checked against the chart's experiments Role.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { createLogger } from '@scaleshop/platform';
import { experimentFieldManager, ExperimentOperator } from '../src/experiment/controller.ts';
import { k6Image } from '../src/experiment/render.ts';
import { ApiServerStandIn, type RecordedRequest } from './api-server.ts';
import { helm } from './helm.ts';
import { chartRole, noRbacProblems, rbacProblems } from './rbac.ts';

const namespace = 'scaleshop';
const shops = `scaleshop.dev/v1alpha1/${namespace}/shops`;
const experiments = `scaleshop.dev/v1alpha1/${namespace}/scalingexperiments`;
const deployments = `apps/v1/${namespace}/deployments`;
const jobs = `batch/v1/${namespace}/jobs`;
const pods = `v1/${namespace}/pods`;
const configMaps = `v1/${namespace}/configmaps`;
const token = 'the-experiment-operators-token';
const allRequests: RecordedRequest[] = [];

/** What a fake k6 does for a Job: finish with a summary and an exit code, crash, fail to pull, or keep running. */
type K6Behaviour = { exitCode: number; throughput: number; p99: number } | { crash: number } | { waiting: string } | 'hang';

/** A k6 summary as the scripts print it (loadtests/lib/summary.ts), for the browse journey at 20/s for 5 s. */
function summaryLine(throughput: number, p99: number): string {
  const count = Math.round(throughput * 5);
  const row = (n: number) => ({ count: n, rate: n / 5, p50: 10, p90: 20, p99, max: p99 * 2, errors: 0 });
  const summary = {
    scenario: 'browse',
    generator: 'k6',
    base_url: 'http://gateway',
    rate: 20,
    duration_s: 5,
    elapsed_s: 5,
    iterations: count,
    dropped_iterations: 0,
    requests: { 'GET /api/products': row(count - Math.floor(count / 2)), 'GET /api/products/:id': row(Math.floor(count / 2)) },
    saga_completion: null,
    checks: { passed: count, failed: 0, by_name: {} },
    thresholds: [{ metric: 'http_req_duration{name:GET /api/products/:id}', threshold: 'p(99)<250', ok: p99 < 250 }],
    thresholds_ok: p99 < 250,
  };
  return `running (0m05.0s), 00/10 VUs, ${count} complete\nscaleshop-summary ${JSON.stringify(summary)}\n`;
}

interface Harness {
  server: ApiServerStandIn;
  operator: ExperimentOperator;
  /** Decides what each new Job's k6 does. */
  behaviour: (job: Record<string, any>) => K6Behaviour;
  /** At most this many replicas of a Deployment turn ready (pods whose readiness probe fails beyond it); unset, all do. */
  readyAtMost?: number;
  stop(): Promise<void>;
}

async function startHarness(behaviour: (job: Record<string, any>) => K6Behaviour): Promise<Harness> {
  const server = new ApiServerStandIn();
  const url = await server.start();
  server.write(shops, { apiVersion: 'scaleshop.dev/v1alpha1', kind: 'Shop', metadata: { name: 'demo', namespace }, spec: {} }, 'kubectl');
  // As the Shop operator applies it: no replicas field, so one pod.
  server.write(
    deployments,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'product', namespace },
      spec: { template: { spec: { containers: [{ name: 'product', image: 'scaleshop/product:abc123', resources: { limits: { cpu: '500m' } }, env: [{ name: 'PRODUCT_CACHE', value: 'off' }] }] } } },
      status: { replicas: 1, readyReplicas: 1, updatedReplicas: 1, observedGeneration: 1 },
    },
    'scaleshop-operator',
  );
  server.write(
    deployments,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'payment', namespace },
      spec: { template: { spec: { containers: [{ name: 'payment', image: 'scaleshop/payment:abc123', resources: { limits: { cpu: '500m' } } }] } } },
      status: { replicas: 1, readyReplicas: 1, updatedReplicas: 1, observedGeneration: 1 },
    },
    'scaleshop-operator',
  );
  server.write(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'loadtests', namespace }, data: { 'browse.ts': '// entry', 'k6__script.ts': '// k6', 'lib__summary.ts': '// lib' } }, 'helm');
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'stand-in', server: url, skipTLSVerify: true }],
    users: [{ name: 'operator', token }],
    contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'operator', namespace }],
    currentContext: 'stand-in',
  });
  const operator = new ExperimentOperator({ kubeConfig, namespace, logger: createLogger({ service: 'operator', level: 'silent' }), backoff: { baseMs: 50, maxMs: 1000 }, pollMs: 30, loadPollMs: 30, informerRestartMs: 50 });
  const harness: Harness = {
    server,
    operator,
    behaviour,
    async stop() {
      clearInterval(cluster);
      await operator.stop();
      await server.stop();
      allRequests.push(...server.requests);
    },
  };
  // The rest of the cluster, every 20 ms.
  const cluster = setInterval(() => {
    for (const deployment of server.list(deployments)) {
      const replicas = deployment.spec?.replicas ?? 1;
      const ready = Math.min(replicas, harness.readyAtMost ?? replicas);
      if (deployment.status?.readyReplicas !== ready || deployment.status?.replicas !== replicas || deployment.status?.observedGeneration !== deployment.metadata.generation) {
        server.write(deployments, { metadata: { name: deployment.metadata.name }, status: { replicas, readyReplicas: ready, updatedReplicas: replicas, observedGeneration: deployment.metadata.generation } }, 'kube-controller-manager');
      }
    }
    for (const job of server.list(jobs)) {
      const podName = `${job.metadata.name}-pod`;
      if (server.get(pods, podName) || job.status?.conditions) continue;
      const what = harness.behaviour(job);
      if (what === 'hang') {
        server.write(pods, podOf(job, podName, { running: {} }), 'kubelet');
        continue;
      }
      if ('waiting' in what) {
        server.write(pods, podOf(job, podName, { waiting: { reason: what.waiting, message: `Back-off pulling image "${k6Image}"` } }), 'kubelet');
        continue;
      }
      const exitCode = 'crash' in what ? what.crash : what.exitCode;
      server.write(pods, podOf(job, podName, { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' } }), 'kubelet');
      server.podLogs.set(`${pods}/${podName}`, 'crash' in what ? 'panic: runtime error\n' : summaryLine(what.throughput, what.p99));
      const condition = exitCode === 0 ? { type: 'Complete', status: 'True' } : { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
      server.write(jobs, { metadata: { name: job.metadata.name }, status: { conditions: [condition] } }, 'kube-controller-manager');
    }
  }, 20);
  await operator.start();
  return harness;
}

/** Runs a test against a harness of its own, stopped whatever the test's outcome. */
async function withHarness(behaviour: Harness['behaviour'], body: (harness: Harness) => Promise<void>): Promise<void> {
  const harness = await startHarness(behaviour);
  try {
    await body(harness);
  } finally {
    await harness.stop();
  }
}

function podOf(job: Record<string, any>, name: string, state: Record<string, unknown>) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { 'batch.kubernetes.io/job-name': job.metadata.name }, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, controller: true }] },
    status: { containerStatuses: [{ name: 'k6', state }] },
  };
}

function experiment(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'scaleshop.dev/v1alpha1',
    kind: 'ScalingExperiment',
    metadata: { name, namespace, creationTimestamp: new Date().toISOString() },
    spec: { target: { shop: 'demo', service: 'product' }, replicas: [1, 2, 4], scenario: 'browse', load: { rates: [20] }, warmupSeconds: 0, durationSeconds: 5, settleSeconds: 0, ...spec },
  };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const statusOf = (server: ApiServerStandIn, name: string) => server.get(experiments, name)?.status ?? {};
const conditionOf = (server: ApiServerStandIn, name: string, type: string) => statusOf(server, name).conditions?.find((condition: { type: string }) => condition.type === type);
/** The replica counts the operator set through the scale subresource, in order. */
const scaleWrites = (server: ApiServerStandIn) => server.requests.filter((request) => request.token === token && request.resource === 'deployments/scale' && request.method === 'PATCH');

// X(N) of the fake k6: a USL curve with σ = 0.05, κ = 0.01 (λ = 100).
const capacity = (n: number) => (100 * n) / (1 + 0.05 * (n - 1) + 0.01 * n * (n - 1));
const replicasOfJob = (job: Record<string, any>) => Number(/-n(\d+)-/.exec(job.metadata.name)![1]);

describe('ScalingExperiment against an API server stand-in', () => {
  test('a consumer service: no k6 Job until all N replicas are ready, which for payment means N consumers attached', async () => {
    await withHarness(() => ({ exitCode: 0, throughput: 40, p99: 60 }), async (harness) => {
      const { server } = harness;
      // One of the two new pods stays unready: its consumer has not attached (payment's readiness waits for it).
      harness.readyAtMost = 1;
      server.write(experiments, experiment('consumers', { target: { shop: 'demo', service: 'payment' }, replicas: [2], settleSeconds: 1 }), 'kubectl');
      await waitFor('the scale change', () => server.get(deployments, 'payment')?.spec.replicas === 2);
      await waitFor('the operator to see 1 of 2 ready', () => /1 ready/.test(conditionOf(server, 'consumers', 'Running')?.message ?? ''));
      // Long enough for many polls (every 30 ms here): still no Job, still Scaling.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(server.list(jobs).length, 0, 'no load while a replica is not ready');
      assert.equal(statusOf(server, 'consumers').currentStep?.stage, 'Scaling');
      assert.equal(conditionOf(server, 'consumers', 'Running')?.message, 'scaling payment to 2: 1 ready, 2 updated');

      harness.readyAtMost = undefined;
      await waitFor('the settle time', () => conditionOf(server, 'consumers', 'Running')?.reason === 'Settling');
      assert.equal(conditionOf(server, 'consumers', 'Running')?.message, '2 replicas of payment ready, each with its consumers attached (its readiness includes them); settling for 1 s');
      assert.equal(server.list(jobs).length, 0, 'the settle time comes first');
      await waitFor('the k6 Job', () => server.list(jobs).length === 1);
      await waitFor('the experiment to succeed', () => statusOf(server, 'consumers').phase === 'Succeeded');
      assert.equal(server.get(deployments, 'payment')?.spec.replicas, 1, 'restored');
    });
  });

  test('a full run: for each N a scale change and a Job; the status gets the points and the fit, the results a ConfigMap, and the replicas come back', async () => {
    // At N = 4 the summary breaks the script's thresholds and k6 exits 99: data, not a failure.
    await withHarness((job) => {
      const n = replicasOfJob(job);
      return n === 4 ? { exitCode: 99, throughput: capacity(4), p99: 400 } : { exitCode: 0, throughput: capacity(n), p99: 60 };
    }, async ({ server }) => {
    server.write(experiments, experiment('sweep'), 'kubectl');
    await waitFor('the experiment to succeed', () => statusOf(server, 'sweep').phase === 'Succeeded');
    const status = statusOf(server, 'sweep');

    assert.deepEqual(scaleWrites(server).map((request) => request.query.fieldManager), Array(4).fill(experimentFieldManager));
    assert.equal(server.get(deployments, 'product')?.spec.replicas, 1, 'restored to what it had');
    assert.equal(server.replicasManagerOf(deployments, 'product'), experimentFieldManager);
    const created = server.requests.filter((request) => request.token === token && request.resource === 'jobs' && request.verb === 'create');
    assert.equal(created.length, 3);

    assert.equal(status.originalReplicas, 1);
    assert.equal(status.stepsDone, '3/3');
    assert.deepEqual(status.runs.map((run: { replicas: number; thresholdsOk: boolean }) => [run.replicas, run.thresholdsOk]), [[1, true], [2, true], [4, false]]);
    // X(N) = count / 5 s with count = round(5 · capacity(N)): 200/1.07 = 186.9 → 935 → 187; 400/1.27 = 315.0 → 1575 → 315.
    assert.deepEqual(status.points.map((point: { throughput: number }) => point.throughput), [100, 187, 315]);
    // E(4) = 315 / (4 · 100).
    assert.equal(status.efficiencyAtLargest, '0.79');
    assert.ok(status.usl.sigma >= 0 && status.usl.kappa >= 0 && status.usl.r2 > 0.99);
    assert.equal(status.currentStep, undefined);
    assert.equal(conditionOf(server, 'sweep', 'Complete')?.status, 'True');
    assert.equal(conditionOf(server, 'sweep', 'Running')?.status, 'False');

    const results = server.get(configMaps, 'sweep-results');
    assert.equal(status.resultsConfigMap, 'sweep-results');
    assert.equal(results?.metadata.ownerReferences[0].uid, server.get(experiments, 'sweep')?.metadata.uid);
    const parsed = JSON.parse(results!.data['results.json']);
    assert.equal(parsed.service, 'product');
    assert.deepEqual(parsed.points.map((point: { replicas: number }) => point.replicas), [1, 2, 4]);
    assert.equal(parsed.conditions.commit, 'scaleshop/product:abc123');
    assert.equal(parsed.conditions.cores, 0.5);
    assert.deepEqual(parsed.conditions.knobs, { PRODUCT_CACHE: 'off' });
    assert.match(results!.data['report.md'], /^# product: browse, 1, 2, 4 replicas/);
    // The charts a local run writes beside them, under the names report.md links.
    assert.deepEqual(Object.keys(results!.data).sort(), ['latency.svg', 'report.md', 'results.json', 'throughput.svg']);
    assert.match(results!.data['report.md'], /!\[throughput\]\(throughput\.svg\)/);
    assert.match(results!.data['throughput.svg'], /^<svg[^>]*>[\s\S]*product: throughput against replicas[\s\S]*<\/svg>$/);
    assert.match(results!.data['latency.svg'], /^<svg[^>]*>[\s\S]*product: p99 against offered load[\s\S]*<\/svg>$/);
    const bytes = Object.entries(results!.data as Record<string, string>).map(([key, value]) => [key, Buffer.byteLength(key) + Buffer.byteLength(value)] as const);
    const total = bytes.reduce((sum, [, size]) => sum + size, 0);
    console.log(`results ConfigMap of 3 steps: ${bytes.map(([key, size]) => `${key} ${size} B`).join(', ')}; ${total} B of the 1 MiB limit`);
    assert.ok(total < 1024 * 1024 / 4, 'far below the limit');

    // The Job as rendered: the pinned image, the scripts mounted by path, the summary asked for on stdout.
    const job = server.list(jobs)[0]!;
    const container = job.spec.template.spec.containers[0];
    assert.equal(container.image, k6Image);
    assert.match(k6Image, /^docker\.io\/grafana\/k6:[\d.]+@sha256:[0-9a-f]{64}$/);
    assert.deepEqual(container.args, ['run', '--no-color', '/scripts/browse.ts']);
    assert.ok(container.env.some((variable: { name: string; value: string }) => variable.name === 'SUMMARY_STDOUT' && variable.value === 'json'));
    assert.deepEqual(
      job.spec.template.spec.volumes[0].configMap.items.map((item: { path: string }) => item.path),
      ['browse.ts', 'k6/script.ts', 'lib/summary.ts'],
    );
    assert.equal(job.spec.backoffLimit, 0);
    assert.ok(server.get(`networking.k8s.io/v1/${namespace}/networkpolicies`, 'sweep-k6'));
    });
  });

  test('what an experiment of 4 steps creates, and the requests it costs the operator (printed for the docs)', async () => {
    await withHarness((job) => ({ exitCode: 0, throughput: capacity(replicasOfJob(job)), p99: 60 }), async ({ server }) => {
      server.write(experiments, experiment('four', { replicas: [1, 2, 4, 8] }), 'kubectl');
      await waitFor('the experiment to succeed', () => statusOf(server, 'four').phase === 'Succeeded');
      const mine = server.requests.filter((request) => request.token === token);
      const created = (resource: string) => mine.filter((request) => request.resource === resource && request.verb === 'create').length;
      // Server-side apply of an object that does not exist yet is authorized as create; once it exists, as patch.
      const applied = (resource: string) => mine.filter((request) => request.resource === resource && request.method === 'PATCH' && request.contentType?.includes('apply-patch')).length;
      assert.equal(created('jobs'), 4, 'a Job per step');
      assert.equal(scaleWrites(server).length, 5, '4 steps and the restore');
      assert.equal(server.list(jobs).length, 4);
      assert.deepEqual(server.list(`networking.k8s.io/v1/${namespace}/networkpolicies`).map((object) => object.metadata.name), ['four-k6']);
      assert.deepEqual(server.list(configMaps).map((object) => object.metadata.name).sort(), ['four-results', 'loadtests']);
      const byKind = new Map<string, number>();
      for (const request of mine) {
        const key = `${request.verb} ${request.resource}`;
        byKind.set(key, (byKind.get(key) ?? 0) + 1);
      }
      const figures = [...byKind].sort(([a], [b]) => a.localeCompare(b)).map(([key, count]) => `${count} ${key}`);
      console.log(`4 steps: ${mine.length} requests (${applied('jobs')} Job applies, ${applied('networkpolicies')} NetworkPolicy applies): ${figures.join(', ')}`);
      const resultsBytes = Object.entries(server.get(configMaps, 'four-results')!.data as Record<string, string>).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value), 0);
      console.log(`4 steps: results ConfigMap ${resultsBytes} B`);
      // A reconcile per stage, not a loop: with instant rollouts and Jobs, well under 40 requests a step.
      assert.ok(mine.length < 4 * 40, `${mine.length} requests`);
    });
  });

  test('two experiments on one service: the second waits, with a condition saying why, then runs', async () => {
    let release = false;
    await withHarness((job) => (job.metadata.name.startsWith('first') && !release ? 'hang' : { exitCode: 0, throughput: capacity(replicasOfJob(job)), p99: 60 }), async ({ server }) => {
    server.write(experiments, experiment('first', { replicas: [2] }), 'kubectl');
    await waitFor('the first to run its Job', () => statusOf(server, 'first').currentStep?.stage === 'Load');
    server.write(experiments, { ...experiment('second', { replicas: [3] }), metadata: { name: 'second', namespace, creationTimestamp: new Date(Date.now() + 1000).toISOString() } }, 'kubectl');
    await waitFor('the second to wait', () => statusOf(server, 'second').phase === 'Waiting');
    const waiting = conditionOf(server, 'second', 'Running');
    assert.equal(waiting?.reason, 'WaitingForTurn');
    assert.match(waiting?.message, /first runs on demo\/product first/);
    assert.equal(server.list(jobs).filter((job) => job.metadata.name.startsWith('second')).length, 0);

    // The first's Job hangs: take it away, and the retry's Job completes.
    release = true;
    server.remove(jobs, statusOf(server, 'first').currentStep.job);
    await waitFor('the first to finish', () => ['Succeeded', 'Failed'].includes(statusOf(server, 'first').phase));
    await waitFor('the second to succeed', () => statusOf(server, 'second').phase === 'Succeeded');
    const order = scaleWrites(server).map((request) => request.at);
    assert.ok(order.length >= 4);
    assert.equal(server.get(deployments, 'product')?.spec.replicas, 1);
    });
  });

  test('deleting a running experiment stops its Job and restores the replicas, then lets it go', async () => {
    await withHarness(() => 'hang', async ({ server }) => {
    server.write(experiments, experiment('doomed', { replicas: [3, 4] }), 'kubectl');
    await waitFor('its Job to run', () => statusOf(server, 'doomed').currentStep?.stage === 'Load');
    const job = statusOf(server, 'doomed').currentStep.job;
    assert.equal(server.get(deployments, 'product')?.spec.replicas, 3);
    assert.ok(server.get(experiments, 'doomed')?.metadata.finalizers.includes('scaleshop.dev/restore-replicas'));

    const response = await fetch(`${server.url}/apis/scaleshop.dev/v1alpha1/namespaces/${namespace}/scalingexperiments/doomed`, { method: 'DELETE' });
    assert.equal(response.status, 200);
    await waitFor('the experiment to go', () => server.get(experiments, 'doomed') === undefined);
    assert.equal(server.get(jobs, job), undefined, 'the Job is deleted');
    assert.equal(server.get(pods, `${job}-pod`), undefined, 'and its pod with it');
    assert.equal(server.get(deployments, 'product')?.spec.replicas, 1);
    });
  });

  test('a failed Job is retried once, then the experiment fails with both reasons and restores the replicas', async () => {
    await withHarness((job) => (job.metadata.name.endsWith('-0') ? { crash: 2 } : { waiting: 'ImagePullBackOff' }), async ({ server }) => {
    server.write(experiments, experiment('broken', { replicas: [2, 4] }), 'kubectl');
    await waitFor('the experiment to fail', () => statusOf(server, 'broken').phase === 'Failed');
    const failed = conditionOf(server, 'broken', 'Failed');
    assert.equal(failed?.status, 'True');
    assert.equal(failed?.reason, 'JobFailed');
    assert.match(failed?.message, /broken-n2-0-0: BackoffLimitExceeded, k6 exited 2/);
    assert.match(failed?.message, /broken-n2-0-1: k6: ImagePullBackOff/);
    const created = server.requests.filter((request) => request.token === token && request.resource === 'jobs' && request.verb === 'create');
    assert.equal(created.length, 2);
    assert.equal(server.list(jobs).length, 0, 'both Jobs deleted');
    assert.equal(server.get(deployments, 'product')?.spec.replicas, 1);
    assert.equal(server.get(configMaps, 'broken-results'), undefined, 'no run, no results');
    });
  });

  test('a target that autoscales is refused: the operator never fights an autoscaler', async () => {
    await withHarness(() => 'hang', async ({ server }) => {
    server.write(shops, { metadata: { name: 'demo' }, spec: { services: { product: { autoscaling: { enabled: true } } } } }, 'kubectl');
    server.write(experiments, experiment('refused'), 'kubectl');
    await waitFor('the experiment to fail', () => statusOf(server, 'refused').phase === 'Failed');
    assert.equal(conditionOf(server, 'refused', 'Failed')?.reason, 'AutoscalerOwnsReplicas');
    assert.equal(scaleWrites(server).length, 0);
    });
  });
});

describe('RBAC for experiments', () => {
  test('every request of the experiment loop is allowed by the chart’s experiments Role, which grants nothing unused', () => {
    const requests = allRequests.filter((request) => request.token === token);
    assert.ok(requests.filter((request) => request.resource !== '').length > 50, `${requests.length} requests recorded`);
    // (patch of a Job or the results ConfigMap is an apply to one that exists, after a restart mid-step.)
    assert.deepEqual(rbacProblems(chartRole(namespace, 'scaleshop-operator-experiments'), requests), noRbacProblems);
    const binding = parseAllDocuments(helm(['template', 'scaleshop', 'charts/scaleshop', '--namespace', namespace]).stdout)
      .map((document) => document.toJS())
      .find((object) => object?.kind === 'RoleBinding' && object.metadata.name === 'scaleshop-operator-experiments');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'scaleshop-operator', namespace }]);
    assert.equal(binding.roleRef.name, 'scaleshop-operator-experiments');
  });
});
