/**
 * What every pod of the shop shares: labels, the Pod Security "restricted" security context,
 * explicit resources, and the patches that undo cdk8s-plus-28 defaults we do not want.
 * Together with the construct files, the only code that touches cdk8s-plus-28.
 */
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import type { PullPolicy, Resources } from './config.ts';

export const partOf = 'scaleshop';
export const nameLabel = 'app.kubernetes.io/name';

export type Component = 'app' | 'database' | 'broker' | 'cache' | 'observability' | 'mail';

export function labelsFor(name: string, component: Component): Record<string, string> {
  return { [nameLabel]: name, 'app.kubernetes.io/part-of': partOf, 'app.kubernetes.io/component': component };
}

/** Pods are selected by their name label alone, so a selector never changes when other labels do. */
export function selectorFor(name: string): Record<string, string> {
  return { [nameLabel]: name };
}

export function containerResources(r: Resources): kplus.ContainerResources {
  return {
    cpu: { request: kplus.Cpu.millis(r.cpu.requestMillis), limit: kplus.Cpu.millis(r.cpu.limitMillis) },
    memory: { request: Size.mebibytes(r.memory.requestMiB), limit: Size.mebibytes(r.memory.limitMiB) },
  };
}

export function pullPolicy(policy: PullPolicy): kplus.ImagePullPolicy {
  switch (policy) {
    case 'IfNotPresent':
      return kplus.ImagePullPolicy.IF_NOT_PRESENT;
    case 'Always':
      return kplus.ImagePullPolicy.ALWAYS;
    case 'Never':
      return kplus.ImagePullPolicy.NEVER;
  }
}

/** Pod Security "restricted" for one container, read-only root filesystem included. */
export function restrictedContainer(uid: number): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: uid,
    group: uid,
    privileged: false,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: [kplus.Capability.ALL] },
    seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
  };
}

/** The pod-level half: a numeric non-root user, and volumes writable by its group. */
export function restrictedPod(uid: number): kplus.PodSecurityContextProps {
  return { ensureNonRoot: true, user: uid, group: uid, fsGroup: uid, fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH };
}

export function emptyDir(scope: Construct, name: string, sizeLimitMiB: number): kplus.Volume {
  return kplus.Volume.fromEmptyDir(scope, `volume-${name}`, name, { sizeLimit: Size.mebibytes(sizeLimitMiB) });
}

export interface ProbeTimings {
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
}

export function probeOptions(t: ProbeTimings): kplus.ProbeOptions {
  return { periodSeconds: Duration.seconds(t.periodSeconds), timeoutSeconds: Duration.seconds(t.timeoutSeconds), failureThreshold: t.failureThreshold };
}

/**
 * Patches on the pod template of a workload for what cdk8s-plus-28 cannot express:
 * the pod-level seccomp profile (restricted asks for it at pod or container level: we set
 * both), and no Service environment variables (a Service named `rabbitmq` or `jaeger` would
 * otherwise inject RABBITMQ_PORT=tcp://… or JAEGER_PORT=… into every container).
 */
export function hardenPodTemplate(workload: kplus.Deployment | kplus.StatefulSet): void {
  const object = ApiObject.of(workload);
  object.addJsonPatch(JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { type: 'RuntimeDefault' }));
  object.addJsonPatch(JsonPatch.add('/spec/template/spec/enableServiceLinks', false));
  // Pods are selected by their name label only (selectorFor); cdk8s-plus's address label goes.
  object.addJsonPatch(JsonPatch.remove(`/spec/template/metadata/labels/${addressLabel.replace('/', '~1')}`));
}

const addressLabel = 'cdk8s.io/metadata.addr';

/**
 * A Service that selects pods by their name label. cdk8s-plus-28 makes the Service of a
 * StatefulSet select its address label; this replaces that selector.
 */
export function selectByName(service: kplus.Service, name: string): void {
  ApiObject.of(service).addJsonPatch(JsonPatch.add('/spec/selector', selectorFor(name)));
}

/**
 * Application Deployments carry no spec.replicas (cdk8s-plus-28 writes 2 by default), so that
 * `kubectl scale` sticks when Tilt applies the manifests again; a new Deployment starts with 1.
 */
export function withoutReplicas(deployment: kplus.Deployment): void {
  ApiObject.of(deployment).addJsonPatch(JsonPatch.remove('/spec/replicas'));
}

/** Replicas the configuration sets: then they are its to keep, and `kubectl scale` does not stick. */
export function withReplicas(deployment: kplus.Deployment, replicas: number | undefined): void {
  if (replicas === undefined) withoutReplicas(deployment);
  else ApiObject.of(deployment).addJsonPatch(JsonPatch.replace('/spec/replicas', replicas));
}

/**
 * The volumes of a StatefulSet go with it when it is deleted (its Shop is, say). Unset, as
 * by default, Kubernetes keeps them (whenDeleted: Retain), and with them the data.
 */
export function deleteVolumesWithWorkload(statefulSet: kplus.StatefulSet): void {
  ApiObject.of(statefulSet).addJsonPatch(JsonPatch.add('/spec/persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Delete', whenScaled: 'Retain' }));
}

/** A persistent volume per replica of a StatefulSet (cdk8s-plus-28 has no volumeClaimTemplates). */
export function addVolumeClaimTemplate(statefulSet: kplus.StatefulSet, claim: { name: string; storageGiB: number; mountPath: string; labels: Record<string, string> }): void {
  const object = ApiObject.of(statefulSet);
  object.addJsonPatch(
    JsonPatch.add('/spec/volumeClaimTemplates', [
      {
        metadata: { name: claim.name, labels: claim.labels },
        // Patches are applied before cdk8s-plus-28 maps the object to JSON: quantities as k8s.Quantity.
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: kplus.k8s.Quantity.fromString(`${claim.storageGiB}Gi`) } } },
      },
    ]),
  );
  // The claim is not a pod volume, so the mount cannot go through kplus (it would add one).
  object.addJsonPatch(JsonPatch.add('/spec/template/spec/containers/0/volumeMounts/-', { name: claim.name, mountPath: claim.mountPath }));
}

/**
 * A single-instance stateful workload hardened like every other pod: selected by its name label
 * alone (set after construction, as cdk8s-plus would otherwise add its own), the restricted pod
 * security context, no service account token, and time to shut down cleanly.
 */
export function hardenedStatefulSet(
  scope: Construct,
  props: { name: string; labels: Record<string, string>; service: kplus.Service; replicas: number; uid: number; terminationGraceSeconds: number },
): kplus.StatefulSet {
  const statefulSet = new kplus.StatefulSet(scope, 'statefulset', {
    metadata: { name: props.name, labels: props.labels },
    service: props.service,
    replicas: props.replicas,
    select: false,
    podMetadata: { labels: props.labels },
    securityContext: restrictedPod(props.uid),
    automountServiceAccountToken: false,
    terminationGracePeriod: Duration.seconds(props.terminationGraceSeconds),
  });
  statefulSet.select(kplus.LabelSelector.of({ labels: selectorFor(props.name) }));
  selectByName(props.service, props.name);
  hardenPodTemplate(statefulSet);
  return statefulSet;
}
