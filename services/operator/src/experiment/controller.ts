/**
 * The ScalingExperiment reconcile loop. Everything it knows of an experiment's progress is in the
 * experiment's status (the runs done, the step in progress, the replicas before), so each
 * reconcile reads the status, does the one next thing, writes the status, and asks to be called
 * again: scale (the scale subresource, with a field manager of its own), wait for the rollout (N
 * replicas updated and ready) and the settle time, run the k6 Job, read its summary from the pod's
 * log, record the run; at the
 * end restore the replicas and write the results ConfigMap. A finalizer lets a deletion stop the
 * Job and restore the replicas first.
 */
import * as k8s from '@kubernetes/client-node';
import { configOf, type KubeObject, type Shop } from '../desired.ts';
import { experimentFinalizer, experimentLabel, experimentPlural, type ExperimentRun, type ExperimentStatus } from '@scaleshop/cdk8s/src/experiment-spec.ts';
import { shopGroup, shopPlural, shopVersion, type Condition } from '@scaleshop/cdk8s/src/shop-spec.ts';
import { env, type Logger } from '@scaleshop/platform';
import { serviceOf, type ServiceName } from '@scaleshop/platform/topology';
import { restartingInformer, type Informer } from '../informer.ts';
import { collectionPath } from '../kinds.ts';
import { WorkQueue, type BackoffOptions } from '../work-queue.ts';
import { experimentResults, fold, nextRun, runFromSummary, specWithDefaults, stepsDone, type NextRun } from './plan.ts';
import { chartFiles } from '../../../../scripts/scaling/results.ts';
import { configMapDataLimitBytes, jobName, k6Container, k6Job, k6NetworkPolicy, resultsConfigMap, resultsConfigMapName, summaryFromLog, type Experiment } from './render.ts';

/**
 * Whether a ready replica of the service has its consumers attached: true for the services whose
 * readiness waits for them (payment, email, by their READINESS_WAITS_FOR_CONSUMERS setting, on
 * unless a Shop turns it off). For the others readiness says nothing of their consumers, and
 * the settle time is all there is.
 */
export function readinessIncludesConsumers(service: ServiceName): boolean {
  return env.consumerReadinessSetting in serviceOf(service).config;
}

/** Its own field manager: the replicas it sets are told apart from kubectl's and the Shop operator's. */
export const experimentFieldManager = 'scaleshop-experiments';

export interface ExperimentOperatorOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly namespace: string;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  /** How often to look again while waiting for a rollout. */
  readonly pollMs?: number;
  /** How often to look at a running Job's pod (for an image that will not pull); its completion comes by the Job watch. */
  readonly loadPollMs?: number;
  readonly informerRestartMs?: number;
}

interface JobLike extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[]; active?: number };
}

interface PodLike extends KubeObject {
  status?: { containerStatuses?: { name: string; state?: { terminated?: { exitCode: number; reason?: string }; waiting?: { reason?: string; message?: string } } }[] };
}

/** Waiting reasons of a container that mean the run will not start by itself. */
const stuckReasons = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError']);
/** k6's exit code for broken thresholds: the run happened, and its summary is data. */
const thresholdsBrokenExitCode = 99;

type Outcome = { kind: 'running' } | { kind: 'summary'; log: string } | { kind: 'failed'; reason: string };

export class ExperimentOperator {
  private readonly options: ExperimentOperatorOptions;
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly customObjects: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly apps: k8s.AppsV1Api;
  private readonly batch: k8s.BatchV1Api;
  private experiments!: Informer;
  private jobs!: Informer;
  private readonly queue: WorkQueue;
  private stopped = false;

  constructor(options: ExperimentOperatorOptions) {
    this.options = options;
    this.objects = k8s.KubernetesObjectApi.makeApiClient(options.kubeConfig);
    this.customObjects = options.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.apps = options.kubeConfig.makeApiClient(k8s.AppsV1Api);
    this.batch = options.kubeConfig.makeApiClient(k8s.BatchV1Api);
    this.queue = new WorkQueue(options.backoff ?? { baseMs: 1000, maxMs: 60_000 }, (key) => this.reconcile(key), (key, error, retryInMs) =>
      options.logger.warn({ experiment: key, err: error, retry_in_ms: retryInMs }, 'experiment reconcile failed'),
    );
  }

