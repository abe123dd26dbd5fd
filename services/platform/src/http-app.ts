import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyInstance,
  type FastifyServerOptions,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { Logger } from './logger.ts';
import { errorBody } from './errors.ts';
import { traceRequests } from './telemetry/state.ts';
import { errorHandling } from './http/error-handling.ts';
import { healthAndShutdown, type ReadinessChecks } from './http/health.ts';
import { answerClientError, inputGuards, originForm, requestIdFor, serverTimeouts } from './http/input-guards.ts';
import { openApi } from './http/openapi.ts';
import { requestMetrics } from './http/request-metrics.ts';

export { infrastructureRoute } from './http/infrastructure-route.ts';
export type { ReadinessChecks } from './http/health.ts';

/**
 * An HTTP service as every scaleshop service is one: fastify with the platform's plugins for
 * tracing, request metrics, input guards, the one error body, OpenAPI, health and a graceful
 * shutdown. Services add their routes to it.
 */
export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface HttpAppOptions {
  service: string;
  logger: Logger;
  /** Dependencies that must answer before this instance takes traffic. */
  readiness?: ReadinessChecks;
  /**
   * Reported beside the readiness checks in /health/ready, without deciding it: what the service
   * can work on without, for a while, and the gateway's /health tells a person about (the broker).
   */
  optionalChecks?: ReadinessChecks;
  bodyLimit?: number;
  /** Serves /metrics on this port (0: any free one) once the app listens, instead of on the app's own port. */
  metricsPort?: number;
  /** Publishes the routes' schemas as OpenAPI at /openapi.json; the gateway merges them at /docs. */
  openapi?: { title: string; description?: string };
  /** Released in this order when the app closes, after the requests in flight have finished. */
  closeOnShutdown?: ReadonlyArray<{ close(): Promise<void> }>;
  fastify?: Partial<FastifyServerOptions>;
}


/**
 * Query strings and path parameters arrive as text and must be coerced ("20" -> 20),
 * but a JSON body is typed already: coercing it would accept 19.99 where the API
 * promises money as an exact decimal string.
 */
const coercingCompiler = AjvCompiler();
const strictCompiler = AjvCompiler();
type BuildValidator = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']>;
type AjvPoolOptions = NonNullable<Parameters<typeof coercingCompiler>[1]>;
type ExternalSchemas = Parameters<typeof coercingCompiler>[0];
const buildValidatorWithStrictBodies = ((externalSchemas: ExternalSchemas, options: AjvPoolOptions) => {
  const coercing = coercingCompiler(externalSchemas, options);
  const strict = strictCompiler(externalSchemas, { ...options, customOptions: { ...options.customOptions, coerceTypes: false } } as AjvPoolOptions);
  return (route: { httpPart?: string }) => (route.httpPart === 'body' ? strict(route as never) : coercing(route as never));
}) as unknown as BuildValidator;

/** One log line per request, on completion: it carries the status and duration the start line lacks. */
class CompletionOnlyLogController extends LogController {
  override incomingRequest(): void {}
}

export async function createHttpApp(options: HttpAppOptions): Promise<App> {
  const app = Fastify({
    loggerInstance: options.logger,
    requestIdHeader: false,
    genReqId: requestIdFor,
    rewriteUrl: (request) => originForm(request.url ?? '/'),
    requestTimeout: serverTimeouts.requestTimeoutMs,
    keepAliveTimeout: serverTimeouts.keepAliveTimeoutMs,
    http: { headersTimeout: serverTimeouts.headersTimeoutMs, connectionsCheckingInterval: serverTimeouts.connectionsCheckingIntervalMs },
    clientErrorHandler: answerClientError,
    // The router's own refusals (a path it cannot decode) in the one error body.
    frameworkErrors: (error, _request, reply) => {
      (reply as FastifyReply).code(400).send(errorBody('BAD_REQUEST', error.message));
    },
    bodyLimit: options.bodyLimit ?? 256 * 1024,
    logController: new CompletionOnlyLogController({ requestIdLogLabel: 'request_id' }),
    schemaController: { compilersFactory: { buildValidator: buildValidatorWithStrictBodies } },
    return503OnClosing: true,
    ...options.fastify,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  // First of all, so that every route and hook after it is traced (health and metrics are not).
  await traceRequests(app);
  await app.register(requestMetrics, { metricsPort: options.metricsPort });
  await app.register(inputGuards);
  await app.register(errorHandling);
  if (options.openapi) await app.register(openApi, options.openapi);
  await app.register(healthAndShutdown, { checks: options.readiness ?? {}, ...(options.optionalChecks ? { optionalChecks: options.optionalChecks } : {}), closeOnShutdown: options.closeOnShutdown ?? [] });
  return app;
}

/** Standard error responses for a route's schema, so clients see the one error body in /docs. */
export function errorResponses(...statuses: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(statuses.map((status) => [status, { $ref: 'ErrorBody#' }]));
}
