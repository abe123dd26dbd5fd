/**
 * The saga's broker: a one-node RabbitMQ StatefulSet with the management UI, its data on a
 * persistent volume, the default user's credentials from a Secret created outside the
 * manifests, a headless Service `<name>-nodes` that governs the StatefulSet, and a client
 * Service `<name>` for AMQP (5672) and the UI (15672), as the RabbitMQ cluster operator lays
 * them out. Runs as the image's own rabbitmq user (999) with a read-only root filesystem.
 */
import { createHash } from 'node:crypto';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import type { InfraReplicas, PullPolicy, Resources } from './config.ts';
import {
  hardenedStatefulSet,
  addVolumeClaimTemplate,
  deleteVolumesWithWorkload,
  containerResources,
  emptyDir,
  labelsFor,
  probeOptions,
  pullPolicy,
  restrictedContainer,
  selectByName,
} from './workload-defaults.ts';
import { infraPorts } from './topology.ts';

export const rabbitmqUid = 999;
const amqpPort = infraPorts.amqp;
const managementPort = infraPorts.rabbitmqManagement;

/**
 * The memory alarm at this fraction of the container's memory limit: RabbitMQ 4's own default
 * fraction, applied to the limit, which the node does not always detect in a container (it may
 * see the Docker VM's memory and alarm only after the OOM killer has struck). Publishers are
 * throttled there, and the rest of the limit is room for what the alarm does not stop: the
 * Erlang runtime, the management plugin, garbage collection.
 */
export const memoryHighWatermarkFraction = 0.6;

/** The alarm threshold in bytes for a container memory limit in MiB. */
export function memoryHighWatermarkBytes(limitMiB: number): number {
  return Math.floor(limitMiB * 2 ** 20 * memoryHighWatermarkFraction);
}

/**
 * Sorts after the image's 10-defaults.conf in /etc/rabbitmq/conf.d, which RabbitMQ reads in
 * alphabetical order; mounted alone (subPath) so that the image's own files stay visible.
 */
export const memoryConfigFile = '30-memory.conf';
const confDirectory = '/etc/rabbitmq/conf.d';

/** The conf.d file that sets the memory alarm for a container memory limit in MiB. */
export function memoryConfig(limitMiB: number): string {
  return [
    `# ${memoryHighWatermarkFraction} of the container's ${limitMiB} MiB memory limit (cdk8s/src/rabbitmq.ts).`,
    `vm_memory_high_watermark.absolute = ${memoryHighWatermarkBytes(limitMiB)}`,
    '',
  ].join('\n');
}

export interface RabbitMqProps {
  readonly name: string;
  readonly image: string;
  readonly pullPolicy: PullPolicy;
  readonly replicas: InfraReplicas;
  readonly storageGiB: number;
  /** Delete the data volumes with the StatefulSet; by default they are kept. */
  readonly deleteVolumes: boolean;
  readonly resources: Resources;
  /** The Secret with the default user's credentials and its two keys. */
  readonly credentialsSecret: { readonly name: string; readonly usernameKey: string; readonly passwordKey: string };
}

export class RabbitMq extends Construct {
  readonly statefulSet: kplus.StatefulSet;
  /** What clients connect to: a stable virtual IP, so a reconnect after a restart needs no fresh DNS answer. */
  readonly service: kplus.Service;
  /** The StatefulSet's governing Service: headless, so that each pod gets its own DNS name. */
  readonly nodes: kplus.Service;

  constructor(scope: Construct, id: string, props: RabbitMqProps) {
    super(scope, id);
    const labels = labelsFor(props.name, 'broker');

    // A StatefulSet's serviceName must name a headless Service for its pods' DNS records
    // (<pod>.<service>); the node name rabbit@<name>-0 comes from the pod's stable hostname.
    this.nodes = new kplus.Service(this, 'nodes', {
      metadata: { name: `${props.name}-nodes`, labels },
      clusterIP: 'None',
      ports: [{ name: 'amqp', port: amqpPort, targetPort: amqpPort }],
    });
    this.service = new kplus.Service(this, 'service', {
      metadata: { name: props.name, labels },
      type: kplus.ServiceType.CLUSTER_IP,
      ports: [
        { name: 'amqp', port: amqpPort, targetPort: amqpPort },
        { name: 'management', port: managementPort, targetPort: managementPort },
      ],
    });
    selectByName(this.service, props.name);

    // Time to close connections and flush queues to disk.
    this.statefulSet = hardenedStatefulSet(this, { name: props.name, labels, service: this.nodes, replicas: props.replicas, uid: rabbitmqUid, terminationGraceSeconds: 60 });

    const secret = kplus.Secret.fromSecretName(this, 'credentials', props.credentialsSecret.name);
    // The AMQP listener opens once the node has booted, as the RabbitMQ cluster operator probes it;
    // CLI probes (rabbitmq-diagnostics) would start an Erlang VM every period.
    const amqp = (timings: Parameters<typeof probeOptions>[0]) => kplus.Probe.fromTcpSocket({ port: amqpPort, ...probeOptions(timings) });
    const container = this.statefulSet.addContainer({
      name: 'rabbitmq',
      image: props.image,
      imagePullPolicy: pullPolicy(props.pullPolicy),
      ports: [
        { number: amqpPort, name: 'amqp' },
        { number: managementPort, name: 'management' },
      ],
      envVariables: {
        // Read by the server itself (rabbitmq-server#3299) when the database is first created.
        RABBITMQ_DEFAULT_USER: kplus.EnvValue.fromSecretValue({ secret, key: props.credentialsSecret.usernameKey }),
        RABBITMQ_DEFAULT_PASS: kplus.EnvValue.fromSecretValue({ secret, key: props.credentialsSecret.passwordKey }),
      },
      resources: containerResources(props.resources),
      securityContext: restrictedContainer(rabbitmqUid),
      startup: amqp({ periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 36 }),
      readiness: amqp({ periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 }),
      liveness: amqp({ periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6 }),
    });
    container.mount('/tmp', emptyDir(this, 'tmp', 64));
    container.mount('/var/log/rabbitmq', emptyDir(this, 'log', 64));

    // Not RABBITMQ_VM_MEMORY_HIGH_WATERMARK: the image's entrypoint refuses to start with it.
    const config = new kplus.ConfigMap(this, 'config', {
      metadata: { name: `${props.name}-config`, labels },
      data: { [memoryConfigFile]: memoryConfig(props.resources.memory.limitMiB) },
    });
    container.mount(`${confDirectory}/${memoryConfigFile}`, kplus.Volume.fromConfigMap(this, 'config-volume', config, { name: 'config' }), {
      subPath: memoryConfigFile,
      readOnly: true,
    });
    // A subPath mount never sees ConfigMap updates, and RabbitMQ reads its configuration only at
    // boot: a changed file rolls the pod.
    this.statefulSet.podMetadata.addAnnotation('checksum/config', createHash('sha256').update(JSON.stringify(config.data)).digest('hex'));

    // HOME and the data directory: the Erlang cookie, the message store, the definitions.
    addVolumeClaimTemplate(this.statefulSet, { name: 'data', storageGiB: props.storageGiB, mountPath: '/var/lib/rabbitmq', labels });
    if (props.deleteVolumes) deleteVolumesWithWorkload(this.statefulSet);
  }
}