  async start(): Promise<void> {
    const { namespace } = this.options;
    const experimentsPath = collectionPath(`${shopGroup}/${shopVersion}`, experimentPlural, namespace);
    this.experiments = this.informer(experimentsPath, 'ScalingExperiment', undefined, (experiment) => {
      this.queue.add(`${namespace}/${experiment.metadata.name}`);
      // One finished or gone may be the turn of one waiting on the same service.
      for (const other of this.experiments.list(namespace)) if ((other as { status?: ExperimentStatus }).status?.phase === 'Waiting') this.queue.add(`${namespace}/${other.metadata.name}`);
    });
    this.jobs = this.informer(collectionPath('batch/v1', 'jobs', namespace), 'Job', experimentLabel, (job) => {
      const owner = job.metadata.labels?.[experimentLabel];
      if (owner) this.queue.add(`${namespace}/${owner}`);
    });
    await Promise.all([this.experiments.start(), this.jobs.start()]);
    for (const experiment of this.experiments.list(namespace)) this.queue.add(`${namespace}/${experiment.metadata.name}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.queue.stop();
    await Promise.all([this.experiments, this.jobs].filter(Boolean).map((informer) => informer.stop()));
  }

  private informer(path: string, kind: string, labelSelector: string | undefined, changed: (object: KubeObject) => void): Informer {
    const apiVersion = path.startsWith('/apis/batch/') ? 'batch/v1' : `${shopGroup}/${shopVersion}`;
    const list = () => this.objects.list(apiVersion, kind, this.options.namespace, undefined, undefined, undefined, undefined, labelSelector) as unknown as Promise<k8s.KubernetesListObject<KubeObject>>;
    return restartingInformer({ kubeConfig: this.options.kubeConfig, path, list, labelSelector, changed, logger: this.options.logger, restartMs: this.options.informerRestartMs ?? 5000, stopped: () => this.stopped });
  }

  private later(experiment: Experiment, ms = this.options.pollMs ?? 2000): void {
    this.queue.add(`${experiment.metadata.namespace}/${experiment.metadata.name}`, ms);
  }

  private async reconcile(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    // Read afresh, not from the cache: a reconcile queued by its own status write must see that write.
    const cached = (await this.customObjects.getNamespacedCustomObject({ group: shopGroup, version: shopVersion, namespace, plural: experimentPlural, name }).catch((error: { code?: number }) => {
      if (error.code === 404) return undefined;
      throw error;
    })) as (Experiment & { status?: ExperimentStatus }) | undefined;
    if (!cached) return;
    const experiment: Experiment & { status?: ExperimentStatus } = { ...cached, spec: specWithDefaults(cached.spec) };
    const status = experiment.status ?? {};
    const finalizers = experiment.metadata.finalizers ?? [];

    if (experiment.metadata.deletionTimestamp) {
      if (!finalizers.includes(experimentFinalizer)) return;
      if (status.phase === 'Running') await this.cleanUp(experiment, status);
      await this.patchFinalizers(experiment, finalizers.filter((finalizer) => finalizer !== experimentFinalizer));
      return;
    }
    if (status.phase === 'Succeeded' || status.phase === 'Failed') return;
    if (!finalizers.includes(experimentFinalizer)) {
      await this.patchFinalizers(experiment, [...finalizers, experimentFinalizer]);
      return; // The informer brings the change back.
    }

    if (status.phase !== 'Running') {
      const ahead = this.ahead(experiment);
      if (ahead) {
        await this.writeStatus(experiment, { ...status, phase: 'Waiting' }, { type: 'Running', holds: false, reason: 'WaitingForTurn', message: `${ahead} runs on ${experiment.spec.target.shop}/${experiment.spec.target.service} first: one experiment per service at a time` });
        return;
      }
      const problem = await this.targetProblem(experiment);
      if (problem) {
        await this.finish(experiment, status, 'Failed', problem.reason, problem.message);
        return;
      }
      const scale = await this.apps.readNamespacedDeploymentScale({ name: experiment.spec.target.service, namespace });
      await this.writeStatus(
        experiment,
        { ...status, phase: 'Running', originalReplicas: scale.spec?.replicas ?? 1, startedAt: now(), runs: [], stepsDone: `0/${experiment.spec.replicas.length}` },
        { type: 'Running', holds: true, reason: 'Started', message: `measuring ${experiment.spec.replicas.join(', ')} replicas` },
      );
      this.later(experiment, 0);
      return;
    }

    const runs = status.runs ?? [];
    const next = nextRun(experiment.spec, runs);
    if (!next) {
      await this.finish(experiment, status, 'Succeeded', 'Finished', `${runs.length} runs at ${experiment.spec.replicas.join(', ')} replicas`);
      return;
    }
    const step = status.currentStep;
    const same = step && step.replicas === next.replicas && step.repeat === next.repeat && step.rate === next.rate;
    if (!same || step.stage === 'Scaling') {
      await this.scaleStep(experiment, status, next, same ? step : undefined);
      return;
    }
    if (step.stage === 'Settling') {
      const waited = Date.now() - Date.parse(step.readySince ?? now());
      const left = experiment.spec.settleSeconds * 1000 - waited;
      if (left > 0) return this.later(experiment, Math.min(left, this.options.pollMs ?? 2000));
      await this.startJob(experiment, status, next, step.attempt, step.firstFailure);
      return;
    }
    await this.loadStep(experiment, status, next, step.attempt, step.job!, step.firstFailure);
  }

  /** The name of an experiment on the same service that goes first: one running, or one waiting since before. */
  private ahead(experiment: Experiment): string | undefined {
    const target = experiment.spec.target;
    const created = (object: Experiment) => `${new Date(object.metadata.creationTimestamp ?? 0).toISOString()} ${object.metadata.name}`;
    for (const object of this.experiments.list(experiment.metadata.namespace ?? '') as (Experiment & { status?: ExperimentStatus })[]) {
      if (object.metadata.name === experiment.metadata.name || object.spec?.target?.shop !== target.shop || object.spec?.target?.service !== target.service) continue;
      const phase = object.status?.phase;
      if (phase === 'Running') return object.metadata.name;
      if (phase !== 'Succeeded' && phase !== 'Failed' && !object.metadata.deletionTimestamp && created(object) < created(experiment)) return object.metadata.name;
    }
    return undefined;
  }

  /** Why the target cannot be measured: no such Shop, or an autoscaler owns its replicas (the operator never fights one). */
  private async targetProblem(experiment: Experiment): Promise<{ reason: string; message: string } | undefined> {
    const { shop: shopName, service } = experiment.spec.target;
    let shop: Shop;
    try {
      shop = (await this.customObjects.getNamespacedCustomObject({ group: shopGroup, version: shopVersion, namespace: experiment.metadata.namespace ?? '', plural: shopPlural, name: shopName })) as Shop;
    } catch (error) {
      if ((error as { code?: number }).code === 404) return { reason: 'ShopNotFound', message: `no Shop ${shopName} in this namespace` };
      throw error;
    }
    if (configOf(shop).services[service].autoscaling?.enabled) return { reason: 'AutoscalerOwnsReplicas', message: `${service} autoscales in Shop ${shopName}: turn its autoscaling off to measure fixed replica counts` };
    return undefined;
  }

  private async scaleStep(experiment: Experiment, status: ExperimentStatus, next: NextRun, step: ExperimentStatus['currentStep']): Promise<void> {
    const namespace = experiment.metadata.namespace ?? '';
    const name = experiment.spec.target.service;
    if (!step) {
      await this.setReplicas(namespace, name, next.replicas);
      await this.writeStatus(experiment, { ...status, currentStep: { ...next, attempt: 0, stage: 'Scaling' } }, { type: 'Running', holds: true, reason: 'Scaling', message: `scaling ${name} to ${next.replicas}` });
      return this.later(experiment);
    }
    const deployment = await this.apps.readNamespacedDeployment({ name, namespace });
    const s = deployment.status ?? {};
    // Ready, not just running: for payment and email a ready replica is one whose consumer the
    // broker has confirmed (their /health/ready includes it), so N ready replicas are N consumers.
    const rolledOut =
      (s.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0) && s.updatedReplicas === next.replicas && s.readyReplicas === next.replicas && (s.replicas ?? next.replicas) === next.replicas;
    if (!rolledOut) {
      const message = `scaling ${name} to ${next.replicas}: ${s.readyReplicas ?? 0} ready, ${s.updatedReplicas ?? 0} updated`;
      await this.writeStatus(experiment, status, { type: 'Running', holds: true, reason: 'Scaling', message });
      return this.later(experiment);
    }
    const attached = readinessIncludesConsumers(experiment.spec.target.service) ? ', each with its consumers attached (its readiness includes them)' : '';
    await this.writeStatus(
      experiment,
      { ...status, currentStep: { ...step, stage: 'Settling', readySince: now() } },
      { type: 'Running', holds: true, reason: 'Settling', message: `${next.replicas} replicas of ${name} ready${attached}; settling for ${experiment.spec.settleSeconds} s` },
    );
    this.later(experiment, 0);
  }

  private async startJob(experiment: Experiment, status: ExperimentStatus, next: NextRun, attempt: number, firstFailure: string | undefined): Promise<void> {
    const namespace = experiment.metadata.namespace ?? '';
    const scripts = await this.core.readNamespacedConfigMap({ name: experiment.spec.scriptsConfigMap, namespace }).catch((error: { code?: number }) => {
      if (error.code === 404) return undefined;
      throw error;
    });
    if (!scripts) {
      await this.finish(experiment, status, 'Failed', 'ScriptsNotFound', `no ConfigMap ${experiment.spec.scriptsConfigMap} with the k6 scripts (the chart ships it)`);
      return;
    }
    const name = jobName(experiment, next, (status.runs ?? []).length, attempt);
    await this.apply(k6NetworkPolicy(experiment));
    await this.apply(k6Job(experiment, next, name, Object.keys(scripts.data ?? {})));
    await this.writeStatus(
      experiment,
      { ...status, currentStep: { ...next, attempt, stage: 'Load', job: name, ...(firstFailure ? { firstFailure } : {}) } },
      { type: 'Running', holds: true, reason: 'LoadRunning', message: `k6 ${experiment.spec.scenario} at ${next.rate}/s against ${next.replicas} replicas (Job ${name})` },
    );
  }

  private async loadStep(experiment: Experiment, status: ExperimentStatus, next: NextRun, attempt: number, job: string, firstFailure: string | undefined): Promise<void> {
    const outcome = await this.outcomeOf(experiment, job);
    if (outcome.kind === 'running') return this.later(experiment, this.options.loadPollMs ?? 10_000);
    if (outcome.kind === 'summary') {
      let run: ExperimentRun;
      try {
        run = runFromSummary(experiment.spec, next, summaryFromLog(outcome.log), job);
      } catch (error) {
        return this.jobFailed(experiment, status, next, attempt, job, `the summary could not be read: ${(error as Error).message}`, firstFailure);
      }
      const runs = [...(status.runs ?? []), run];
      const { results: _results, ...folded } = fold(experiment.spec, runs);
      const { currentStep: _step, ...rest } = status;
      await this.writeStatus(
        experiment,
        { ...rest, ...folded, runs, stepsDone: stepsDone(experiment.spec, runs) },
        { type: 'Running', holds: true, reason: 'RunRecorded', message: `N=${next.replicas} at ${next.rate}/s: ${run.throughput.toFixed(1)} ${folded.unit}, p99 ${run.p99Ms.toFixed(0)} ms → ${run.holds ? 'holds' : 'breaks'} the SLO` },
      );
      this.later(experiment, 0);
      return;
    }
    await this.jobFailed(experiment, status, next, attempt, job, outcome.reason, firstFailure);
  }

  /** Retried once with a new Job; the second failure fails the experiment with both reasons. */
  private async jobFailed(experiment: Experiment, status: ExperimentStatus, next: NextRun, attempt: number, job: string, reason: string, firstFailure: string | undefined): Promise<void> {
    await this.deleteJob(experiment.metadata.namespace ?? '', job);
    if (attempt === 0) {
      this.options.logger.warn({ experiment: experiment.metadata.name, job, reason }, 'k6 Job failed: retrying once');
      await this.startJob(experiment, status, next, 1, `Job ${job}: ${reason}`);
      return;
    }
    await this.finish(experiment, status, 'Failed', 'JobFailed', `${firstFailure ?? ''}; then Job ${job}: ${reason}`.replace(/^; /, ''));
  }

  private async outcomeOf(experiment: Experiment, job: string): Promise<Outcome> {
    const namespace = experiment.metadata.namespace ?? '';
    const cached = this.jobs.get(job, namespace) as JobLike | undefined;
    const pods = (await this.core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${job}` })).items as unknown as PodLike[];
    const k6 = pods.flatMap((pod) => (pod.status?.containerStatuses ?? []).filter((container) => container.name === k6Container).map((container) => ({ pod, container })));
    const stuck = pods.flatMap((pod) => pod.status?.containerStatuses ?? []).find((container) => stuckReasons.has(container.state?.waiting?.reason ?? ''));
    if (stuck) return { kind: 'failed', reason: `${stuck.name}: ${stuck.state!.waiting!.reason}${stuck.state?.waiting?.message ? ` (${stuck.state.waiting.message})` : ''}` };
    const condition = (type: string) => cached?.status?.conditions?.find((candidate) => candidate.type === type && candidate.status === 'True');
    const terminated = k6.find(({ container }) => container.state?.terminated)?.container.state?.terminated;
    const readLog = async () => {
      const pod = k6.find(({ container }) => container.state?.terminated)?.pod ?? pods[0];
      if (!pod) throw new Error(`Job ${job} has no pod to read`);
      return String(await this.core.readNamespacedPodLog({ name: pod.metadata.name, namespace, container: k6Container }));
    };
    if (condition('Complete')) return { kind: 'summary', log: await readLog() };
    const failed = condition('Failed');
    if (failed || terminated) {
      if (terminated?.exitCode === 0 || terminated?.exitCode === thresholdsBrokenExitCode) return { kind: 'summary', log: await readLog() };
      if (failed) return { kind: 'failed', reason: `${failed.reason ?? 'Failed'}${terminated ? `, k6 exited ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}` : ''}${failed.message ? `: ${failed.message}` : ''}` };
    }
    if (!cached) return { kind: 'failed', reason: 'the Job is gone' };
    return { kind: 'running' };
  }

  private async finish(experiment: Experiment, status: ExperimentStatus, phase: 'Succeeded' | 'Failed', reason: string, finishedBecause: string): Promise<void> {
    let message = finishedBecause;
    const finishedAt = now();
    const namespace = experiment.metadata.namespace ?? '';
    if (status.phase === 'Running') await this.cleanUp(experiment, status);
    const runs = status.runs ?? [];
    let resultsName: string | undefined;
    if (runs.length > 0) {
      const deployment = await this.apps.readNamespacedDeployment({ name: experiment.spec.target.service, namespace });
      const container = deployment.spec?.template.spec?.containers[0];
      const cpuLimit = container?.resources?.limits?.cpu ?? '1';
      const { results, report } = experimentResults(experiment.spec, runs, {
        image: container?.image ?? 'unknown',
        coresPerReplica: cpuLimit.endsWith('m') ? Number(cpuLimit.slice(0, -1)) / 1000 : Number(cpuLimit),
        knobs: Object.fromEntries((container?.env ?? []).filter((variable) => /LATENCY_MS|CONCURRENCY|PREFETCH|POOL_MAX|PRODUCT_CACHE/.test(variable.name) && variable.value !== undefined).map((variable) => [variable.name, variable.value!])),
        startedAt: status.startedAt ?? finishedAt,
        finishedAt,
      });
      const written = resultsConfigMap(experiment, { resultsJson: `${JSON.stringify(results, null, 2)}\n`, reportMd: report }, await chartFiles(results));
      const limit = `the ${(configMapDataLimitBytes / 1024 / 1024).toFixed(0)} MiB a ConfigMap may hold`;
      if (written.kind === 'fits') {
        await this.apply(written.object);
        resultsName = resultsConfigMapName(experiment);
        if (written.chartsLeftOut) message = `${message}; the charts were left out of ${resultsName} (with them it would pass ${limit}): npm run experiment -- --cluster draws them from results.json`;
      } else {
        message = `${message}; no results ConfigMap: results.json and report.md are ${written.bytes} bytes, past ${limit} (the runs are in status.runs)`;
      }
    }
    const { currentStep: _step, ...rest } = status;
    await this.writeStatus(
      experiment,
      { ...rest, phase, finishedAt, ...(resultsName ? { resultsConfigMap: resultsName } : {}) },
      { type: 'Running', holds: false, reason, message },
      { type: phase === 'Succeeded' ? 'Complete' : 'Failed', holds: true, reason, message },
    );
  }

  /** Stops the Job in progress and gives the service back its replicas. */
  private async cleanUp(experiment: Experiment, status: ExperimentStatus): Promise<void> {
    const namespace = experiment.metadata.namespace ?? '';
    if (status.currentStep?.job) await this.deleteJob(namespace, status.currentStep.job);
    if (status.originalReplicas !== undefined) await this.setReplicas(namespace, experiment.spec.target.service, status.originalReplicas);
  }

  private async setReplicas(namespace: string, name: string, replicas: number): Promise<void> {
    await this.apps.patchNamespacedDeploymentScale({ name, namespace, body: { spec: { replicas } }, fieldManager: experimentFieldManager }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  }

  private async deleteJob(namespace: string, name: string): Promise<void> {
    try {
      // Background: the Job's pods go with it, k6 among them.
      await this.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' });
    } catch (error) {
      if ((error as { code?: number }).code !== 404) throw error;
    }
  }

  private async apply(object: KubeObject): Promise<void> {
    await this.objects.patch(object, undefined, undefined, experimentFieldManager, true, k8s.PatchStrategy.ServerSideApply);
  }

  private async patchFinalizers(experiment: Experiment, finalizers: string[]): Promise<void> {
    try {
      await this.customObjects.patchNamespacedCustomObject(
        { group: shopGroup, version: shopVersion, namespace: experiment.metadata.namespace ?? '', plural: experimentPlural, name: experiment.metadata.name, body: { metadata: { finalizers, resourceVersion: experiment.metadata.resourceVersion } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    } catch (error) {
      if ((error as { code?: number }).code !== 404) throw error;
    }
  }

  private async writeStatus(experiment: Experiment & { status?: ExperimentStatus }, next: ExperimentStatus, ...changes: { type: string; holds: boolean; reason: string; message: string }[]): Promise<void> {
    const generation = experiment.metadata.generation ?? 0;
    const previous = new Map((experiment.status?.conditions ?? []).map((condition) => [condition.type, condition]));
    for (const change of changes) {
      const state = change.holds ? 'True' : 'False';
      const before = previous.get(change.type);
      previous.set(change.type, { type: change.type, status: state, observedGeneration: generation, lastTransitionTime: before && before.status === state ? before.lastTransitionTime : now(), reason: change.reason, message: change.message.slice(0, 32_000) } satisfies Condition);
    }
    const status: ExperimentStatus = { ...next, observedGeneration: generation, conditions: [...previous.values()] };
    if (JSON.stringify(status) === JSON.stringify(experiment.status)) return;
    // A merge patch replaces arrays whole; currentStep is cleared explicitly when it is no longer there.
    const body = { status: { ...status, ...(status.currentStep ? {} : { currentStep: null }) } };
    await this.customObjects.patchNamespacedCustomObjectStatus(
      { group: shopGroup, version: shopVersion, namespace: experiment.metadata.namespace ?? '', plural: experimentPlural, name: experiment.metadata.name, body },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
