/**
 * Everything the manifests point at exists: Services select pods that exist, on ports those
 * pods expose; ConfigMaps and their keys are synthesized; Secrets and their keys are in the
 * documented list of Secrets created outside the manifests (cdk8s/src/secrets.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { calleesOf, serviceNames, urlVariable } from '@scaleshop/platform/topology';
import { defaultConfig } from '../src/config.ts';
import { renderManifests } from '../src/render.ts';
import { externalSecrets } from '../src/secrets.ts';
import { allContainers, objectId, parseManifests, selectorMatches, services, variants, workloads, type K8sObject, type Workload } from './manifests.ts';

for (const variant of variants()) {
  describe(`references: ${variant.name}`, () => {
    const pods = workloads(variant.objects);
    const configMaps = new Map(variant.objects.filter((object) => object.kind === 'ConfigMap').map((object) => [object.metadata.name, object]));
    const secrets = new Map(externalSecrets(variant.config).map((secret) => [secret.name, new Set(secret.keys)]));

    test('every workload selects its own pod template', () => {
      for (const workload of pods) {
        assert.ok(Object.keys(workload.spec.selector.matchLabels ?? {}).length > 0, `${objectId(workload)}: a selector`);
        assert.ok(selectorMatches(workload.spec.selector, workload.spec.template.metadata.labels ?? {}), objectId(workload));
      }
    });

    test('no two workloads select each other’s pods', () => {
      for (const workload of pods) {
        const others = pods.filter((other) => other !== workload && selectorMatches(workload.spec.selector, other.spec.template.metadata.labels ?? {}));
        assert.deepEqual(others.map(objectId), [], objectId(workload));
      }
    });

    test('every Service selects pods that exist, and its ports reach ports they expose', () => {
      for (const service of services(variant.objects)) {
        const selector = service.spec.selector ?? {};
        assert.ok(Object.keys(selector).length > 0, `${objectId(service)} has a selector`);
        const selected = pods.filter((workload) => selectorMatches({ matchLabels: selector }, workload.spec.template.metadata.labels ?? {}));
        assert.ok(selected.length > 0, `${objectId(service)} selects no pod`);
        for (const port of service.spec.ports) {
          const target = port.targetPort ?? port.port;
          for (const workload of selected) {
            const exposed = workload.spec.template.spec.containers.flatMap((container) => container.ports ?? []);
            const found = exposed.some((containerPort) => (typeof target === 'number' ? containerPort.containerPort === target : containerPort.name === target) && (containerPort.protocol ?? 'TCP') === (port.protocol ?? 'TCP'));
            assert.ok(found, `${objectId(service)} port ${port.port} → ${target}: not exposed by ${objectId(workload)}`);
          }
        }
      }
    });

    test('pods are selected by their name label alone, as the NetworkPolicies select them', () => {
      for (const workload of pods) {
        assert.deepEqual(workload.spec.selector, { matchLabels: { 'app.kubernetes.io/name': workload.metadata.name } }, objectId(workload));
        assert.equal(workload.spec.template.metadata.labels?.['app.kubernetes.io/name'], workload.metadata.name);
      }
      for (const service of services(variant.objects)) assert.deepEqual(Object.keys(service.spec.selector ?? {}), ['app.kubernetes.io/name'], objectId(service));
    });

    test('every StatefulSet is governed by a headless Service that selects it', () => {
      for (const workload of pods.filter((candidate) => candidate.kind === 'StatefulSet')) {
        const governing = services(variant.objects).find((service) => service.metadata.name === workload.spec.serviceName);
        assert.ok(governing, `${objectId(workload)}: Service ${workload.spec.serviceName}`);
        // The pods' own DNS records (<pod>.<serviceName>) exist only under a headless Service.
        assert.equal(governing.spec.clusterIP, 'None', `${objectId(governing)} governs ${objectId(workload)}: it must be headless`);
        assert.ok(selectorMatches({ matchLabels: governing.spec.selector ?? {} }, workload.spec.template.metadata.labels ?? {}));
      }
    });

    test('RabbitMQ: governed by the headless rabbitmq-nodes; clients keep the ClusterIP Service rabbitmq on 5672', () => {
      const rabbitmq = pods.find((workload) => workload.metadata.name === 'rabbitmq');
      assert.equal(rabbitmq?.spec.serviceName, 'rabbitmq-nodes');
      const client = services(variant.objects).find((service) => service.metadata.name === 'rabbitmq');
      assert.ok(client, 'Service rabbitmq');
      assert.notEqual(client.spec.clusterIP, 'None', 'the client Service has a virtual IP');
      assert.ok(client.spec.ports.some((port) => port.port === 5672), 'AMQP on 5672, where RABBITMQ_URL points');
      assert.ok(selectorMatches({ matchLabels: client.spec.selector ?? {} }, rabbitmq.spec.template.metadata.labels ?? {}));
    });

    test('the Postgres instances are headless Services named postgres-<service> (or postgres)', () => {
      const names = variant.config.infrastructure.sharedPostgres ? ['postgres'] : ['order', 'payment', 'email', 'product', 'user', 'cart'].map((service) => `postgres-${service}`);
      for (const name of names) assert.equal(services(variant.objects).find((service) => service.metadata.name === name)?.spec.clusterIP, 'None', name);
    });

    test('every ConfigMap and key referenced is synthesized', () => {
      for (const workload of pods) {
        const spec = workload.spec.template.spec;
        for (const { container } of allContainers(spec)) {
          for (const source of container.envFrom ?? []) {
            if (source.configMapRef) assert.ok(configMaps.has(source.configMapRef.name), `${objectId(workload)}: ConfigMap ${source.configMapRef.name}`);
          }
          for (const variable of container.env ?? []) {
            const ref = variable.valueFrom?.configMapKeyRef;
            if (ref) assert.ok(configMaps.get(ref.name)?.data?.[ref.key] !== undefined, `${objectId(workload)}: ConfigMap ${ref.name} key ${ref.key}`);
          }
        }
        for (const volume of spec.volumes ?? []) {
          if (!volume.configMap) continue;
          const configMap = configMaps.get(volume.configMap.name);
          assert.ok(configMap, `${objectId(workload)}: ConfigMap ${volume.configMap.name}`);
          for (const item of volume.configMap.items ?? []) assert.ok(configMap.data?.[item.key] !== undefined, `${objectId(workload)}: key ${item.key}`);
        }
      }
    });

    test('every Secret and key referenced is documented as created outside the manifests', () => {
      const used = new Map<string, Set<string>>();
      const use = (workload: K8sObject, name: string, key?: string) => {
        assert.ok(secrets.has(name), `${objectId(workload)}: Secret ${name} is not in cdk8s/src/secrets.ts`);
        if (key !== undefined) assert.ok(secrets.get(name)!.has(key), `${objectId(workload)}: Secret ${name} has no documented key ${key}`);
        used.set(name, new Set([...(used.get(name) ?? []), ...(key ? [key] : [])]));
      };
      for (const workload of pods) {
        const spec = workload.spec.template.spec;
        for (const { container } of allContainers(spec)) {
          for (const source of container.envFrom ?? []) if (source.secretRef) use(workload, source.secretRef.name);
          for (const variable of container.env ?? []) {
            const ref = variable.valueFrom?.secretKeyRef;
            if (ref) {
              assert.notEqual(ref.optional, true, `${objectId(workload)}: ${variable.name} must not be optional`);
              use(workload, ref.name, ref.key);
            }
          }
        }
        for (const volume of spec.volumes ?? []) if (volume.secret) use(workload, volume.secret.secretName);
      }
      // And the list has nothing the manifests do not use: it is what the secrets script creates.
      for (const [name, keys] of secrets) assert.deepEqual([...(used.get(name) ?? [])].sort(), [...keys].sort(), `Secret ${name}: documented keys vs used keys`);
    });

    test('every volume mount names a pod volume or a volume claim template', () => {
      for (const workload of pods) {
        const spec = workload.spec.template.spec;
        const volumes = new Set([...(spec.volumes ?? []).map((volume) => volume.name), ...(workload.spec.volumeClaimTemplates ?? []).map((claim) => claim.metadata.name)]);
        for (const { container } of allContainers(spec)) {
          for (const mount of container.volumeMounts ?? []) assert.ok(volumes.has(mount.name), `${objectId(workload)} ${container.name}: volume ${mount.name}`);
          const paths = (container.volumeMounts ?? []).map((mount) => mount.mountPath);
          assert.equal(new Set(paths).size, paths.length, `${objectId(workload)} ${container.name}: a path mounted twice`);
        }
      }
    });

    test('environment variables are set once per container, and every value is a string', () => {
      for (const workload of pods) {
        for (const { container } of allContainers(workload.spec.template.spec)) {
          const names = (container.env ?? []).map((variable) => variable.name);
          assert.equal(new Set(names).size, names.length, `${objectId(workload)} ${container.name}: ${names.join(',')}`);
          for (const variable of container.env ?? []) assert.ok(typeof variable.value === 'string' || variable.valueFrom, `${objectId(workload)} ${container.name}: ${variable.name} has no value`);
          const fromConfigMap = (container.envFrom ?? []).flatMap((source) => (source.configMapRef ? Object.keys(configMaps.get(source.configMapRef.name)?.data ?? {}) : []));
          assert.deepEqual(names.filter((name) => fromConfigMap.includes(name)), [], 'a variable both in env and in the ConfigMap');
        }
      }
      for (const configMap of configMaps.values()) for (const [key, value] of Object.entries(configMap.data ?? {})) assert.equal(typeof value, 'string', `${objectId(configMap)} ${key}`);
    });

    test('services reach each other and the infrastructure by Service DNS names', () => {
      const serviceNames = new Set(services(variant.objects).map((service) => service.metadata.name));
      for (const configMap of configMaps.values()) {
        for (const [key, value] of Object.entries(configMap.data ?? {})) {
          if (!/_URL$|_ENDPOINT$/.test(key)) continue;
          const url = new URL(value);
          if (url.hostname.endsWith('.example.test')) continue;
          assert.ok(serviceNames.has(url.hostname), `${objectId(configMap)} ${key}=${value}: no Service ${url.hostname}`);
          const service = services(variant.objects).find((candidate) => candidate.metadata.name === url.hostname)!;
          assert.ok(service.spec.ports.some((port) => port.port === Number(url.port)), `${objectId(configMap)} ${key}: port ${url.port}`);
        }
      }
    });
  });
}

describe('the environment of the Node services (default configuration)', () => {
  const objects = variants()[0]!.objects;
  const settingsOf = (name: string) => objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === `${name}-config`)?.data ?? {};
  const workloadOf = (name: string) => workloads(objects).find((workload) => workload.metadata.name === name) as Workload;
  const secretRefs = (name: string) =>
    Object.fromEntries((workloadOf(name).spec.template.spec.containers[0]!.env ?? []).filter((variable) => variable.valueFrom?.secretKeyRef).map((variable) => [variable.name, `${variable.valueFrom!.secretKeyRef!.name}/${variable.valueFrom!.secretKeyRef!.key}`]));

  test('telemetry goes to Jaeger, mail to Mailpit, and each pod knows its name and namespace', () => {
    for (const name of ['gateway', 'order', 'payment', 'email', 'product', 'user', 'cart']) {
      assert.equal(settingsOf(name).OTEL_SERVICE_NAME, name);
      assert.equal(settingsOf(name).OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger:4318');
      const env = workloadOf(name).spec.template.spec.containers[0]!.env ?? [];
      assert.equal(env.find((variable) => variable.name === 'K8S_POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
      assert.equal(env.find((variable) => variable.name === 'K8S_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
    }
    assert.equal(settingsOf('email').SMTP_URL, 'smtp://mailpit:1025');
  });

  test('the dev seed and the latency knobs', () => {
    assert.equal(settingsOf('product').SEED_CATALOG, 'true');
    assert.equal(settingsOf('user').SEED_DEV_USERS, 'true');
    // The knobs: not in the environment, but in a file of a ConfigMap volume the service watches.
    for (const [service, knobs] of [['payment', { failure_rate: 0, latency_ms: 1000 }], ['email', { latency_ms: 2000 }]] as const) {
      assert.equal(settingsOf(service).PAYMENT_LATENCY_MS ?? settingsOf(service).EMAIL_LATENCY_MS, undefined);
      const file = settingsOf(service).FAULT_KNOBS_FILE!;
      const container = workloadOf(service).spec.template.spec.containers[0]!;
      const mount = container.volumeMounts?.find((candidate) => file.startsWith(`${candidate.mountPath}/`));
      assert.ok(mount?.readOnly && mount.subPath === undefined, `${service}: ${file} on a read-only volume, not a subPath (which the kubelet never refreshes)`);
      const volume = workloadOf(service).spec.template.spec.volumes?.find((candidate) => candidate.name === mount.name);
      const configMap = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === volume?.configMap?.name);
      assert.deepEqual(JSON.parse(configMap?.data?.[file.slice(mount.mountPath.length + 1)] ?? 'null'), knobs);
    }
  });

  test('a change of the knobs alone changes their ConfigMap, not a pod template: no rollout', () => {
    const changed = { ...defaultConfig, latency: { paymentLatencyMs: 50, emailLatencyMs: 10, paymentFailureRate: 0.5 } };
    const [before, after] = [defaultConfig, changed].map((config) => new Map(parseManifests(renderManifests(config)).map((object) => [objectId(object), JSON.stringify(object)])));
    const differing = [...after!.keys()].filter((id) => after!.get(id) !== before!.get(id)).sort();
    assert.deepEqual(differing, ['ConfigMap/email-knobs', 'ConfigMap/payment-knobs']);
  });

  test('each service finds the services it calls at their Service, on the port that Service publishes', () => {
    for (const name of serviceNames) {
      for (const callee of calleesOf(name)) {
        const service = services(objects).find((candidate) => candidate.metadata.name === callee);
        assert.ok(service, `Service ${callee}`);
        assert.equal(settingsOf(name)[urlVariable(callee)], `http://${callee}:${service.spec.ports[0]!.port}`, `${name} → ${callee}`);
      }
    }
    assert.deepEqual(calleesOf('gateway').sort(), ['cart', 'email', 'order', 'payment', 'product', 'storefront', 'user'], 'the gateway routes to four services and the storefront, and watches the health of all seven');
  });

  test('secrets by reference: database and broker URLs, the JWT keys only where they belong', () => {
    assert.deepEqual(secretRefs('gateway'), { JWT_PUBLIC_KEY: 'scaleshop-jwt/public.pem' });
    assert.deepEqual(secretRefs('user'), { DATABASE_URL: 'user-database/url', JWT_PRIVATE_KEY: 'scaleshop-jwt/private.pem' });
    for (const name of ['order', 'payment', 'email', 'product', 'cart']) assert.deepEqual(secretRefs(name), { DATABASE_URL: `${name}-database/url`, RABBITMQ_URL: 'rabbitmq-url/url' });
  });
});
