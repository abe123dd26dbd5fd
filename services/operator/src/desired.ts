/**
 * What a Shop wants: its spec with the schema's defaults, checked as the API server would,
 * rendered by the cdk8s constructs that `npm run synth` uses, each object owned by the Shop.
 */
import { createHash } from 'node:crypto';
import { configProblems, shopSpecSchema, type ShopConfig } from '@scaleshop/cdk8s/src/config.ts';
import { renderObjects } from '@scaleshop/cdk8s/src/render.ts';
import { applyDefaults, shopApiVersion, shopKind, type ShopSpec, type ShopStatus } from '@scaleshop/cdk8s/src/shop-spec.ts';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  // A string on the wire; client-node types it as a Date. Only its presence is read.
  deletionTimestamp?: Date;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface Shop extends KubeObject {
  spec?: unknown;
  status?: ShopStatus;
}

/** The label every owned object carries: the informers select by it. */
export const shopLabel = 'scaleshop.dev/shop';
/** The hash of what was applied: equal to the desired one's, the object needs no write. */
export const appliedHashAnnotation = 'scaleshop.dev/applied-hash';
/** The namespace a Shop without one is rendered for (offline only: a stored Shop always has one). */
export const defaultNamespace = 'scaleshop';

/** Every problem of a Shop as written: its identity, then its spec after defaulting. */
export function shopProblems(shop: unknown): string[] {
  if (shop === null || typeof shop !== 'object' || Array.isArray(shop)) return ['a Shop is an object with apiVersion, kind, metadata and spec'];
  const { apiVersion, kind, metadata } = shop as Partial<Shop>;
  const problems: string[] = [];
  if (apiVersion !== shopApiVersion) problems.push(`apiVersion: must be ${shopApiVersion}, not ${JSON.stringify(apiVersion)}`);
  if (kind !== shopKind) problems.push(`kind: must be ${shopKind}, not ${JSON.stringify(kind)}`);
  if (typeof metadata?.name !== 'string' || metadata.name === '') problems.push('metadata.name: required');
  const config = configOf(shop as Shop);
  return [...problems, ...configProblems(config).map((problem) => (problem.startsWith('namespace') ? `metadata.${problem}` : `spec.${problem}`))];
}

/** The configuration of a Shop: its defaulted spec, in its namespace. */
export function configOf(shop: Shop): ShopConfig {
  const spec = applyDefaults(shopSpecSchema, shop.spec ?? {}) as ShopSpec;
  return { ...spec, namespace: shop.metadata.namespace ?? defaultNamespace };
}

export function ownerReference(shop: Shop): OwnerReference {
  // No blockOwnerDeletion: setting it needs the update verb on shops/finalizers, and nothing
  // here waits for a foreground deletion.
  return { apiVersion: shopApiVersion, kind: shopKind, name: shop.metadata.name, uid: shop.metadata.uid ?? '', controller: true };
}

/** A stable hash of an object's content, to tell whether the live object already has it. */
export function contentHash(object: unknown): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value !== null && typeof value === 'object'
        ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([key, child]) => [key, canonical(child)]))
        : value;
  return createHash('sha256').update(JSON.stringify(canonical(object))).digest('hex').slice(0, 32);
}

/**
 * The objects a valid Shop wants, in the order of k8s/. The Namespace is left out: the Shop lives
 * in it, and a namespaced owner cannot own a cluster-scoped object. Each carries the Shop's label,
 * an owner reference to it, and the hash of its own content.
 */
export function desiredObjects(shop: Shop, options: { keda: boolean }): KubeObject[] {
  const objects = renderObjects(configOf(shop), options) as unknown as KubeObject[];
  return objects
    .filter((object) => object.kind !== 'Namespace')
    .map((object) => {
      const owned: KubeObject = {
        ...object,
        metadata: { ...object.metadata, labels: { ...object.metadata.labels, [shopLabel]: shop.metadata.name }, ownerReferences: [ownerReference(shop)] },
      };
      owned.metadata.annotations = { ...object.metadata.annotations, [appliedHashAnnotation]: contentHash(owned) };
      return owned;
    });
}
