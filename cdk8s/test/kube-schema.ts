/**
 * Validation against the Kubernetes API schemas shipped by kubernetes-models, made strict
 * about unknown fields.
 *
 * kubernetes-models validates with ajv code compiled from the OpenAPI definitions, which do
 * not say `additionalProperties: false`: a misspelled field such as `imagePulPolicy` passes.
 * The API server would drop it silently (or reject it with `kubectl apply --validate=strict`).
 * So the object is validated through a Proxy that records every property the compiled
 * validator reads: it reads each property its schema declares (to check it) and, for maps
 * such as labels, every key. A property of the object that the validator never read is one
 * the schema does not know — an unknown field, reported with its path.
 */
import * as apps from 'kubernetes-models/apps/v1';
import * as batch from 'kubernetes-models/batch/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import type { K8sObject } from './manifests.ts';

interface ModelClass {
  apiVersion: string;
  kind: string;
  prototype: { validate(): void };
}

function isModelClass(value: unknown): value is ModelClass {
  return typeof value === 'function' && typeof (value as Partial<ModelClass>).apiVersion === 'string' && typeof (value as Partial<ModelClass>).kind === 'string';
}

const models = new Map<string, ModelClass>();
for (const module of [core, apps, batch, networking, rbac] as unknown as Record<string, unknown>[]) {
  for (const value of Object.values(module)) if (isModelClass(value)) models.set(`${value.apiVersion} ${value.kind}`, value);
}

export function hasSchema(apiVersion: string, kind: string): boolean {
  return models.has(`${apiVersion} ${kind}`);
}

/** Every schema violation and unknown field of a Kubernetes object; empty when it is valid. */
export function schemaProblems(object: K8sObject): string[] {
  const model = models.get(`${object.apiVersion} ${object.kind}`);
  if (!model) return [`no schema for apiVersion ${object.apiVersion} kind ${object.kind}`];

  const read = new WeakMap<object, Set<string>>();
  const proxies = new WeakMap<object, object>();
  const watch = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    let proxy = proxies.get(value);
    if (!proxy) {
      const keys = new Set<string>();
      read.set(value, keys);
      proxy = new Proxy(value, {
        get(target, key, receiver) {
          if (typeof key === 'string') keys.add(key);
          return watch(Reflect.get(target, key, receiver));
        },
      });
      proxies.set(value, proxy);
    }
    return proxy;
  };

  const problems: string[] = [];
  try {
    model.prototype.validate.call(watch(object));
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0) return problems;

  const unknownFields = (value: unknown, path: string): void => {
    if (value === null || typeof value !== 'object') return;
    const keys = read.get(value);
    if (Array.isArray(value)) {
      value.forEach((item, index) => unknownFields(item, `${path}[${index}]`));
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      if (!keys?.has(key)) problems.push(`${path}.${key}: unknown field`);
      else unknownFields(child, `${path}.${key}`);
    }
  };
  unknownFields(object, `${object.kind}/${object.metadata?.name ?? '?'}`);
  return problems;
}
