/**
 * The objects a ScalingExperiment creates: per run a k6 Job (and, once, a NetworkPolicy that lets
 * its pods reach the gateway under the Shop's default deny), and at the end the ConfigMap with
 * results.json and report.md. Each is owned by the experiment, so deleting it collects them.
 */
import { serviceOf } from '@scaleshop/platform/topology';
import { keyPathSeparator } from '@scaleshop/cdk8s/src/experiment-chart.ts';
import { experimentKind, experimentLabel, type ExperimentSpec } from '@scaleshop/cdk8s/src/experiment-spec.ts';
import { shopApiVersion } from '@scaleshop/cdk8s/src/shop-spec.ts';
import { selectorFor } from '@scaleshop/cdk8s/src/workload-defaults.ts';
import { summaryLinePrefix, type LoadSummary } from '../../../../loadtests/lib/summary.ts';
import type { KubeObject, ObjectMeta } from '../desired.ts';
import type { NextRun } from './plan.ts';

/**
 * grafana/k6 1.4.2 (runs .ts directly; k6 ≥ 1.4), pinned by digest. The digest was read from a
 * Renovate-pinned `FROM docker.io/grafana/k6:1.4.2@sha256:…` in go-vela/vela-k6's Dockerfile, not
 * pulled here (no registry is reachable): `docker buildx imagetools inspect grafana/k6:1.4.2` checks it.
 */
export const k6Image = 'docker.io/grafana/k6:1.4.2@sha256:3656673de3f30424e8ebcfa46acd9558d83b6a43612d0f668ffeac953950c6c7';

/** The container whose log holds the summary. */
export const k6Container = 'k6';

export interface Experiment extends KubeObject {
  spec: ExperimentSpec;
  metadata: ObjectMeta & { creationTimestamp?: string | Date; finalizers?: string[] };
}

function ownedBy(experiment: Experiment) {
  return [{ apiVersion: shopApiVersion, kind: experimentKind, name: experiment.metadata.name, uid: experiment.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }];
}

function metadataOf(experiment: Experiment, name: string): ObjectMeta {
  return {
    name,
    namespace: experiment.metadata.namespace ?? '',
    labels: { [experimentLabel]: experiment.metadata.name, 'app.kubernetes.io/part-of': 'scaleshop', 'app.kubernetes.io/component': 'scaling-experiment' },
    ownerReferences: ownedBy(experiment),
  };
}

/** ≤ 63 characters, as a label value must be (the Job controller labels its pods with the Job's name). */
export function jobName(experiment: Experiment, run: NextRun, runIndex: number, attempt: number): string {
  const suffix = `-n${run.replicas}-${runIndex}-${attempt}`;
  return `${experiment.metadata.name.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** The scripts ConfigMap's keys spell '/' as keyPathSeparator; the volume's items map each back to its path. */
export function scriptItems(keys: readonly string[]): { key: string; path: string }[] {
  return [...keys].sort().map((key) => ({ key, path: key.split(keyPathSeparator).join('/') }));
}

export function k6Job(experiment: Experiment, run: NextRun, name: string, scriptKeys: readonly string[]): KubeObject {
  const spec = experiment.spec;
  const baseUrl = `http://gateway:${serviceOf('gateway').port}`;
  const script = `/scripts/${spec.scenario}.ts`;
  const env = (duration: number, sampling: number, extra: Record<string, string> = {}) =>
    Object.entries({ BASE_URL: baseUrl, RATE: String(run.rate), DURATION: `${duration}s`, TRACE_SAMPLING: String(sampling), SUMMARY_DIR: '/summary', ...extra }).map(([key, value]) => ({ name: key, value }));
  const container = (containerName: string, duration: number, sampling: number, extra?: Record<string, string>) => ({
    name: containerName,
    image: k6Image,
    args: ['run', '--no-color', script],
    env: env(duration, sampling, extra),
    resources: { requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: '2', memory: '1Gi' } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    volumeMounts: [
      { name: 'scripts', mountPath: '/scripts', readOnly: true },
      { name: 'summary', mountPath: '/summary' },
    ],
  });
  const metadata = metadataOf(experiment, name);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata,
    spec: {
      // The operator retries once itself: it tells broken thresholds (exit 99, data) from a crash.
      backoffLimit: 0,
      // Setup (users, products), the warm-up, the run and k6's 60 s graceful stop, with room: past it, a pod stuck pulling its image fails the Job.
      activeDeadlineSeconds: spec.warmupSeconds + spec.durationSeconds + 600,
      template: {
        metadata: { labels: metadata.labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 12345, runAsGroup: 12345, seccompProfile: { type: 'RuntimeDefault' } },
          // The warm-up is k6 at the same rate, in the same pod, before the measured run; its summary is ignored.
          ...(spec.warmupSeconds > 0 ? { initContainers: [container('warmup', spec.warmupSeconds, 0)] } : {}),
          containers: [container(k6Container, spec.durationSeconds, spec.traceSampling, { SUMMARY_STDOUT: 'json' })],
          volumes: [
            { name: 'scripts', configMap: { name: spec.scriptsConfigMap, items: scriptItems(scriptKeys) } },
            { name: 'summary', emptyDir: { sizeLimit: '16Mi' } },
          ],
        },
      },
    },
  };
}

