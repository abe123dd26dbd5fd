/**
 * docs/autoscaling.md, checked offline as far as it can be without a cluster: its `helm upgrade`
 * flags go through the real helm and the chart's values schema, the Shop they make is rendered
 * with the operator's own code (KEDA present), and the names its commands use (variables of the
 * k6 scripts, the driver's flags, Deployments, Services, the StatefulSet's pod) exist.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { hasSchema, schemaProblems } from '@scaleshop/cdk8s/test/kube-schema.ts';
import { repositoryRoot } from '@scaleshop/cdk8s/test/manifests.ts';
import { desiredObjects, shopProblems, type KubeObject, type Shop } from '../src/desired.ts';
import { helm } from './helm.ts';

const page = readFileSync(join(repositoryRoot, 'docs/autoscaling.md'), 'utf8');
/** The shell blocks of the page, continuation lines joined. */
const commands = [...page.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) => block[1]!.replace(/\\\n\s*/g, ' ').split('\n'));

function renderedShop(): Shop {
  const upgrade = commands.find((line) => line.startsWith('helm upgrade scaleshop charts/scaleshop'));
  assert.ok(upgrade, 'the page has its helm upgrade');
  const sets = [...upgrade.matchAll(/(--set(?:-string)?) (\S+)/g)].flatMap((match) => [match[1]!, match[2]!]);
  assert.ok(sets.length >= 8, upgrade);
  // helm template has no --reuse-values: the flags alone, on the chart's defaults.
  const result = helm(['template', 'scaleshop', 'charts/scaleshop', '--namespace', 'scaleshop', ...sets]);
  assert.equal(result.status, 0, result.stderr);
  const shop = parseAllDocuments(result.stdout)
    .map((document) => document.toJS() as KubeObject | null)
    .find((object) => object?.kind === 'Shop');
  assert.ok(shop);
  assert.deepEqual(shopProblems(shop), []);
  return { ...(shop as Shop), metadata: { ...shop.metadata, uid: 'uid-1' } };
}

test('step 2: the helm flags are valid values, and the Shop they make renders the ScaledObject and settings the page describes', () => {
  const objects = desiredObjects(renderedShop(), { keda: true });
  const find = (kind: string, name: string) => objects.find((object) => object.kind === kind && object.metadata.name === name) as (KubeObject & Record<string, any>) | undefined;

  const scaled = find('ScaledObject', 'payment');
  assert.ok(scaled, 'a ScaledObject for payment');
  assert.equal(scaled.spec.minReplicaCount, 1);
  assert.equal(scaled.spec.maxReplicaCount, 6);
  assert.deepEqual(scaled.spec.triggers.map((trigger: { type: string; metadata: unknown }) => [trigger.type, trigger.metadata]), [['rabbitmq', { protocol: 'amqp', mode: 'QueueLength', value: '20', queueName: 'payment.inventory' }]]);
  assert.ok(find('TriggerAuthentication', scaled.spec.triggers[0].authenticationRef.name), 'its TriggerAuthentication');
  assert.equal(find('Deployment', 'payment')?.spec.replicas, undefined, 'the autoscaler owns the count');

  // The payment latency is a fault knob: a file in the payment-knobs ConfigMap, applied without a restart.
  const knobs = find('ConfigMap', 'payment-knobs')?.data ?? {};
  assert.equal(Object.keys(knobs).length, 1);
  assert.equal((JSON.parse(Object.values(knobs)[0] as string) as { latency_ms: number }).latency_ms, 500);
  assert.equal(find('ConfigMap', 'payment-config')?.data.CONSUMER_PREFETCH, '4');
  assert.equal(find('ConfigMap', 'gateway-config')?.data.RATE_LIMIT_MAX, '1000000');
  assert.equal(find('ConfigMap', 'user-config')?.data.REGISTRATIONS_PER_ADDRESS, '100000');

  const checked = objects.filter((object) => hasSchema(object.apiVersion, object.kind));
  assert.ok(checked.length > 20);
  assert.deepEqual(checked.flatMap((object) => schemaProblems(object as Parameters<typeof schemaProblems>[0]).map((problem) => `${object.kind}/${object.metadata.name}: ${problem}`)), []);

  // What steps 1 and 4 name: the operator's Deployment (release scaleshop), the Services and ports forwarded, the broker's pod.
  const chart = helm(['template', 'scaleshop', 'charts/scaleshop', '--namespace', 'scaleshop']);
  assert.ok(parseAllDocuments(chart.stdout).some((document) => (document.toJS() as KubeObject | null)?.kind === 'Deployment' && (document.toJS() as KubeObject).metadata.name === 'scaleshop-operator'));
  for (const [service, port] of [['gateway', 9000], ['rabbitmq', 15672], ['jaeger', 16686]] as const) {
    assert.ok(page.includes(`port-forward svc/${service} ${port}:${port}`) || page.includes(`port-forward\nsvc/${service} ${port}:${port}`), `the page forwards ${service}`);
    assert.ok(find('Service', service)?.spec.ports.some((entry: { port: number }) => entry.port === port), `Service ${service} has port ${port}`);
  }
  assert.ok(find('StatefulSet', 'rabbitmq'), 'rabbitmq-0 is the StatefulSet rabbitmq’s pod');
});

test('step 3: every variable given to k6 is one the scripts read, the script exists, and the driver takes the flags shown', () => {
  const sources = (dir: string): string[] => readdirSync(dir).flatMap((entry) => (statSync(join(dir, entry)).isDirectory() ? sources(join(dir, entry)) : entry.endsWith('.ts') ? [readFileSync(join(dir, entry), 'utf8')] : []));
  const loadtests = sources(join(repositoryRoot, 'loadtests')).join('\n');
  const variables = [...new Set([...page.matchAll(/-e ([A-Z_]+)=/g)].map((match) => match[1]!))];
  assert.deepEqual(variables.sort(), ['BASE_URL', 'BUYER_SESSIONS', 'DURATION', 'RATE', 'SUMMARY_DIR']);
  // Read as __ENV.X by the k6 script, as parameters.env.X or envNumber(parameters, 'X') by the journeys.
  for (const variable of variables) assert.ok(new RegExp(`(__ENV\\.${variable}\\b|env\\.${variable}\\b|'${variable}')`).test(loadtests), variable);
  assert.match(loadtests, /BUYER_SESSIONS === 'reuse'/);
  assert.ok(existsSync(join(repositoryRoot, 'loadtests/buyer.ts')));
  const driver = readFileSync(join(repositoryRoot, 'load/cli.ts'), 'utf8');
  // parseArgs options: `rate: { type: 'string' }`, `'base-url': { type: 'string' }`.
  for (const flag of ['rate', 'duration', 'base-url']) assert.ok(new RegExp(`(^|\\s)'?${flag}'?: \\{ type: 'string' \\}`, 'm').test(driver), flag);
});
