/**
 * `npm run synth`: renders the default configuration into k8s/scaleshop.k8s.yaml.
 * The only place that touches the file system; the constructs never do.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from './config.ts';
import { manifestFile, renderManifests } from './render.ts';
import { writeIfChanged } from './write-if-changed.ts';

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const written = writeIfChanged(join(repositoryRoot, manifestFile), renderManifests(defaultConfig));
process.stdout.write(written ? `wrote ${manifestFile}\n` : `${manifestFile} is up to date\n`);
