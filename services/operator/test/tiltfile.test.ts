/**
 * `tilt up -- --operator`, evaluated without Tilt (test/tiltfile-harness.ts): the chart instead
 * of k8s/, the operator's image with live update onto paths that are volumes in its pod, and the
 * service images that Tilt puts into the Shop.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { serviceNames } from '@scaleshop/platform/topology';
import { repositoryRoot } from '@scaleshop/cdk8s/test/manifests.ts';
import { evaluateTiltfile, python } from '../../../test/tiltfile-harness.ts';
import { helm } from './helm.ts';

describe('tilt up -- --operator', { skip: python ? false : 'python3 is needed to evaluate the Tiltfile' }, () => {
  const run = python ? evaluateTiltfile('kind-scaleshop', 'up', ['--operator']) : { calls: [] };
  const calls = (fn: string) => run.calls.filter((call) => call.fn === fn);

  test('deploys the chart, not k8s/', () => {
    assert.equal(run.failed, undefined);
    const deployed = calls('k8s_yaml').map((call) => call.args[0]);
    assert.deepEqual(deployed, [{ helm: 'charts/scaleshop' }]);
    const chart = calls('helm')[0]!;
    assert.equal(chart.kwargs.namespace, 'scaleshop');
    assert.ok((chart.kwargs.set as string[]).includes('operator.liveUpdate=true'));
  });

  test('the Shop takes the service images Tilt builds, at the paths k8s_kind names', () => {
    const kind = calls('k8s_kind')[0]!;
    assert.equal(kind.args[0], 'Shop');
    const paths = kind.kwargs.image_json_path as string[];
    const sets = calls('helm')[0]!.kwargs.set as string[];
    const builds = calls('docker_build').map((call) => call.args[0] as string);
    for (const service of serviceNames) {
      assert.ok(paths.includes(`{.spec.services.${service}.image}`), service);
      assert.ok(sets.includes(`shop.services.${service}.image=scaleshop/${service}`), service);
      assert.ok(builds.includes(`scaleshop/${service}`), service);
    }
    assert.ok(builds.includes('scaleshop/operator'));
  });

  test("the operator's live update writes only into volumes of its pod, from the sources the image runs", () => {
    const build = calls('docker_build').find((call) => call.args[0] === 'scaleshop/operator')!;
    assert.equal(build.kwargs.dockerfile, 'Dockerfile');
    assert.equal(build.kwargs.target, 'operator-dev');
    // The context Tilt sends holds every path the target copies.
    const dockerfile = readFileSync(join(repositoryRoot, 'Dockerfile'), 'utf8');
    const stage = (name: string) => new RegExp(`^FROM\\s+\\S+\\s+AS\\s+${name}\\s*$([\\s\\S]*?)(?=^FROM\\s|(?![\\s\\S]))`, 'im').exec(dockerfile)?.[1] ?? '';
    const copied = [stage('operator-deps'), stage('operator-dev')].flatMap((body) => [...body.matchAll(/^COPY\s+(?!--from)(?:--\S+\s+)*(\S+)\s/gm)].map((match) => match[1]!));
    assert.ok(copied.length >= 8, copied.join(' '));
    const only = build.kwargs.only as string[];
    for (const path of copied) assert.ok(only.some((allowed) => path === allowed || path.startsWith(`${allowed}/`)), `${path} is in the build context`);
    const steps = build.kwargs.live_update as { step: string; local?: string; remote?: string; cmd?: string }[];
    const sets = calls('helm')[0]!.kwargs.set as string[];
    const result = helm(['template', 'scaleshop', 'charts/scaleshop', '--namespace', 'scaleshop', ...sets.flatMap((set) => ['--set', set])]);
    assert.equal(result.status, 0, result.stderr);
    const deployment = parseAllDocuments(result.stdout)
      .map((document) => document.toJS())
      .find((object) => object?.kind === 'Deployment');
    const mounts = (deployment.spec.template.spec.containers[0].volumeMounts as { mountPath: string }[]).map((mount) => mount.mountPath);
    const copiedTo = [...(steps.at(-1)!.cmd ?? '').matchAll(/cp -R \S+ (\S+)\/(?:;|$)/g)].map((match) => match[1]!);
    assert.equal(copiedTo.length, 3);
    for (const target of [...steps.filter((step) => step.step === 'sync').map((step) => step.remote!), ...copiedTo]) {
      assert.ok(mounts.some((mount) => target === mount || target.startsWith(`${mount}/`)), `${target} is on a volume`);
    }
    // The Deployment's init container seeds the same paths the copy step writes.
    const seed = deployment.spec.template.spec.initContainers[0].command.at(-1) as string;
    for (const target of copiedTo) assert.ok(seed.includes(`cp -R ${target}/.`), target);
  });

  test('plain tilt up is unchanged: k8s/, no chart', () => {
    const plain = evaluateTiltfile('kind-scaleshop');
    assert.equal(plain.failed, undefined);
    assert.deepEqual(plain.calls.filter((call) => call.fn === 'helm' || call.fn === 'k8s_kind'), []);
    assert.ok(!plain.calls.some((call) => call.fn === 'docker_build' && call.args[0] === 'scaleshop/operator'));
  });

  test('an unknown argument fails', () => {
    assert.match(evaluateTiltfile('kind-scaleshop', 'up', ['--operater']).failed ?? '', /unknown arguments/);
  });
});
