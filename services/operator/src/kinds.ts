/** The kinds of object a Shop owns, and where the API serves them. */
export interface OwnedKind {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  /** Served only where KEDA is installed. */
  readonly keda?: boolean;
}

export const ownedKinds: readonly OwnedKind[] = [
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers' },
  { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', plural: 'scaledobjects', keda: true },
  { apiVersion: 'keda.sh/v1alpha1', kind: 'TriggerAuthentication', plural: 'triggerauthentications', keda: true },
];

export const kedaGroupVersion = 'keda.sh/v1alpha1';

/** The collection path of a kind in a namespace: /api/v1/... for the core group, /apis/<group>/<version>/... otherwise. */
export function collectionPath(apiVersion: string, plural: string, namespace: string): string {
  return `${apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`}/namespaces/${namespace}/${plural}`;
}

export function kindKey(apiVersion: string, kind: string): string {
  return `${apiVersion} ${kind}`;
}
