/**
 * Whether a live object still holds every field the operator sets: desired ⊆ live. The API
 * server adds defaults (probes' thresholds, a Service's clusterIP, terminationMessagePath…) and
 * other managers add fields of their own (spec.replicas of `kubectl scale` or an HPA), so what
 * the live object has beyond the desired one is not drift; a value of the operator's that is
 * different or gone is. Where the API server rewrites a value it was given, the comparison knows
 * the rewrite (quantities in canonical form, empty lists, objects and zero values dropped); anything else it
 * does not recognise counts as drift, so the object is applied again rather than left wrong.
 */

/** Where a string is a resource quantity (`500m`, `1Gi`), which the API server canonicalises. */
const quantityParents = new Set(['requests', 'limits', 'capacity', 'hard']);
const quantityKeys = new Set(['sizeLimit', 'storage']);

export function holdsDesired(live: unknown, desired: unknown, key = ''): boolean {
  if (desired === null || desired === undefined) return true;
  if (Array.isArray(desired)) {
    if (live === undefined || live === null) return desired.length === 0;
    if (!Array.isArray(live) || live.length < desired.length) return false;
    return desired.every((element, index) => {
      // Lists of named items (containers, env, volumes) are merged by name: the position of a
      // named item is not the operator's. A name is not always a key (one volume mounted at
      // several paths): any item of that name that holds it will do.
      const name = namedKey(element);
      if (name === undefined) return holdsDesired(live[index], element, key);
      return live.some((candidate) => namedKey(candidate) === name && holdsDesired(candidate, element, key));
    });
  }
  if (typeof desired === 'object') {
    const entries = Object.entries(desired as Record<string, unknown>);
    if (live === undefined || live === null) return entries.length === 0;
    if (typeof live !== 'object' || Array.isArray(live)) return false;
    return entries.every(([childKey, child]) => holdsDesired((live as Record<string, unknown>)[childKey], child, quantityParents.has(key) ? `${key}.` : childKey));
  }
  if (live === desired) return true;
  // Go's omitempty: a zero value the API server was given may come back absent (a pod's
  // hostNetwork: false, a Deployment's minReadySeconds: 0), and absent means that value.
  if (live === undefined && (desired === false || desired === 0 || desired === '')) return true;
  if ((key.endsWith('.') || quantityKeys.has(key)) && (typeof desired === 'string' || typeof desired === 'number') && (typeof live === 'string' || typeof live === 'number')) {
    const [a, b] = [quantity(String(desired)), quantity(String(live))];
    return a !== undefined && a === b;
  }
  return false;
}

function namedKey(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const name = (value as { name?: unknown }).name;
  return typeof name === 'string' ? name : undefined;
}

const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const decimal: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A Kubernetes quantity's value (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/), or undefined. */
export function quantity(text: string): number | undefined {
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/.exec(text);
  if (!match) return undefined;
  const [, number, suffix, exponent] = match as unknown as [string, string, string | undefined, string | undefined];
  const scale = exponent !== undefined ? 10 ** Number(exponent) : suffix === undefined ? 1 : (binary[suffix] ?? decimal[suffix] ?? Number.NaN);
  // Rounded to nano-units, the finest a quantity keeps: 0.1 and 100m are the same.
  return Math.round(Number(number) * scale * 1e9);
}
