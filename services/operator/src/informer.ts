/**
 * An informer that restarts itself after an error: client-node stops one on any error but a 410
 * (which it handles by relisting). Both reconcile loops watch through it.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '@scaleshop/platform';
import type { KubeObject } from './desired.ts';

export type Informer = k8s.Informer<KubeObject> & k8s.ObjectCache<KubeObject>;

export interface InformerOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly path: string;
  readonly list: () => Promise<k8s.KubernetesListObject<KubeObject>>;
  readonly labelSelector: string | undefined;
  readonly changed: (object: KubeObject) => void;
  readonly logger: Logger;
  readonly restartMs: number;
  /** True once its owner stops: no restart then. */
  readonly stopped: () => boolean;
}

export function restartingInformer(options: InformerOptions): Informer {
  const informer = k8s.makeInformer<KubeObject>(options.kubeConfig, options.path, options.list, options.labelSelector);
  for (const verb of [k8s.ADD, k8s.UPDATE, k8s.DELETE] as const) informer.on(verb, options.changed);
  informer.on(k8s.ERROR, (error) => {
    if (options.stopped()) return;
    options.logger.warn({ path: options.path, err: error }, 'watch failed: restarting');
    setTimeout(() => void informer.start().catch(() => undefined), options.restartMs);
  });
  return informer;
}
