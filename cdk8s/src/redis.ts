/**
 * Redis as the product catalog's shared cache (PRODUCT_CACHE=redis): a StatefulSet, so the one
 * instance has a stable name and a headless Service, but no volume. A cache is rebuilt from
 * Postgres, so nothing is saved to disk, and memory is capped below the container's limit with
 * LRU eviction instead of an out-of-memory kill.
 */
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import type { InfraReplicas, PullPolicy, Resources } from './config.ts';
import { containerResources, emptyDir, hardenedStatefulSet, labelsFor, probeOptions, pullPolicy, restrictedContainer } from './workload-defaults.ts';
import { infraPorts } from './topology.ts';

/** The redis user of the Debian-based official image. */
export const redisUid = 999;
const port = infraPorts.redis;

export interface RedisProps {
  readonly name: string;
  readonly image: string;
  readonly pullPolicy: PullPolicy;
  readonly replicas: InfraReplicas;
  /** Redis's own ceiling (maxmemory); keys are evicted, least recently used first, beyond it. */
  readonly maxMemoryMiB: number;
  readonly resources: Resources;
}

export class Redis extends Construct {
  readonly statefulSet: kplus.StatefulSet;
  readonly service: kplus.Service;

  constructor(scope: Construct, id: string, props: RedisProps) {
    super(scope, id);
    const labels = labelsFor(props.name, 'cache');

    this.service = new kplus.Service(this, 'service', {
      metadata: { name: props.name, labels },
      clusterIP: 'None',
      ports: [{ name: 'redis', port, targetPort: port }],
    });
    this.statefulSet = hardenedStatefulSet(this, { name: props.name, labels, service: this.service, replicas: props.replicas, uid: redisUid, terminationGraceSeconds: 10 });

    const ping = ['redis-cli', '-h', '127.0.0.1', '-p', String(port), 'ping'];
    const container = this.statefulSet.addContainer({
      name: 'redis',
      image: props.image,
      imagePullPolicy: pullPolicy(props.pullPolicy),
      command: ['redis-server'],
      args: [
        '--port', String(port),
        // A cache: no snapshots, no append-only file.
        '--save', '',
        '--appendonly', 'no',
        '--maxmemory', `${props.maxMemoryMiB}mb`,
        '--maxmemory-policy', 'allkeys-lru',
        '--dir', '/data',
      ],
      ports: [{ number: port, name: 'redis' }],
      resources: containerResources(props.resources),
      securityContext: restrictedContainer(redisUid),
      startup: kplus.Probe.fromCommand(ping, probeOptions({ periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 })),
      readiness: kplus.Probe.fromCommand(ping, probeOptions({ periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 })),
      liveness: kplus.Probe.fromCommand(ping, probeOptions({ periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 3 })),
    });
    // The image's working directory; nothing is written there with saving off, but Redis wants it writable.
    container.mount('/data', emptyDir(this, 'data', 16));
    container.mount('/tmp', emptyDir(this, 'tmp', 16));
  }
}
