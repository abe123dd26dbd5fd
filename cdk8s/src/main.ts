/**
 * `npm run synth`: renders the default configuration into k8s/scaleshop.k8s.yaml, and the
 * topology into topology.json, which the Tiltfile and the shell scripts read beside k8s/, and the
 * generated files of the Helm chart (the Shop CRD and values.schema.json).
 * The only place that touches the file system; the constructs never do.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTopology, topologyFile } from '@scaleshop/platform/topology';
import { defaultConfig } from './config.ts';
import { experimentCrdFile, loadtestsConfigMapFile, renderExperimentCrd, renderLoadtestsConfigMap } from './experiment-chart.ts';
import { crdFile, renderCrd, renderValuesSchema, valuesSchemaFile } from './helm-chart.ts';
import { manifestFile, renderManifests } from './render.ts';
import { writeIfChanged } from './write-if-changed.ts';

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
for (const [file, render] of [
  [manifestFile, () => renderManifests(defaultConfig)],
  [topologyFile, renderTopology],
  [crdFile, renderCrd],
  [valuesSchemaFile, renderValuesSchema],
  [experimentCrdFile, renderExperimentCrd],
  [loadtestsConfigMapFile, () => renderLoadtestsConfigMap(repositoryRoot)],
] as const) {
  const written = writeIfChanged(join(repositoryRoot, file), render());
  process.stdout.write(written ? `wrote ${file}\n` : `${file} is up to date\n`);
}
