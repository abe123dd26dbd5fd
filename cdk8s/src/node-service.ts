/**
 * One Node.js service of the shop: a Deployment (no replicas: `kubectl scale` owns them), a
 * ClusterIP Service of the same name, a ConfigMap of plain settings, Secret references for
 * everything secret, probes on the health routes, explicit resources and Pod Security
 * "restricted" with a read-only root filesystem.
 */
import { createHash } from 'node:crypto';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import type { PullPolicy, Resources } from './config.ts';
import {
  containerResources,
  emptyDir,
  hardenPodTemplate,
  labelsFor,
  probeOptions,
  pullPolicy,
  restrictedContainer,
  restrictedPod,
  selectorFor,
  withReplicas,
} from './workload-defaults.ts';

/** The numeric user of the images (the Dockerfile's `USER 10001`). */
export const appUid = 10001;

export interface SecretRef {
  readonly secret: string;
  readonly key: string;
}

export interface NodeServiceProps {
  /** Names the Deployment, the Service, the container and the ConfigMap (`<name>-config`). */
  readonly name: string;
  readonly image: string;
  readonly pullPolicy: PullPolicy;
  readonly port: number;
  /** Where /metrics is served, when not on `port`: a container port only, not on the Service. */
  readonly metricsPort?: number;
  readonly resources: Resources;
  /** Unset: no spec.replicas, so `kubectl scale` and autoscalers own the count. */
  readonly replicas?: number;
  /** Plain settings, delivered through the ConfigMap. */
  readonly settings: Readonly<Record<string, string>>;
  /**
   * Values the service reads from a file and applies while it runs (its fault knobs): a ConfigMap
   * `<name>-knobs` mounted at `mountPath`, outside the pod template's hash, so that a change
   * reaches the running pods (the kubelet refreshes the file) without a rollout.
   */
  readonly knobs?: { readonly mountPath: string; readonly fileName: string; readonly values: Readonly<Record<string, number>> };
  /** Secret settings: environment variable → Secret key, created outside the manifests. */
  readonly secretEnv: Readonly<Record<string, SecretRef>>;
  /**
   * Paths Tilt's live update writes into, as emptyDirs seeded from the image by an init
   * container, so that the root filesystem can stay read-only. Empty: no init container.
   */
  readonly liveUpdatePaths: readonly string[];
  /**
   * Where Tilt extracts its edits first (a tar replaces files, which `node --watch` then stops
   * seeing), for a copy in place onto liveUpdatePaths. Mounted only with liveUpdatePaths.
   */
  readonly liveUpdateStaging?: string;
}

export class NodeService extends Construct {
  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;
  readonly configMap: kplus.ConfigMap;

  constructor(scope: Construct, id: string, props: NodeServiceProps) {
    super(scope, id);
    const labels = labelsFor(props.name, 'app');

    this.configMap = new kplus.ConfigMap(this, 'config', { metadata: { name: `${props.name}-config`, labels }, data: { ...props.settings } });

    this.deployment = new kplus.Deployment(this, 'deployment', {
      metadata: { name: props.name, labels },
      select: false,
      podMetadata: {
        labels,
        annotations: {
          // envFrom does not restart pods when the ConfigMap changes; a changed hash does.
          'checksum/config': sha256(JSON.stringify(Object.entries(props.settings).sort())),
          // The scrape annotations of the Prometheus community chart's kubernetes-pods job.
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(props.metricsPort ?? props.port),
          'prometheus.io/path': '/metrics',
        },
      },
      securityContext: restrictedPod(appUid),
      automountServiceAccountToken: false,
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selectorFor(props.name) }));
    withReplicas(this.deployment, props.replicas);
    hardenPodTemplate(this.deployment);

    const env: Record<string, kplus.EnvValue> = {
      K8S_POD_NAME: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
      K8S_NAMESPACE: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE),
    };
    for (const [variable, ref] of Object.entries(props.secretEnv)) {
      const secret = kplus.Secret.fromSecretName(this, `secret-${variable}`, ref.secret);
      env[variable] = kplus.EnvValue.fromSecretValue({ secret, key: ref.key });
    }

    const container = this.deployment.addContainer({
      name: props.name,
      image: props.image,
      imagePullPolicy: pullPolicy(props.pullPolicy),
      ports: [{ number: props.port, name: 'http' }, ...(props.metricsPort === undefined ? [] : [{ number: props.metricsPort, name: 'metrics' }])],
      envFrom: [kplus.Env.fromConfigMap(this.configMap)],
      envVariables: env,
      resources: containerResources(props.resources),
      securityContext: restrictedContainer(appUid),
      // Start-up waits up to 30 s for Postgres, then migrates: allow two minutes.
      startup: kplus.Probe.fromHttpGet('/health/live', { port: props.port, ...probeOptions({ periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 60 }) }),
      readiness: kplus.Probe.fromHttpGet('/health/ready', { port: props.port, ...probeOptions({ periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 }) }),
      liveness: kplus.Probe.fromHttpGet('/health/live', { port: props.port, ...probeOptions({ periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 }) }),
    });
    // Node and its libraries write temporary files nowhere else.
    container.mount('/tmp', emptyDir(this, 'tmp', 64));

    if (props.knobs) {
      const knobs = new kplus.ConfigMap(this, 'knobs', { metadata: { name: `${props.name}-knobs`, labels }, data: { [props.knobs.fileName]: JSON.stringify(props.knobs.values) } });
      // A whole directory, not a subPath: the kubelet does not refresh a file mounted by subPath.
      container.mount(props.knobs.mountPath, kplus.Volume.fromConfigMap(this, 'knobs-volume', knobs, { name: 'fault-knobs' }), { readOnly: true });
    }

    if (props.liveUpdatePaths.length > 0) {
      const sources = emptyDir(this, 'live-sources', 256);
      const subPathOf = (index: number) => `path-${index}`;
      const copy = [
        ...props.liveUpdatePaths.map((path, index) => `mkdir -p /live/${subPathOf(index)} && cp -R ${path}/. /live/${subPathOf(index)}/`),
        // Made here, by the app user: a subPath directory the kubelet makes belongs to root.
        ...(props.liveUpdateStaging ? ['mkdir -p /live/staging'] : []),
      ].join(' && ');
      const seed = this.deployment.addInitContainer({
        name: 'live-update-sources',
        image: props.image,
        imagePullPolicy: pullPolicy(props.pullPolicy),
        command: ['/bin/sh', '-c', copy],
        resources: containerResources(props.resources),
        securityContext: restrictedContainer(appUid),
      });
      seed.mount('/live', sources);
      props.liveUpdatePaths.forEach((path, index) => container.mount(path, sources, { subPath: subPathOf(index) }));
      if (props.liveUpdateStaging) container.mount(props.liveUpdateStaging, sources, { subPath: 'staging' });
    }

    this.service = new kplus.Service(this, 'service', {
      metadata: { name: props.name, labels },
      type: kplus.ServiceType.CLUSTER_IP,
      ports: [{ name: 'http', port: props.port, targetPort: props.port }],
    });
    for (const [key, value] of Object.entries(selectorFor(props.name))) this.service.selectLabel(key, value);
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
