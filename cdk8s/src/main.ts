/**
 * `npm run synth`: renders the default configuration into k8s/scaleshop.k8s.yaml.
 * The only place that touches the file system; the constructs never do.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from './config.ts';
import { manifestFile, renderManifests } from './render.ts';

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const target = join(repositoryRoot, manifestFile);
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, renderManifests(defaultConfig));
process.stdout.write(`wrote ${manifestFile}\n`);
