/**
 * The shop's namespace, labelled so that the Pod Security admission enforces (and warns and
 * audits) the "restricted" profile on every pod in it.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';

export interface ShopNamespaceProps {
  readonly name: string;
  /** The Pod Security Standards version to hold pods to ("latest" follows the cluster's). */
  readonly podSecurityVersion?: string;
}

export function podSecurityLabels(version: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const mode of ['enforce', 'audit', 'warn']) {
    labels[`pod-security.kubernetes.io/${mode}`] = 'restricted';
    labels[`pod-security.kubernetes.io/${mode}-version`] = version;
  }
  return labels;
}

export class ShopNamespace extends Construct {
  readonly namespace: kplus.Namespace;

  constructor(scope: Construct, id: string, props: ShopNamespaceProps) {
    super(scope, id);
    this.namespace = new kplus.Namespace(this, 'namespace', {
      metadata: { name: props.name, labels: { 'app.kubernetes.io/part-of': 'scaleshop', ...podSecurityLabels(props.podSecurityVersion ?? 'latest') } },
    });
    // Namespaces are cluster-scoped; the chart would otherwise stamp its namespace on this one too.
    ApiObject.of(this.namespace).addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
}
