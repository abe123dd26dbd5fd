/**
 * Pod Security "restricted" (https://kubernetes.io/docs/concepts/security/pod-security-standards/)
 * as a check of one pod spec: shared by the tests of k8s/ and of the Helm chart's output.
 */
import { allContainers, type PodSpec } from './manifests.ts';

const allowedVolumeTypes = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

/** Every way the pod breaks the restricted profile; empty when it meets it. */
export function restrictedViolations(spec: PodSpec): string[] {
  const problems: string[] = [];
  const pod = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) problems.push('host namespaces');
  for (const volume of spec.volumes ?? []) {
    const types = Object.keys(volume).filter((key) => key !== 'name');
    if (!types.every((type) => allowedVolumeTypes.includes(type))) problems.push(`volume ${volume.name}: ${types.join(',')}`);
  }
  for (const sysctl of pod.sysctls ?? []) problems.push(`sysctl ${sysctl.name}`);
  if (pod.runAsUser === 0) problems.push('pod runAsUser 0');
  if (pod.seccompProfile && !['RuntimeDefault', 'Localhost'].includes(pod.seccompProfile.type)) problems.push(`pod seccomp ${pod.seccompProfile.type}`);
  for (const { container, init } of allContainers(spec)) {
    const where = `${init ? 'initContainer' : 'container'} ${container.name}`;
    const context = container.securityContext ?? {};
    if (context.privileged) problems.push(`${where}: privileged`);
    if (context.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
    if (!context.capabilities?.drop?.includes('ALL')) problems.push(`${where}: capabilities must drop ALL`);
    const added = context.capabilities?.add ?? [];
    if (added.some((capability) => capability !== 'NET_BIND_SERVICE')) problems.push(`${where}: adds ${added.join(',')}`);
    const runAsNonRoot = context.runAsNonRoot ?? pod.runAsNonRoot;
    if (runAsNonRoot !== true) problems.push(`${where}: runAsNonRoot`);
    const user = context.runAsUser ?? pod.runAsUser;
    if (typeof user !== 'number' || !Number.isInteger(user) || user <= 0) problems.push(`${where}: needs a numeric non-root runAsUser, has ${user}`);
    const seccomp = context.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${where}: seccomp ${seccomp}`);
    if (context.procMount && context.procMount !== 'Default') problems.push(`${where}: procMount ${context.procMount}`);
    if (context.appArmorProfile?.type === 'Unconfined') problems.push(`${where}: AppArmor unconfined`);
    for (const port of container.ports ?? []) if (port.hostPort) problems.push(`${where}: hostPort ${port.hostPort}`);
  }
  return problems;
}

