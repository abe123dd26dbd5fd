/**
 * Pod Security "restricted" (https://kubernetes.io/docs/concepts/security/pod-security-standards/)
 * for every pod template, plus what we hold ourselves to on top: a numeric user, a read-only
 * root filesystem with an emptyDir at /tmp, explicit requests and limits, and three probes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allContainers, objectId, parseCpu, parseMemory, variants, workloads, type Container, type PodSpec, type Workload } from './manifests.ts';
import { restrictedViolations } from './restricted.ts';

/**
 * Containers allowed a writable root filesystem, each with the reason. Empty: every image,
 * infrastructure included, runs read-only with emptyDirs for the paths it writes.
 */
const writableRootAllowlist: Record<string, string> = {};

function writablePaths(spec: PodSpec, container: Container): string[] {
  const emptyDirs = new Set((spec.volumes ?? []).filter((volume) => volume.emptyDir).map((volume) => volume.name));
  return (container.volumeMounts ?? []).filter((mount) => emptyDirs.has(mount.name)).map((mount) => mount.mountPath);
}

function eachVariantWorkload(check: (workload: Workload) => void): void {
  for (const variant of variants()) {
    for (const workload of workloads(variant.objects)) {
      try {
        check(workload);
      } catch (error) {
        (error as Error).message = `${variant.name}, ${objectId(workload)}: ${(error as Error).message}`;
        throw error;
      }
    }
  }
}

describe('Pod Security "restricted"', () => {
  test('the namespace enforces it', () => {
    const namespace = variants()[0]!.objects.find((object) => object.kind === 'Namespace');
    assert.equal(namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.ok(namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce-version']);
    assert.equal(namespace?.metadata.labels?.['pod-security.kubernetes.io/warn'], 'restricted');
    assert.equal(namespace?.metadata.labels?.['pod-security.kubernetes.io/audit'], 'restricted');
  });

  test('every pod template meets it', () => {
    eachVariantWorkload((workload) => assert.deepEqual(restrictedViolations(workload.spec.template.spec), []));
  });

  test('the check catches what restricted forbids', () => {
    const base = structuredClone(workloads(variants()[0]!.objects).find((workload) => workload.metadata.name === 'gateway')!.spec.template.spec);
    const broken = (change: (spec: PodSpec) => void) => {
      const spec = structuredClone(base);
      change(spec);
      return restrictedViolations(spec);
    };
    const container = (spec: PodSpec) => spec.containers[0]!;
    assert.deepEqual(restrictedViolations(base), []);
    assert.notDeepEqual(broken((spec) => (container(spec).securityContext!.allowPrivilegeEscalation = true)), []);
    assert.notDeepEqual(broken((spec) => (container(spec).securityContext!.capabilities = { drop: ['NET_RAW'] })), []);
    assert.notDeepEqual(broken((spec) => (container(spec).securityContext!.seccompProfile = { type: 'Unconfined' })), []);
    assert.notDeepEqual(
      broken((spec) => {
        delete container(spec).securityContext!.runAsUser;
        delete spec.securityContext!.runAsUser;
      }),
      [],
    );
    assert.notDeepEqual(broken((spec) => (spec.volumes = [...(spec.volumes ?? []), { name: 'host', hostPath: { path: '/' } }])), []);
    assert.notDeepEqual(broken((spec) => (spec.hostNetwork = true)), []);
  });

  test('every container has a read-only root filesystem and an emptyDir for /tmp, or a documented reason', () => {
    eachVariantWorkload((workload) => {
      const spec = workload.spec.template.spec;
      for (const { container, init } of allContainers(spec)) {
        const key = `${workload.metadata.name}/${container.name}`;
        if (container.securityContext?.readOnlyRootFilesystem !== true) {
          assert.ok(writableRootAllowlist[key], `${key} has a writable root filesystem and no entry in the allowlist`);
          continue;
        }
        if (!init) assert.ok(writablePaths(spec, container).includes('/tmp'), `${key}: /tmp must be an emptyDir`);
      }
    });
  });

  test('the Node services can take Tilt live updates: the synced source paths are writable emptyDirs', () => {
    const defaults = workloads(variants()[0]!.objects);
    for (const name of ['gateway', 'order', 'payment', 'email', 'product', 'user', 'cart']) {
      const workload = defaults.find((candidate) => candidate.metadata.name === name)!;
      const spec = workload.spec.template.spec;
      const container = spec.containers.find((candidate) => candidate.name === name)!;
      const writable = writablePaths(spec, container);
      for (const path of [`/app/services/${name}/src`, '/app/services/platform/src']) assert.ok(writable.includes(path), `${name}: ${path}`);
      const seeding = spec.initContainers?.find((candidate) => candidate.image === container.image);
      assert.ok(seeding, `${name}: an init container of the same image seeds the sources`);
      for (const path of [`/app/services/${name}/src`, '/app/services/platform/src']) assert.ok(seeding.command?.join(' ').includes(`cp -R ${path}/.`), `${name}: copies ${path}`);
    }
  });
});

describe('resources and probes', () => {
  test('every container has CPU and memory requests and limits, limits at least the requests', () => {
    eachVariantWorkload((workload) => {
      for (const { container } of allContainers(workload.spec.template.spec)) {
        const { requests = {}, limits = {} } = container.resources ?? {};
        for (const resource of ['cpu', 'memory']) {
          assert.ok(requests[resource], `${container.name}: requests.${resource}`);
          assert.ok(limits[resource], `${container.name}: limits.${resource}`);
        }
        assert.ok(parseCpu(limits.cpu!) >= parseCpu(requests.cpu!), `${container.name}: cpu`);
        assert.ok(parseMemory(limits.memory!) >= parseMemory(requests.memory!), `${container.name}: memory`);
        // cdk8s-plus defaults (1 CPU and 512Mi requested per container) would not fit a laptop.
        assert.ok(parseCpu(requests.cpu!) <= 250, `${container.name}: requests ${requests.cpu} CPU`);
        assert.ok(parseMemory(requests.memory!) <= 512, `${container.name}: requests ${requests.memory}`);
      }
    });
  });

  test('every container has readiness, liveness and startup probes', () => {
    eachVariantWorkload((workload) => {
      for (const container of workload.spec.template.spec.containers) {
        for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) assert.ok(container[probe], `${container.name}: ${probe}`);
      }
    });
  });

  test('the Node services probe their health routes: ready on /health/ready, alive on /health/live', () => {
    const defaults = workloads(variants()[0]!.objects);
    for (const name of ['gateway', 'order', 'payment', 'email', 'product', 'user', 'cart']) {
      const container = defaults.find((workload) => workload.metadata.name === name)!.spec.template.spec.containers[0]!;
      const port = container.ports?.[0]?.containerPort;
      assert.deepEqual(container.readinessProbe?.httpGet && { ...container.readinessProbe.httpGet }, { path: '/health/ready', port, scheme: 'HTTP' });
      assert.deepEqual(container.livenessProbe?.httpGet && { ...container.livenessProbe.httpGet }, { path: '/health/live', port, scheme: 'HTTP' });
      assert.deepEqual(container.startupProbe?.httpGet && { ...container.startupProbe.httpGet }, { path: '/health/live', port, scheme: 'HTTP' });
    }
  });
});
