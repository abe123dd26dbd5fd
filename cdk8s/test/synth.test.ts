import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { configProblems, defaultConfig, withSharedPostgres } from '../src/config.ts';
import { manifestFile, renderManifests } from '../src/render.ts';
import { writeIfChanged } from '../src/write-if-changed.ts';
import { allContainers, objectId, parseManifests, parseMemory, readCommittedManifests, repositoryRoot, variants, workloads, type K8sObject } from './manifests.ts';

const appServices = ['gateway', 'order', 'payment', 'email', 'product', 'user', 'cart', 'storefront'];
const dbServices = ['order', 'payment', 'email', 'product', 'user', 'cart'];

describe('npm run synth', () => {
  test('k8s/ is not stale: synthesizing the default configuration again gives the committed file', () => {
    const rendered = renderManifests(defaultConfig);
    assert.ok(rendered === readCommittedManifests(), `${manifestFile} is stale: run \`npm run synth\` and commit the result`);
  });

  test('k8s/ holds only the synthesized file', () => {
    assert.deepEqual(readdirSync(join(repositoryRoot, 'k8s')), ['scaleshop.k8s.yaml']);
  });

  test('the output is deterministic', () => {
    assert.equal(renderManifests(defaultConfig), renderManifests(defaultConfig));
    assert.equal(renderManifests(withSharedPostgres(defaultConfig)), renderManifests(withSharedPostgres(defaultConfig)));
  });

  test('the default configuration synthesizes exactly the documented objects', () => {
    const ids = parseManifests(readCommittedManifests()).map(objectId).sort();
    const expected = [
      'Namespace/scaleshop',
      ...appServices.flatMap((name) => [`Deployment/${name}`, `Service/${name}`, `ConfigMap/${name}-config`]),
      ...dbServices.flatMap((name) => [`StatefulSet/postgres-${name}`, `Service/postgres-${name}`]),
      'StatefulSet/rabbitmq',
      'Service/rabbitmq',
      'Service/rabbitmq-nodes',
      'ConfigMap/rabbitmq-config',
      // The fault knobs of the simulated providers, read from a file while the pods run.
      'ConfigMap/payment-knobs',
      'ConfigMap/email-knobs',
      'Deployment/jaeger',
      'Service/jaeger',
      'ConfigMap/jaeger-config',
      'Deployment/mailpit',
      'Service/mailpit',
      'NetworkPolicy/default-deny',
      ...[...appServices, ...dbServices.map((name) => `postgres-${name}`), 'rabbitmq', 'jaeger', 'mailpit'].map((name) => `NetworkPolicy/allow-${name}`),
    ].sort();
    assert.deepEqual(ids, expected);
  });

  test('a Redis runs only for the redis cache, and product is pointed at it', () => {
    const settingsOf = (objects: K8sObject[]) => objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === 'product-config')?.data ?? {};
    const committed = parseManifests(readCommittedManifests());
    assert.equal(committed.filter((object) => object.metadata.name === 'redis').length, 0, 'no Redis with the default local cache');
    assert.equal(settingsOf(committed).PRODUCT_CACHE, 'local');
    assert.equal(settingsOf(committed).REDIS_URL, undefined);
    for (const mode of ['off', 'local'] as const) {
      assert.equal(parseManifests(renderManifests({ ...defaultConfig, productCache: mode })).some((object) => object.metadata.name === 'redis'), false, mode);
    }

    const objects = parseManifests(renderManifests({ ...defaultConfig, productCache: 'redis' }));
    assert.deepEqual(objects.filter((object) => object.metadata.name === 'redis').map((object) => object.kind).sort(), ['Service', 'StatefulSet']);
    assert.ok(objects.some((object) => object.kind === 'NetworkPolicy' && object.metadata.name === 'allow-redis'));
    assert.equal(settingsOf(objects).PRODUCT_CACHE, 'redis');
    assert.equal(settingsOf(objects).REDIS_URL, 'redis://redis:6379');
    const redis = workloads(objects).find((workload) => workload.metadata.name === 'redis')!;
    const container = redis.spec.template.spec.containers[0]!;
    const args = container.args ?? [];
    // Eviction before the kernel's OOM kill: Redis's ceiling sits below the container's limit.
    const maxMemoryMiB = Number(/^(\d+)mb$/.exec(args[args.indexOf('--maxmemory') + 1] ?? '')?.[1]);
    assert.ok(maxMemoryMiB > 0 && maxMemoryMiB < parseMemory(container.resources?.limits?.memory ?? ''), `maxmemory ${maxMemoryMiB} MiB under the limit`);
    assert.equal(args[args.indexOf('--maxmemory-policy') + 1], 'allkeys-lru');
    assert.equal(args[args.indexOf('--save') + 1], '', 'a cache saves nothing');
  });

  test('a Redis ceiling too close to its limit is refused, with the reason', () => {
    assert.throws(
      () => renderManifests({ ...defaultConfig, productCache: 'redis', redis: { ...defaultConfig.redis, maxMemoryMiB: 128 } }),
      /redis: maxMemoryMiB leaves too little of the memory limit/,
    );
  });

  test('sharedPostgres runs one instance, postgres, that creates every database', () => {
    const objects = parseManifests(renderManifests(withSharedPostgres(defaultConfig)));
    const statefulSets = objects.filter((object) => object.kind === 'StatefulSet').map((object) => object.metadata.name);
    assert.deepEqual(statefulSets.sort(), ['postgres', 'rabbitmq']);
    const init = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === 'postgres-init');
    assert.ok(init?.data, 'the shared instance has an init script');
    const script = Object.values(init.data).join('');
    const postgres = workloads(objects).find((workload) => workload.metadata.name === 'postgres');
    const firstDatabase = postgres?.spec.template.spec.containers[0]?.env?.find((variable) => variable.name === 'POSTGRES_DB')?.value;
    for (const service of dbServices) {
      const database = `scaleshop_${service}`;
      assert.ok(firstDatabase === database || script.includes(`CREATE DATABASE ${database};`), `${database} is created`);
    }
  });
});