/** The Shop denies all traffic by default: the k6 pods may reach the gateway and DNS, nothing else. */
export function k6NetworkPolicy(experiment: Experiment): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadataOf(experiment, `${experiment.metadata.name.slice(0, 56)}-k6`),
    spec: {
      podSelector: { matchLabels: { [experimentLabel]: experiment.metadata.name } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: [
        { to: [{ podSelector: { matchLabels: selectorFor('gateway') } }], ports: [{ protocol: 'TCP', port: serviceOf('gateway').port }] },
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    },
  };
}

export function resultsConfigMapName(experiment: Experiment): string {
  return `${experiment.metadata.name.slice(0, 245)}-results`;
}

/**
 * The API server refuses a ConfigMap whose data pass 1 MiB ("The data stored in a ConfigMap
 * cannot exceed 1 MiB", kubernetes.io/docs/concepts/configuration/configmap), counting each
 * key's and value's bytes.
 */
export const configMapDataLimitBytes = 1024 * 1024;

export function configMapDataBytes(data: Record<string, string>): number {
  return Object.entries(data).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value), 0);
}

export type ResultsObject = { kind: 'fits'; object: KubeObject; bytes: number; chartsLeftOut: boolean } | { kind: 'tooLarge'; bytes: number };

/**
 * results.json and report.md, and the charts while everything fits the limit. The charts go
 * first when it does not: they are drawn from results.json, which `npm run experiment --
 * --cluster` does itself when they are missing. A results.json and report.md past the limit
 * alone (hundreds of runs) make no ConfigMap; the runs stay in the status.
 */
export function resultsConfigMap(experiment: Experiment, files: { resultsJson: string; reportMd: string }, charts: Record<string, string>, limitBytes = configMapDataLimitBytes): ResultsObject {
  const essential = { 'results.json': files.resultsJson, 'report.md': files.reportMd };
  const whole = { ...essential, ...charts };
  const object = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: metadataOf(experiment, resultsConfigMapName(experiment)), data });
  if (configMapDataBytes(whole) <= limitBytes) return { kind: 'fits', object: object(whole), bytes: configMapDataBytes(whole), chartsLeftOut: false };
  const bytes = configMapDataBytes(essential);
  if (bytes <= limitBytes) return { kind: 'fits', object: object(essential), bytes, chartsLeftOut: Object.keys(charts).length > 0 };
  return { kind: 'tooLarge', bytes };
}

export class SummaryMissing extends Error {}

/** The summary line k6 printed (SUMMARY_STDOUT=json), from the container's log. */
export function summaryFromLog(log: string): LoadSummary {
  const line = log
    .split('\n')
    .reverse()
    .find((candidate) => candidate.startsWith(summaryLinePrefix));
  if (!line) throw new SummaryMissing(`no line starting "${summaryLinePrefix.trim()}" in the k6 log (${log.length} characters)`);
  const summary = JSON.parse(line.slice(summaryLinePrefix.length)) as Partial<LoadSummary>;
  for (const field of ['requests', 'duration_s', 'elapsed_s', 'dropped_iterations', 'thresholds_ok'] as const) {
    if (summary[field] === undefined) throw new SummaryMissing(`the k6 summary has no ${field}`);
  }
  return summary as LoadSummary;
}
