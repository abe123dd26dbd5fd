/**
 * The telemetry start-up, as the services run it: `node --import @scaleshop/platform/telemetry`
 * in front of an ES module. A program (fixtures/instrumented.ts) uses pg, undici, fetch, the
 * platform's fastify app and amqplib inside one span and exports to a receiver started here;
 * the spans that arrive, and how they hang together, show that each instrumentation patched
 * its module — the usual failure in ESM is one that silently does nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestVhost, startOtlpReceiver, testPostgresUrl, type OtlpReceiver, type ReceivedSpan, type TestVhost } from '@scaleshop/platform/testing';
import { isInfrastructurePath, serviceNameFromScript, telemetrySettings } from '../src/telemetry/settings.ts';

const fixture = fileURLToPath(new URL('./fixtures/instrumented.ts', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

const withoutEsmHook = fileURLToPath(new URL('./fixtures/without-esm-hook.ts', import.meta.url));

/** Runs the fixture under a preload: the telemetry entry point, that start-up without its ESM hook, or none. */
async function runFixture(receiver: OtlpReceiver, vhost: TestVhost, preload: string | undefined): Promise<void> {
  const child = spawn(process.execPath, [...(preload ? ['--import', preload] : []), fixture], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'fixture',
      // Explicit resource attributes win over those from K8S_* (K8S_NAMESPACE below).
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,k8s.namespace.name=from-resource-attributes',
      K8S_POD_NAME: 'fixture-7d9c-abcde',
      K8S_NAMESPACE: 'scaleshop',
      DATABASE_URL: testPostgresUrl,
      RABBITMQ_URL: vhost.url,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, `the fixture failed: ${stderr}`);
}