describe('npm run synth writes k8s/ only when its content changes', () => {
  test('a no-op synth leaves k8s/ untouched: same files, same inode, same mtime and ctime', (t) => {
    const target = join(repositoryRoot, manifestFile);
    if (renderManifests(defaultConfig) !== readCommittedManifests()) {
      t.skip(`${manifestFile} is stale (the staleness test says so); a synth now would rightly rewrite it`);
      return;
    }
    const before = statSync(target);
    const listing = readdirSync(join(repositoryRoot, 'k8s'));
    const run = spawnSync(process.execPath, [join(repositoryRoot, 'cdk8s/src/main.ts')], { cwd: repositoryRoot, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /is up to date/);
    const after = statSync(target);
    assert.deepEqual(
      { ino: after.ino, mtimeMs: after.mtimeMs, ctimeMs: after.ctimeMs, listing: readdirSync(join(repositoryRoot, 'k8s')) },
      { ino: before.ino, mtimeMs: before.mtimeMs, ctimeMs: before.ctimeMs, listing },
    );
  });

  test('writeIfChanged: creates a missing file, skips identical content, rewrites changed content', () => {
    const dir = mkdtempSync(join(tmpdir(), 'synth-'));
    try {
      const file = join(dir, 'k8s', 'out.yaml');
      assert.equal(writeIfChanged(file, 'a: 1\n'), true);
      // An old mtime, so that a rewrite within the same clock tick would still show.
      utimesSync(file, new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
      const old = statSync(file);
      assert.equal(writeIfChanged(file, 'a: 1\n'), false);
      assert.equal(statSync(file).mtimeMs, old.mtimeMs);
      assert.equal(writeIfChanged(file, 'a: 2\n'), true);
      assert.notEqual(statSync(file).mtimeMs, old.mtimeMs);
      assert.equal(readFileSync(file, 'utf8'), 'a: 2\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('every variant', () => {
  for (const variant of variants()) {
    describe(variant.name, () => {
      test('no application Deployment sets replicas, so `kubectl scale` sticks across re-applies', () => {
        for (const workload of workloads(variant.objects)) {
          if (!appServices.includes(workload.metadata.name)) continue;
          assert.equal(workload.kind, 'Deployment');
          assert.ok(!('replicas' in workload.spec), `${objectId(workload)} sets spec.replicas`);
        }
      });

      test('infrastructure replicas come from the configuration', () => {
        for (const workload of workloads(variant.objects)) {
          if (appServices.includes(workload.metadata.name)) continue;
          assert.equal(workload.spec.replicas, 1, `${objectId(workload)}`);
        }
      });

      test('no Secret and no secret value is in the manifests', () => {
        assert.deepEqual(
          variant.objects.filter((object) => object.kind === 'Secret').map(objectId),
          [],
        );
        const text = JSON.stringify(variant.objects);
        assert.doesNotMatch(text, /-----BEGIN/);
        assert.doesNotMatch(text, /(postgres|amqp)s?:\/\/[^"@/]*:[^"@/]*@/, 'no URL with credentials');
        for (const workload of workloads(variant.objects)) {
          for (const { container } of allContainers(workload.spec.template.spec)) {
            for (const variable of container.env ?? []) {
              if (/PASSWORD|PASS$|SECRET|PRIVATE|_KEY$|DATABASE_URL|RABBITMQ_URL|USER$/.test(variable.name)) {
                assert.ok(variable.valueFrom?.secretKeyRef, `${objectId(workload)} ${container.name}: ${variable.name} comes from a Secret`);
              }
            }
          }
        }
        for (const object of variant.objects.filter((o) => o.kind === 'ConfigMap')) {
          for (const key of Object.keys(object.data ?? {})) assert.doesNotMatch(key, /PASSWORD|SECRET|PRIVATE|DATABASE_URL|RABBITMQ_URL/, `${objectId(object)} ${key}`);
        }
      });

      test('images are pulled only when missing; the services run scaleshop/<service> untagged', () => {
        for (const workload of workloads(variant.objects)) {
          for (const { container } of allContainers(workload.spec.template.spec)) {
            assert.equal(container.imagePullPolicy, 'IfNotPresent', `${objectId(workload)} ${container.name}`);
            if (appServices.includes(workload.metadata.name)) assert.equal(container.image, `scaleshop/${workload.metadata.name}`);
            else assert.match(container.image, /:[\w][\w.-]*$/, `${objectId(workload)}: infrastructure images are pinned by tag`);
          }
        }
      });

      test('every object but the Namespace is in the namespace', () => {
        for (const object of variant.objects) {
          if (object.kind === 'Namespace') assert.equal(object.metadata.namespace, undefined);
          else assert.equal(object.metadata.namespace, variant.config.namespace, objectId(object));
        }
      });
    });
  }
});

describe('the configuration', () => {
  test('the default is valid', () => {
    assert.deepEqual(configProblems(defaultConfig), []);
  });

  test('a bad configuration fails the synth, naming every problem', () => {
    const bad = {
      ...defaultConfig,
      namespace: 'Not_A_Label',
      latency: { ...defaultConfig.latency, paymentFailureRate: 2 },
      infrastructure: { ...defaultConfig.infrastructure, mailpit: false },
      services: { ...defaultConfig.services, order: { resources: { cpu: { requestMillis: 500, limitMillis: 100 }, memory: { requestMiB: 128, limitMiB: 256 } }, env: { DB_PASSWORD: 'x' } } },
    };
    assert.throws(() => renderManifests(bad), (error: Error) => {
      for (const fragment of ['namespace', 'paymentFailureRate', 'SMTP_URL', 'services.order.resources.cpu: the CPU limit is below its request', 'services.order.env: a key looks like a secret']) {
        assert.ok(error.message.includes(fragment), `names ${fragment}: ${error.message}`);
      }
      return true;
    });
  });
});
