import { env } from '@scaleshop/platform';

/** The operator's settings: the platform's service settings, and the namespace it watches. */
export const operatorConfig = {
  ...env.serviceSettings(8081),
  WATCH_NAMESPACE: env.string(undefined, 'The namespace whose Shops it keeps (the chart sets its own, from the downward API).'),
  KUBECONFIG: env.optionalString('A kubeconfig to use instead of the pod\'s service account (to run it outside the cluster).'),
};
