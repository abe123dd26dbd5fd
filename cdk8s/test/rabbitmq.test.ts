/**
 * RabbitMQ's memory alarm: an absolute threshold below the container's memory limit, derived
 * from that limit, in a file of its own under /etc/rabbitmq/conf.d. The expectations are read
 * off the synthesized objects (the container's own limit), not off the construct's constants.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultConfig, resources, type ShopConfig } from '../src/config.ts';
import { renderManifests } from '../src/render.ts';
import { parseManifests, parseMemory, variants, workloads, type K8sObject } from './manifests.ts';

const confDirectory = '/etc/rabbitmq/conf.d';

/** The rabbitmq.conf (sysctl-like) settings of a file: key → value. */
function settings(text: string): Map<string, string> {
  const entries = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([\w.]+)\s*=\s*(.+)$/.exec(line);
      assert.ok(match, `a key = value line: ${line}`);
      return [match[1]!, match[2]!] as const;
    });
  return new Map(entries);
}

function broker(objects: readonly K8sObject[]) {
  const statefulSet = workloads(objects).find((workload) => workload.metadata.name === 'rabbitmq');
  assert.ok(statefulSet, 'StatefulSet rabbitmq');
  const spec = statefulSet.spec.template.spec;
  const container = spec.containers.find((candidate) => candidate.name === 'rabbitmq');
  assert.ok(container, 'container rabbitmq');
  const limitMiB = parseMemory(container.resources?.limits?.memory ?? '');
  const mounts = (container.volumeMounts ?? []).filter((mount) => mount.mountPath === confDirectory || mount.mountPath.startsWith(`${confDirectory}/`) || `${confDirectory}/`.startsWith(`${mount.mountPath}/`));
  const files = mounts.map((mount) => {
    const volume = spec.volumes?.find((candidate) => candidate.name === mount.name);
    const configMap = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === volume?.configMap?.name);
    return { mount, text: configMap?.data?.[mount.subPath ?? ''] };
  });
  return { statefulSet, container, limitMiB, mounts, files };
}

describe('RabbitMQ memory alarm', () => {
  for (const variant of variants()) {
    describe(variant.name, () => {
      const { container, limitMiB, mounts, files } = broker(variant.objects);

      test('one file, mounted alone with subPath under /etc/rabbitmq/conf.d, after the image’s 10-defaults.conf', () => {
        assert.ok(Number.isFinite(limitMiB) && limitMiB > 0, 'the container has a memory limit');
        assert.equal(mounts.length, 1, `mounts over ${confDirectory}: ${mounts.map((mount) => mount.mountPath).join(', ')}`);
        const [mount] = mounts;
        const fileName = mount!.mountPath.slice(confDirectory.length + 1);
        assert.match(fileName, /^[^/]+\.conf$/, 'a file directly in conf.d, not the directory');
        assert.equal(mount!.subPath, fileName, 'subPath: the other files of conf.d stay visible');
        assert.equal(mount!.readOnly, true);
        assert.ok(fileName > '10-defaults.conf', `${fileName} is read after 10-defaults.conf`);
      });

      test('vm_memory_high_watermark.absolute is 0.6 of the container’s memory limit, in bytes, below it', () => {
        const text = files[0]?.text;
        assert.ok(text, 'the mounted file comes from a ConfigMap key');
        const conf = settings(text);
        const absolute = conf.get('vm_memory_high_watermark.absolute');
        assert.match(absolute ?? '', /^\d+$/, 'a whole number of bytes');
        const limitBytes = limitMiB * 2 ** 20;
        assert.equal(Number(absolute), Math.floor(limitBytes * 0.6));
        assert.ok(Number(absolute) < limitBytes);
        // RabbitMQ's schema takes the relative value when both are set: it must not be.
        assert.equal(conf.has('vm_memory_high_watermark.relative'), false);
      });

      test('not through RABBITMQ_VM_MEMORY_HIGH_WATERMARK, which makes the 4.x entrypoint exit', () => {
        assert.deepEqual((container.env ?? []).filter((variable) => variable.name.startsWith('RABBITMQ_VM_MEMORY')), []);
      });
    });
  }

  test('follows the configured limit: 2 GiB gives a higher threshold and rolls the pod', () => {
    const larger: ShopConfig = { ...defaultConfig, rabbitmq: { ...defaultConfig.rabbitmq, resources: resources(100, 1000, 256, 2048) } };
    const before = broker(parseManifests(renderManifests(defaultConfig)));
    const after = broker(parseManifests(renderManifests(larger)));
    assert.equal(after.limitMiB, 2048);
    assert.equal(settings(after.files[0]!.text!).get('vm_memory_high_watermark.absolute'), String(Math.floor(2048 * 2 ** 20 * 0.6)));
    const checksum = (b: typeof before) => b.statefulSet.spec.template.metadata.annotations?.['checksum/config'];
    assert.ok(checksum(before) && checksum(after) && checksum(before) !== checksum(after), 'a changed file changes the pod template');
  });
});
