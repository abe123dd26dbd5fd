/**
 * An informer that restarts itself after an error: client-node stops one on any error but a 410
 * (which it handles by relisting). Both reconcile loops watch through it.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '@scaleshop/platform';
// Not in the package's index; the package has no exports map, so its files are importable.
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { getSerializationType } from '@kubernetes/client-node/dist/util.js';
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

/**
 * client-node's typed calls go through its model classes, which name a field that is a reserved
 * word of its generator differently from the wire (a NetworkPolicy rule's `from` is `_from`): a
 * list answers with models, and an apply serializes its body as the model of its kind, dropping
 * what the model does not name. So the desired objects (plain JSON from cdk8s) are turned into
 * models before an apply, and listed objects back into plain JSON (as a watch event delivers
 * them) before they reach a cache.
 */
export function toWire(object: KubeObject): KubeObject {
  return ObjectSerializer.serialize(object, getSerializationType(object.apiVersion, object.kind), '') as KubeObject;
}

export function toModel(object: KubeObject): KubeObject {
  return ObjectSerializer.deserialize(object, getSerializationType(object.apiVersion, object.kind), '') as KubeObject;
}
