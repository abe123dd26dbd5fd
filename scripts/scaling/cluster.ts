/**
 * `npm run experiment -- --cluster`: the same experiment, run by the operator in a cluster. It
 * creates a ScalingExperiment from the runner's options, prints its progress as the status
 * changes, and writes the results.json, report.md and SVG charts the operator put in its results
 * ConfigMap, so a cluster run leaves the same files as a local one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { experimentKind, experimentPlural, type ExperimentSpec, type ExperimentStatus } from '@scaleshop/cdk8s/src/experiment-spec.ts';
import { shopApiVersion, shopGroup, shopVersion } from '@scaleshop/cdk8s/src/shop-spec.ts';
import { chartFileNames, chartFiles, type ExperimentResults } from './results.ts';

export interface ClusterRun {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  name: string;
  spec: ExperimentSpec | Omit<ExperimentSpec, 'settleSeconds' | 'traceSampling' | 'scriptsConfigMap'>;
  out: string;
  log: (line: string) => void;
  pollMs?: number;
}

/** Creates the experiment, follows it to its end, and writes its files; resolves to its final phase. */
export async function runInCluster(run: ClusterRun): Promise<{ phase: 'Succeeded' | 'Failed'; message: string }> {
  const api = run.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const core = run.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const where = { group: shopGroup, version: shopVersion, namespace: run.namespace, plural: experimentPlural };
  await api.createNamespacedCustomObject({ ...where, body: { apiVersion: shopApiVersion, kind: experimentKind, metadata: { name: run.name, namespace: run.namespace }, spec: run.spec } });
  run.log(`created ScalingExperiment ${run.namespace}/${run.name}`);
  let said = '';
  for (;;) {
    const { status } = (await api.getNamespacedCustomObject({ ...where, name: run.name })) as { status?: ExperimentStatus };
    const running = status?.conditions?.find((condition) => condition.type === 'Running');
    const line = `${status?.phase ?? 'Pending'}${status?.stepsDone ? ` ${status.stepsDone}` : ''}${running ? `: ${running.message}` : ''}`;
    if (line !== said) run.log((said = line));
    if (status?.phase === 'Succeeded' || status?.phase === 'Failed') {
      const final = status.conditions?.find((condition) => condition.type === (status.phase === 'Succeeded' ? 'Complete' : 'Failed'));
      if (status.resultsConfigMap) {
        const configMap = await core.readNamespacedConfigMap({ name: status.resultsConfigMap, namespace: run.namespace });
        const data = configMap.data ?? {};
        const resultsJson = data['results.json'];
        if (resultsJson === undefined) throw new Error(`ConfigMap ${status.resultsConfigMap} has no results.json`);
        // The operator leaves the charts out when they would not fit the ConfigMap: drawn here then, from the same results.
        const chartsMissing = chartFileNames.some((file) => data[file] === undefined);
        const charts = chartsMissing ? await chartFiles(JSON.parse(resultsJson) as ExperimentResults) : Object.fromEntries(chartFileNames.map((file) => [file, data[file]!]));
        const files = { 'results.json': resultsJson, 'report.md': data['report.md'] ?? '', ...charts };
        mkdirSync(run.out, { recursive: true });
        for (const [file, content] of Object.entries(files)) writeFileSync(join(run.out, file), content);
        run.log(`written to ${run.out}: ${Object.keys(files).join(', ')}${chartsMissing ? ' (the charts drawn here from results.json: the ConfigMap had none)' : ''}`);
      }
      return { phase: status.phase, message: final?.message ?? '' };
    }
    await new Promise((resolve) => setTimeout(resolve, run.pollMs ?? 5000));
  }
}
