/**
 * A small evaluator of Kubernetes NetworkPolicy semantics
 * (https://kubernetes.io/docs/concepts/services-networking/network-policies/), enough to
 * decide whether a connection from one endpoint to another on a port is allowed:
 *
 * - A pod is isolated for a direction when at least one policy selects it with that direction
 *   in its policyTypes (absent policyTypes: Ingress, plus Egress if the policy has egress
 *   rules). A pod no policy isolates allows everything in that direction.
 * - An isolated pod allows what the union of the rules of the policies selecting it allows.
 * - A connection needs both: the source's egress and the destination's ingress.
 * - A rule with no peers matches every peer; with no ports, every port. A peer with only a
 *   podSelector means pods of the policy's namespace; with only a namespaceSelector, every pod
 *   of the selected namespaces; with both, the pods matching both. An ipBlock matches by address.
 * - Named ports resolve against the destination pod's container ports; endPort gives a range.
 * - Traffic from the pod's own node (kubelet probes) is always allowed and not modelled here.
 */
import { selectorMatches, type Labels, type NetworkPolicyObject, type NetworkPolicyPeer, type NetworkPolicyPort } from './manifests.ts';

export interface Endpoint {
  /** For messages: a workload name, `kube-dns`, `external`… */
  readonly name: string;
  /** A pod has a namespace; a client outside the cluster has none. */
  readonly pod?: { readonly namespace: string; readonly namespaceLabels: Labels; readonly labels: Labels; readonly ports: readonly { port: number; name?: string; protocol: string }[] };
  readonly ip: string;
}

export interface Connection {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly port: number;
  readonly protocol: string;
}

export function isAllowed(policies: readonly NetworkPolicyObject[], connection: Connection): boolean {
  return allowedBySide(policies, connection, 'Egress') && allowedBySide(policies, connection, 'Ingress');
}

function policyTypes(policy: NetworkPolicyObject): ('Ingress' | 'Egress')[] {
  if (policy.spec.policyTypes && policy.spec.policyTypes.length > 0) return policy.spec.policyTypes;
  return policy.spec.egress && policy.spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

function allowedBySide(policies: readonly NetworkPolicyObject[], connection: Connection, direction: 'Ingress' | 'Egress'): boolean {
  const subject = direction === 'Egress' ? connection.from : connection.to;
  const peer = direction === 'Egress' ? connection.to : connection.from;
  const pod = subject.pod;
  // Not a pod (a client outside the cluster): no policy governs its side.
  if (!pod) return true;
  const governing = policies.filter(
    (policy) => (policy.metadata.namespace ?? 'default') === pod.namespace && selectorMatches(policy.spec.podSelector, pod.labels) && policyTypes(policy).includes(direction),
  );
  if (governing.length === 0) return true;
  return governing.some((policy) => {
    const rules = direction === 'Egress' ? (policy.spec.egress ?? []).map((rule) => ({ peers: rule.to, ports: rule.ports })) : (policy.spec.ingress ?? []).map((rule) => ({ peers: rule.from, ports: rule.ports }));
    const namespace = policy.metadata.namespace ?? 'default';
    return rules.some((rule) => peersMatch(rule.peers, peer, namespace) && portsMatch(rule.ports, connection));
  });
}

function peersMatch(peers: readonly NetworkPolicyPeer[] | undefined, endpoint: Endpoint, policyNamespace: string): boolean {
  if (!peers || peers.length === 0) return true;
  return peers.some((peer) => {
    if (peer.ipBlock) {
      return inCidr(endpoint.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((cidr) => inCidr(endpoint.ip, cidr));
    }
    const pod = endpoint.pod;
    if (!pod) return false;
    const namespaceOk = peer.namespaceSelector ? selectorMatches(peer.namespaceSelector, pod.namespaceLabels) : pod.namespace === policyNamespace;
    const podOk = peer.podSelector ? selectorMatches(peer.podSelector, pod.labels) : true;
    return namespaceOk && podOk;
  });
}

function portsMatch(ports: readonly NetworkPolicyPort[] | undefined, connection: Connection): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((entry) => {
    if ((entry.protocol ?? 'TCP') !== connection.protocol) return false;
    if (entry.port === undefined) return true;
    if (typeof entry.port === 'string') {
      // A named port: the destination pod's container port of that name.
      const named = connection.to.pod?.ports.find((port) => port.name === entry.port && port.protocol === connection.protocol);
      return named !== undefined && named.port === connection.port;
    }
    const last = entry.endPort ?? entry.port;
    return connection.port >= entry.port && connection.port <= last;
  });
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  if (!base || bits === undefined || ip.includes(':') !== base.includes(':')) return false;
  if (base.includes(':')) return Number(bits) === 0; // IPv6: only ::/0 is used here.
  const toNumber = (address: string) => address.split('.').reduce((total, part) => total * 256 + Number(part), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toNumber(ip) / size) === Math.floor(toNumber(base) / size);
}
