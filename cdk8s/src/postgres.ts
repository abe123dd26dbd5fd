/**
 * One Postgres instance: a StatefulSet with a volume per replica, its headless Service, the
 * superuser password from a Secret created outside the manifests, and pg_isready probes.
 * Runs as the image's own postgres user (999) with a read-only root filesystem.
 */
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
} from './workload-defaults.ts';
import { infraPorts } from './topology.ts';

/** The postgres user of the Debian-based official image. */
export const postgresUid = 999;
const port = infraPorts.postgres;
const dataPath = '/var/lib/postgresql/data';

export interface PostgresProps {
  /** Names the StatefulSet, its headless Service and its volumes. */
  readonly name: string;
  readonly image: string;
  readonly pullPolicy: PullPolicy;
  readonly replicas: InfraReplicas;
  readonly storageGiB: number;
  /** Delete the data volumes with the StatefulSet; by default they are kept. */
  readonly deleteVolumes: boolean;
  readonly resources: Resources;
  /** The databases to create when the volume is first initialized. */
  readonly databases: readonly string[];
  /** The superuser's password: Secret name and key. */
  readonly passwordSecret: { readonly name: string; readonly key: string };
}

export class Postgres extends Construct {
  readonly statefulSet: kplus.StatefulSet;
  readonly service: kplus.Service;

  constructor(scope: Construct, id: string, props: PostgresProps) {
    super(scope, id);
    const labels = labelsFor(props.name, 'database');

    this.service = new kplus.Service(this, 'service', {
      metadata: { name: props.name, labels },
      clusterIP: 'None',
      ports: [{ name: 'postgres', port, targetPort: port }],
    });

    // Postgres stops with a fast shutdown (the image's STOPSIGNAL); give it time to checkpoint.
    this.statefulSet = hardenedStatefulSet(this, { name: props.name, labels, service: this.service, replicas: props.replicas, uid: postgresUid, terminationGraceSeconds: 60 });

    const [firstDatabase, ...otherDatabases] = props.databases;
    const ready = ['pg_isready', '--quiet', '--host=127.0.0.1', `--port=${port}`, '--username=postgres'];
    const container = this.statefulSet.addContainer({
      name: 'postgres',
      image: props.image,
      imagePullPolicy: pullPolicy(props.pullPolicy),
      ports: [{ number: port, name: 'postgres' }],
      envVariables: {
        POSTGRES_PASSWORD: kplus.EnvValue.fromSecretValue({ secret: kplus.Secret.fromSecretName(this, 'password', props.passwordSecret.name), key: props.passwordSecret.key }),
        // A subdirectory: initdb wants an empty directory it owns, not the volume's root.
        PGDATA: kplus.EnvValue.fromValue(`${dataPath}/pgdata`),
        ...(firstDatabase ? { POSTGRES_DB: kplus.EnvValue.fromValue(firstDatabase) } : {}),
      },
      resources: containerResources(props.resources),
      securityContext: restrictedContainer(postgresUid),
      // initdb on a new volume takes a while on a slow disk: three minutes.
      startup: kplus.Probe.fromCommand(ready, probeOptions({ periodSeconds: 2, timeoutSeconds: 3, failureThreshold: 90 })),
      readiness: kplus.Probe.fromCommand(ready, probeOptions({ periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 })),
      liveness: kplus.Probe.fromCommand(ready, probeOptions({ periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 })),
    });
    // The unix socket and lock file, and temporary files: the rest of the root stays read-only.
    container.mount('/var/run/postgresql', emptyDir(this, 'run', 16));
    container.mount('/tmp', emptyDir(this, 'tmp', 64));

    if (otherDatabases.length > 0) {
      // The image runs /docker-entrypoint-initdb.d/*.sql once, on an empty volume.
      const init = new kplus.ConfigMap(this, 'init', {
        metadata: { name: `${props.name}-init`, labels },
        data: { 'create-databases.sql': otherDatabases.map((database) => `CREATE DATABASE ${database};\n`).join('') },
      });
      container.mount('/docker-entrypoint-initdb.d', kplus.Volume.fromConfigMap(this, 'init-volume', init, { name: 'init' }), { readOnly: true });
    }

    addVolumeClaimTemplate(this.statefulSet, { name: 'data', storageGiB: props.storageGiB, mountPath: dataPath, labels });
    if (props.deleteVolumes) deleteVolumesWithWorkload(this.statefulSet);
  }
}
