/**
 * Where Prometheus finds each service's /metrics: the gateway on a port of its own (9464,
 * METRICS_PORT), which no Service publishes, because its port 9000 is the public API; the other
 * services on their own port. The NetworkPolicy side (nothing reaches 9464) is in
 * network-policy.test.ts, whose intended flows have no 9464.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { serviceNames } from '@scaleshop/platform/topology';
import { objectId, services, variants, workloads } from './manifests.ts';

const gatewayMetricsPort = 9464;

for (const variant of variants()) {
  describe(`metrics: ${variant.name}`, () => {
    const deployments = workloads(variant.objects).filter((workload) => (serviceNames as readonly string[]).includes(workload.metadata.name));
    /** The port a service's container serves its API on. */
    const httpPortOf = (name: string) => deployments.find((workload) => workload.metadata.name === name)?.spec.template.spec.containers[0]?.ports?.find((port) => port.name === 'http')?.containerPort;
    const configOf = (name: string) => variant.objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === `${name}-config`)?.data ?? {};

    test('the gateway serves /metrics on 9464: METRICS_PORT, a container port named metrics, the scrape annotations', () => {
      const gateway = deployments.find((workload) => workload.metadata.name === 'gateway');
      assert.ok(gateway);
      assert.equal(configOf('gateway').METRICS_PORT, String(gatewayMetricsPort));
      const container = gateway.spec.template.spec.containers.find((candidate) => candidate.name === 'gateway');
      assert.ok(container?.ports?.some((port) => port.name === 'metrics' && port.containerPort === gatewayMetricsPort && port.hostPort === undefined));
      assert.deepEqual(
        Object.fromEntries(Object.entries(gateway.spec.template.metadata.annotations ?? {}).filter(([key]) => key.startsWith('prometheus.io/'))),
        { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(gatewayMetricsPort), 'prometheus.io/path': '/metrics' },
      );
    });

    test('no Service publishes the gateway’s metrics port', () => {
      for (const service of services(variant.objects)) {
        for (const port of service.spec.ports) {
          assert.ok(port.port !== gatewayMetricsPort && port.targetPort !== gatewayMetricsPort && port.targetPort !== 'metrics', `${objectId(service)} publishes ${port.port} → ${port.targetPort}`);
        }
      }
      const gateway = services(variant.objects).find((service) => service.metadata.name === 'gateway');
      assert.deepEqual(gateway?.spec.ports.map((port) => port.port), [httpPortOf('gateway')]);
    });

    test('the other services keep /metrics on their own port, with no METRICS_PORT', () => {
      for (const deployment of deployments.filter((workload) => workload.metadata.name !== 'gateway')) {
        const name = deployment.metadata.name;
        assert.equal(configOf(name).METRICS_PORT, undefined, name);
        assert.ok(httpPortOf(name), `${name} exposes a port named http`);
        assert.equal(deployment.spec.template.metadata.annotations?.['prometheus.io/port'], String(httpPortOf(name)), name);
        assert.equal(deployment.spec.template.metadata.annotations?.['prometheus.io/scrape'], 'true', name);
      }
    });
  });
}
