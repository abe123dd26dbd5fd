/**
 * The images named in the manifests are the ones the Tiltfile builds: Tilt replaces an image
 * in the YAML only when it matches a docker_build() ref, so a mismatch would leave a pod
 * pulling an image that exists nowhere. The Tiltfile takes its services from topology.json, so
 * its refs are read by evaluating it (test/tiltfile-harness.ts), not from its text.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { serviceNames } from '@scaleshop/platform/topology';
import { evaluateTiltfile, python } from '../../test/tiltfile-harness.ts';
import { defaultConfig } from '../src/config.ts';
import { allContainers, variants, workloads } from './manifests.ts';

/** Tilt matches refs by name, whatever the tag in the YAML. */
function withoutTag(image: string): string {
  return image.replace(/(:[\w][\w.-]*)?(@sha256:[0-9a-f]+)?$/, '');
}

const infrastructureImages = [defaultConfig.postgres.image, defaultConfig.rabbitmq.image, defaultConfig.jaeger.image, defaultConfig.mailpit.image, defaultConfig.redis.image];

describe('Tiltfile', { skip: python ? false : 'python3 is needed to evaluate the Tiltfile' }, () => {
  test('the images in the manifests are the ones the Tiltfile builds', () => {
    const refs = evaluateTiltfile('kind-scaleshop')
      .calls.filter((call) => call.fn === 'docker_build')
      .map((call) => call.args[0] as string);
    assert.deepEqual([...refs].sort(), serviceNames.map((service) => `scaleshop/${service}`).sort(), 'the Tiltfile builds one image per service');
    for (const variant of variants()) {
      const images = new Set(workloads(variant.objects).flatMap((workload) => allContainers(workload.spec.template.spec).map(({ container }) => container.image)));
      for (const image of images) {
        if (infrastructureImages.includes(image)) continue;
        assert.ok(refs.includes(withoutTag(image)), `${variant.name}: ${image} is not built by the Tiltfile (docker_build refs: ${refs.join(', ')})`);
      }
      for (const ref of refs) assert.ok([...images].some((image) => withoutTag(image) === ref), `${variant.name}: the Tiltfile builds ${ref}, which no pod runs`);
    }
  });
});
