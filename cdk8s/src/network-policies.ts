/**
 * Default deny for every pod in the namespace, ingress and egress, then one policy per
 * workload that allows exactly its flows: what it may receive and what it may send.
 * A flow needs both ends: the sender's egress rule and the receiver's ingress rule.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { anywhere, kedaNamespace, kedaOperator, kedaOperatorLabels, kubeDns, type Flow } from './flows.ts';
import { selectorFor } from './workload-defaults.ts';

export interface NetworkPoliciesProps {
  readonly namespace: string;
  /** Every workload (name label) in the namespace; each gets its own policy. */
  readonly workloads: readonly string[];
  readonly flows: readonly Flow[];
}

export class NetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: NetworkPoliciesProps) {
    super(scope, id);
    const metadata = (name: string) => ({ name, namespace: props.namespace, labels: { 'app.kubernetes.io/part-of': 'scaleshop' } });

    new kplus.NetworkPolicy(this, 'default-deny', {
      metadata: metadata('default-deny'),
      selector: kplus.Pods.all(this, 'all-pods'),
      ingress: { default: kplus.NetworkPolicyTrafficDefault.DENY },
      egress: { default: kplus.NetworkPolicyTrafficDefault.DENY },
    });

    const known = new Set([...props.workloads, anywhere, kubeDns, kedaOperator]);
    for (const flow of props.flows) {
      if (!known.has(flow.from) || !known.has(flow.to) || flow.from === kubeDns || flow.to === kedaOperator || (flow.from === anywhere && flow.to === anywhere)) {
        throw new Error(`flow ${flow.from} → ${flow.to}:${flow.port} names no workload of this configuration`);
      }
    }

    const pods = new Map<string, kplus.Pods>();
    const podsOf = (workload: string): kplus.Pods => {
      let selected = pods.get(workload);
      if (!selected) {
        // Namespaces selected by name: the label kubernetes.io/metadata.name the API server sets.
        selected =
          workload === kubeDns
            ? kplus.Pods.select(this, 'peer-kube-dns', { labels: { 'k8s-app': 'kube-dns' }, namespaces: kplus.Namespaces.select(this, 'kube-system', { names: ['kube-system'] }) })
            : workload === kedaOperator
              ? kplus.Pods.select(this, 'peer-keda-operator', { labels: { ...kedaOperatorLabels }, namespaces: kplus.Namespaces.select(this, 'keda', { names: [kedaNamespace] }) })
              : kplus.Pods.select(this, `peer-${workload}`, { labels: selectorFor(workload) });
        pods.set(workload, selected);
      }
      return selected;
    };
    const port = (flow: Flow) => (flow.protocol === 'UDP' ? kplus.NetworkPolicyPort.udp(flow.port) : kplus.NetworkPolicyPort.tcp(flow.port));

    for (const workload of props.workloads) {
      const incoming = props.flows.filter((flow) => flow.to === workload);
      const outgoing = props.flows.filter((flow) => flow.from === workload);
      const policy = new kplus.NetworkPolicy(this, `allow-${workload}`, {
        metadata: metadata(`allow-${workload}`),
        selector: podsOf(workload),
        // Both directions are listed: what is not allowed below is denied, even without default-deny.
        ingress: { default: kplus.NetworkPolicyTrafficDefault.DENY },
        egress: { default: kplus.NetworkPolicyTrafficDefault.DENY },
      });
      for (const [peer, flows] of groupBy(incoming.filter((flow) => flow.from !== anywhere), (flow) => flow.from)) {
        policy.addIngressRule(podsOf(peer), flows.map(port));
      }
      for (const [peer, flows] of groupBy(outgoing.filter((flow) => flow.to !== anywhere), (flow) => flow.to)) {
        policy.addEgressRule(podsOf(peer), flows.map(port));
      }
      // From or to anywhere: a rule with ports and no peers, which cdk8s-plus-28 cannot write.
      const fromAnywhere = incoming.filter((flow) => flow.from === anywhere);
      if (fromAnywhere.length > 0) addPortsOnlyRule(policy, 'ingress', fromAnywhere, incoming.length > fromAnywhere.length);
      const toAnywhere = outgoing.filter((flow) => flow.to === anywhere);
      if (toAnywhere.length > 0) addPortsOnlyRule(policy, 'egress', toAnywhere, outgoing.length > toAnywhere.length);
    }
  }
}

/** Patches are applied before cdk8s-plus-28 maps the object to JSON, so ports are k8s.IntOrString. */
function addPortsOnlyRule(policy: kplus.NetworkPolicy, direction: 'ingress' | 'egress', flows: readonly Flow[], appendToOthers: boolean): void {
  const rule = { ports: flows.map((flow) => ({ port: kplus.k8s.IntOrString.fromNumber(flow.port), protocol: flow.protocol })) };
  ApiObject.of(policy).addJsonPatch(appendToOthers ? JsonPatch.add(`/spec/${direction}/-`, rule) : JsonPatch.add(`/spec/${direction}`, [rule]));
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}
