/**
 * The drift check: what the API server adds or rewrites is not drift, a changed or removed
 * value of the operator's is. Expected values are from the Kubernetes documentation of
 * quantities and defaulting, not from the code under test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { holdsDesired, quantity } from '../src/drift.ts';

const desired = {
  metadata: { name: 'payment', labels: { app: 'payment' } },
  spec: {
    template: {
      spec: {
        containers: [{ name: 'payment', image: 'scaleshop/payment', env: [{ name: 'A', value: '1' }], resources: { requests: { cpu: '0.1', memory: '128Mi' }, limits: { memory: '1Gi' } } }],
        volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        tolerations: [],
      },
    },
  },
};

test('defaults, other managers’ fields and canonical quantities are not drift', () => {
  const live = {
    metadata: { name: 'payment', labels: { app: 'payment', extra: 'x' }, resourceVersion: '7' },
    spec: {
      replicas: 3,
      template: {
        spec: {
          containers: [
            { name: 'sidecar', image: 'someone/else' },
            { name: 'payment', image: 'scaleshop/payment', terminationMessagePath: '/dev/termination-log', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1024Mi' } } },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
  assert.equal(holdsDesired(live, desired), true);
});

test('a changed image, a changed or removed env value, a changed limit, a removed label are drift', () => {
  const edit = (change: (copy: any) => void) => {
    const copy = structuredClone(desired) as any;
    change(copy);
    return copy;
  };
  assert.equal(holdsDesired(edit((o) => (o.spec.template.spec.containers[0].image = 'evil/payment')), desired), false);
  assert.equal(holdsDesired(edit((o) => (o.spec.template.spec.containers[0].env[0].value = '2')), desired), false);
  assert.equal(holdsDesired(edit((o) => (o.spec.template.spec.containers[0].env = [])), desired), false);
  assert.equal(holdsDesired(edit((o) => (o.spec.template.spec.containers[0].resources.limits.memory = '2Gi')), desired), false);
  assert.equal(holdsDesired(edit((o) => delete o.metadata.labels.app), desired), false);
  // A string that looks like a quantity is compared as text outside resources: an env value is not a quantity.
  assert.equal(holdsDesired({ env: [{ name: 'A', value: '1000m' }] }, { env: [{ name: 'A', value: '1' }] }), false);
});

test('zero values the API server omits (omitempty) are not drift; a changed one is', () => {
  const podSpec = { hostNetwork: false, minReadySeconds: 0, automountServiceAccountToken: false };
  assert.equal(holdsDesired({ automountServiceAccountToken: false }, podSpec), true);
  assert.equal(holdsDesired({ hostNetwork: true, automountServiceAccountToken: false }, podSpec), false);
  assert.equal(holdsDesired({}, { automountServiceAccountToken: true }), false);
});

test('one volume mounted at two paths: each mount is matched whatever the order', () => {
  const mounts = { volumeMounts: [{ name: 'live', mountPath: '/a', subPath: 'a' }, { name: 'live', mountPath: '/b', subPath: 'b' }] };
  assert.equal(holdsDesired({ volumeMounts: [...mounts.volumeMounts].reverse() }, mounts), true);
  assert.equal(holdsDesired({ volumeMounts: [mounts.volumeMounts[0], { ...mounts.volumeMounts[1], subPath: 'c' }] }, mounts), false);
});

test('quantities: decimal and binary suffixes, exponents', () => {
  assert.equal(quantity('100m'), quantity('0.1'));
  assert.equal(quantity('1Gi'), quantity('1024Mi'));
  assert.equal(quantity('1k'), quantity('1e3'));
  assert.equal(quantity('1E'), quantity('1e18'));
  assert.notEqual(quantity('1G'), quantity('1Gi'));
  assert.equal(quantity('lots'), undefined);
});