describe('under --import @scaleshop/platform/telemetry, an ES module', () => {
  let receiver: OtlpReceiver;
  let vhost: TestVhost;
  let spans: ReceivedSpan[];
  const one = (description: string, match: (span: ReceivedSpan) => boolean) => {
    const found = spans.filter(match);
    assert.equal(found.length, 1, `${description}: ${found.length} spans among\n${spans.map((span) => `  ${span.kind} ${span.name} ${JSON.stringify(span.attributes)}`).join('\n')}`);
    return found[0]!;
  };

  before(async () => {
    [receiver, vhost] = await Promise.all([startOtlpReceiver(), createTestVhost('telemetry')]);
    await runFixture(receiver, vhost, '@scaleshop/platform/telemetry');
    spans = receiver.spans();
  });
  after(async () => {
    await receiver?.close();
    await vhost?.drop();
  });

  test('exports over OTLP with the service name, the pod, and OTEL_RESOURCE_ATTRIBUTES taking precedence', () => {
    assert.ok(spans.length > 0);
    for (const span of spans) {
      assert.equal(span.resource['service.name'], 'fixture');
      assert.equal(span.resource['k8s.pod.name'], 'fixture-7d9c-abcde');
      assert.equal(span.resource['k8s.namespace.name'], 'from-resource-attributes');
      assert.equal(span.resource['deployment.environment.name'], 'test');
    }
    assert.equal(new Set(spans.map((span) => span.traceId)).size, 1, 'everything happened inside one span: one trace');
  });

  test('traces pg queries', () => {
    const root = one('the fixture span', (span) => span.name === 'fixture');
    const query = one('the query', (span) => span.attributes['db.query.text'] === 'select 1 as one');
    assert.equal(query.kind, CLIENT);
    assert.equal(query.attributes['db.system.name'], 'postgresql');
    assert.equal(query.parentSpanId, root.spanId);
  });

  test("names the platform's prepared statements by what they do, and gives a transaction's BEGIN no span of its own", () => {
    const root = one('the fixture span', (span) => span.name === 'fixture');
    const statement = one('the parameterized statement', (span) => span.attributes['db.query.text'] === 'select datname from pg_database where datname = $1');
    assert.match(statement.name, /^pg\.query:SELECT pg_database #\d+ postgres$/);
    assert.equal(statement.parentSpanId, root.spanId);
    assert.equal(spans.filter((span) => /^pg\.query:BEGIN/.test(span.name)).length, 0);
    one('the COMMIT', (span) => /^pg\.query:COMMIT/.test(span.name));
  });

  test('traces undici Pool, fetch and node:http requests, and the server continues their trace', () => {
    const root = one('the fixture span', (span) => span.name === 'fixture');
    for (const [id, client, scope] of [
      ['1', 'the undici Pool', '@opentelemetry/instrumentation-undici'],
      ['2', 'fetch', '@opentelemetry/instrumentation-undici'],
      ['3', 'node:http', '@opentelemetry/instrumentation-http'],
    ] as const) {
      const outgoing = one(`${client}'s request`, (span) => span.kind === CLIENT && typeof span.attributes['url.full'] === 'string' && new URL(span.attributes['url.full']).pathname === `/things/${id}`);
      assert.equal(outgoing.scope, scope);
      assert.equal(outgoing.parentSpanId, root.spanId);
      assert.equal(outgoing.attributes['http.request.method'], 'GET');
      // The server span is @fastify/otel's, registered by createHttpApp.
      const incoming = one(`the server's span for ${client}`, (span) => span.kind === SERVER && span.attributes['url.path'] === `/things/${id}`);
      assert.equal(incoming.parentSpanId, outgoing.spanId, 'traceparent went over the wire');
      assert.equal(incoming.name, 'GET /things/:id');
      assert.equal(incoming.attributes['fastify.root'], '@fastify/otel');
      assert.equal(incoming.attributes['http.request.method'], 'GET');
      assert.equal(incoming.attributes['http.route'], '/things/:id');
      assert.equal(incoming.attributes['http.response.status_code'], 200);
    }
  });

  test('makes no spans for health, metrics or documentation routes, on either side', () => {
    const infrastructure = spans.filter((span) => isInfrastructurePath(String(span.attributes['url.path'] ?? span.attributes['http.route'] ?? '')));
    assert.deepEqual(infrastructure.map((span) => `${span.kind} ${span.name} ${span.attributes['url.path']}`), []);
    // The requests were made and answered: only their spans are missing.
    assert.ok(!spans.some((span) => span.name.includes('/health')));
  });

  test('traces amqplib publishing and consuming, the consumer continuing the publisher\'s trace', () => {
    const root = one('the fixture span', (span) => span.name === 'fixture');
    const publish = one('the publish', (span) => span.kind === PRODUCER);
    assert.equal(publish.parentSpanId, root.spanId);
    assert.equal(publish.attributes['messaging.system'], 'rabbitmq');
    assert.equal(publish.attributes['messaging.operation.type'], 'send');
    assert.equal(publish.attributes['messaging.message.id'], 'fixture-message');
    const consume = one('the consumption', (span) => span.kind === CONSUMER);
    assert.equal(consume.parentSpanId, publish.spanId);
    assert.equal(consume.attributes['messaging.operation.type'], 'process');
  });

  test('without the preload, the same program exports nothing', async () => {
    const control = await startOtlpReceiver();
    try {
      await runFixture(control, vhost, undefined);
      assert.equal(control.requests(), 0);
    } finally {
      await control.close();
    }
  });

  test('without the ESM loader hook, a named import of node:http escapes instrumentation and breaks the trace', async () => {
    // The control that shows the hook at work: the CommonJS packages (pg, undici, amqplib) are
    // still patched through require(), but `import { get } from 'node:http'` keeps the original.
    const control = await startOtlpReceiver();
    try {
      await runFixture(control, vhost, withoutEsmHook);
      const unhooked = control.spans();
      assert.ok(unhooked.some((span) => span.attributes['db.query.text'] === 'select 1 as one'), 'pg is traced either way');
      assert.equal(unhooked.filter((span) => span.scope === '@opentelemetry/instrumentation-http').length, 0, 'no node:http client span');
      const orphan = unhooked.find((span) => span.kind === SERVER && span.attributes['url.path'] === '/things/3');
      assert.ok(orphan);
      assert.equal(orphan.parentSpanId, '', 'the server started a trace of its own');
      assert.equal(new Set(unhooked.map((span) => span.traceId)).size, 2);
    } finally {
      await control.close();
    }
  });
});

describe('telemetry settings', () => {
  test('export nothing, and start nothing, unless OTEL_EXPORTER_OTLP_ENDPOINT is set', () => {
    const off = telemetrySettings({ OTEL_SERVICE_NAME: 'order' });
    assert.equal(off.enabled, false);
    assert.equal(off.endpoint, undefined);
    const on = telemetrySettings({ OTEL_SERVICE_NAME: 'order', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' });
    assert.equal(on.enabled, true);
    assert.equal(on.endpoint, 'http://jaeger:4318');
    assert.equal(telemetrySettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces' }).enabled, true);
    assert.equal(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_SDK_DISABLED: 'true' }).enabled, false);
    assert.equal(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_TRACES_EXPORTER: 'none' }).enabled, false);
  });

  test('default to http/protobuf, as the specification does, and take http/json and grpc', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' };
    assert.equal(telemetrySettings(endpoint).protocol, 'http/protobuf');
    assert.equal(telemetrySettings({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol, 'http/json');
    assert.equal(telemetrySettings({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).protocol, 'grpc');
    assert.equal(telemetrySettings({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }).protocol, 'http/json');
    const odd = telemetrySettings({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'carrier-pigeon' });
    assert.equal(odd.protocol, 'http/protobuf');
    assert.equal(odd.warnings.length, 1);
  });

  test('name the service from OTEL_SERVICE_NAME, else from the script, and add the replica, pod and namespace', () => {
    assert.equal(telemetrySettings({ OTEL_SERVICE_NAME: 'payment' }, '/app/services/order/src/main.ts').serviceName, 'payment');
    assert.equal(telemetrySettings({}, '/app/services/order/src/main.ts').serviceName, 'order');
    assert.equal(serviceNameFromScript('/app/scripts/start.ts'), undefined);
    assert.deepEqual(telemetrySettings({ K8S_POD_NAME: 'order-5f7b9-x2x4k', K8S_NAMESPACE: 'scaleshop' }).resourceAttributes, {
      'k8s.pod.name': 'order-5f7b9-x2x4k',
      'k8s.namespace.name': 'scaleshop',
      'service.instance.id': 'order-5f7b9-x2x4k',
    });
    assert.deepEqual(telemetrySettings({ SERVICE_INSTANCE_ID: 'payment-2' }).resourceAttributes, { 'service.instance.id': 'payment-2' });
    assert.deepEqual(Object.keys(telemetrySettings({ K8S_POD_NAME: '' }).resourceAttributes), ['service.instance.id']);
    assert.match(telemetrySettings({}).resourceAttributes['service.instance.id']!, new RegExp(`-${process.pid}$`));
  });

  test('leave probes, scrapes and documentation untraced, and nothing else', () => {
    for (const path of ['/health', '/health/live', '/health/ready', '/metrics', '/docs', '/docs/static/x.js', '/openapi.json', '/docs/openapi.json']) assert.equal(isInfrastructurePath(path), true, path);
    for (const path of ['/api/products/1', '/healthy', '/orders/checkout', '/metricsx', undefined]) assert.equal(isInfrastructurePath(path), false, String(path));
  });
});
