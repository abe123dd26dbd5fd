/**
 * Starts the OpenTelemetry Node SDK with the instrumentations the shop needs. Loaded by
 * `register.ts` only when traces are exported, so a service with tracing off never even
 * loads the SDK.
 *
 * ESM: the services are ES modules. The instrumentations patch modules through a require()
 * hook, which on Node 24 still sees the CommonJS packages an ES module imports (pg, amqplib,
 * undici), but not an ES module's named imports, e.g. `import { get } from 'node:http'`, which
 * keep the unpatched function. The import-in-the-middle loader hook
 * (@opentelemetry/instrumentation/hook.mjs) covers those: it is registered here with
 * module.register() before any application module is imported; with the message channel it
 * only intercepts the modules an instrumentation asked for, and the start-up waits until the
 * loader thread has acknowledged them all. services/platform/test/telemetry.test.ts proves that
 * pg, http and amqplib spans appear, and that without the hook the named import escapes.
 */
import { register } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import type { Attributes, Span } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { AmqplibInstrumentation } from '@opentelemetry/instrumentation-amqplib';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { FastifyPluginCallback } from 'fastify';
import { isInfrastructurePath, type OtlpProtocol, type TelemetrySettings } from './settings.ts';
import { setTelemetryState } from './state.ts';
import { publishAttributes } from './spans.ts';

async function otlpTraceExporter(protocol: OtlpProtocol): Promise<SpanExporter> {
  // Each exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT itself.
  switch (protocol) {
    case 'grpc':
      return new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter();
    case 'http/json':
      return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
    case 'http/protobuf':
      return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  }
}

/** Current messaging conventions, which the amqplib instrumentation (still on the old ones) lacks. */
function publishSpanAttributes(span: Span, exchange: string, routingKey: string, messageId: string | undefined): void {
  const attributes: Attributes = {
    'messaging.system': 'rabbitmq',
    'messaging.destination.name': exchange,
    'messaging.rabbitmq.destination.routing_key': routingKey,
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'publish',
    ...publishAttributes(),
  };
  if (messageId !== undefined) attributes['messaging.message.id'] = messageId;
  span.setAttributes(attributes);
}

export interface TracingOptions {
  /** Registers the ESM loader hook (the default). Off only in telemetry.test.ts, to show what it catches. */
  esmLoaderHook?: boolean;
}

export async function startTracing(settings: TelemetrySettings, options: TracingOptions = {}): Promise<void> {
  const esmLoaderHook = options.esmLoaderHook ?? true;
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  if (esmLoaderHook) register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, registerOptions);

  // Jaeger stores traces only: metrics are scraped from /metrics, logs go to stdout.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  // Serializing a batch blocks the event loop: the SDK's default of 512 spans took 5-7 ms on the
  // 2-core bench machine, enough to show in the requests' p99 (bench:tracing); batches of 64
  // (under 1 ms) cost about the same in all, in short slices.
  process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE ??= '64';

  // Each request's SERVER span. @fastify/otel continues the caller's trace from the W3C headers
  // itself; instrumentation-http's server span beside it measured at more than half of what
  // tracing added to a request (bench:tracing), for attributes this span carries too.
  const fastifyOtel = new FastifyOtelInstrumentation({
    ignorePaths: (route: { url?: string }) => isInfrastructurePath(route.url),
    // One span per request: a span per lifecycle hook, or one more for the handler, would cost
    // more than it shows.
    instrumentHooks: false,
    instrumentHandler: false,
    requestHook: (span, request) => {
      const route = request.routeOptions.url;
      // Named as the HTTP conventions name server spans: "{method} {route}".
      span.updateName(route ? `${request.method} ${route}` : request.method);
      const query = request.url.indexOf('?');
      span.setAttributes({
        // The path without the query string, as the conventions define url.path.
        ...(query >= 0 ? { 'url.path': request.url.slice(0, query) } : {}),
        'url.scheme': request.protocol,
        'client.address': request.ip,
        'network.protocol.version': request.raw.httpVersion,
      });
      const userAgent = request.headers['user-agent'];
      if (userAgent) span.setAttribute('user_agent.original', userAgent);
    },
  });

  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) override these.
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, ...settings.resourceAttributes })),
    spanProcessors: [new BatchSpanProcessor(await otlpTraceExporter(settings.protocol))],
    instrumentations: [
      // Outgoing node:http(s) calls; incoming requests are fastify's (below).
      new HttpInstrumentation({
        disableIncomingRequestInstrumentation: true,
        requireParentforOutgoingSpans: true,
        ignoreOutgoingRequestHook: (request) => isInfrastructurePath(request.path ?? undefined),
      }),
      // fetch and the undici Pools of the service client and the gateway's proxy.
      new UndiciInstrumentation({
        requireParentforSpans: true,
        ignoreRequestHook: (request) => isInfrastructurePath(request.path),
      }),
      // No parent, no span: the outbox relay's polling and claims would otherwise each start a trace.
      // Pool checkouts make no spans of their own: the pool gauges in /metrics show its waits.
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      new AmqplibInstrumentation({
        publishHook: (span, info) => publishSpanAttributes(span, info.exchange, info.routingKey, info.options?.messageId),
        consumeHook: (span, { msg }) => {
          span.setAttributes({
            'messaging.system': 'rabbitmq',
            'messaging.destination.name': msg.fields.exchange,
            'messaging.rabbitmq.destination.routing_key': msg.fields.routingKey,
            'messaging.rabbitmq.message.delivery_tag': msg.fields.deliveryTag,
            'messaging.operation.type': 'process',
            'messaging.operation.name': 'process',
            ...(msg.properties.messageId ? { 'messaging.message.id': String(msg.properties.messageId) } : {}),
          });
        },
      }),
      fastifyOtel,
    ],
  });
  sdk.start();

  setTelemetryState({
    enabled: true,
    serviceName: settings.serviceName,
    settings,
    fastifyPlugin: () => fastifyOtel.plugin() as unknown as FastifyPluginCallback,
    shutdown: () => sdk.shutdown(),
  });

  // Every module an instrumentation hooks must be known to the loader before the service imports it.
  if (esmLoaderHook) await waitForAllMessagesAcknowledged();
}
