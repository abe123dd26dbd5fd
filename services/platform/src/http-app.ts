import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyReply,
  type FastifyInstance,
  type FastifyServerOptions,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { Logger } from './logger.ts';
import { Type } from 'typebox';
import { errorBody, errorBodySchema, HttpError } from './errors.ts';
import { isDatabaseUnavailable } from './database/index.ts';
import { collectProcessMetrics, metricsRegistry, observeHttpRequest } from './metrics.ts';
import { isInfrastructurePath } from './telemetry/settings.ts';
import { traceRequests } from './telemetry/state.ts';
import { answerClientError, exceedsJsonNesting, nestingTooDeep, originForm, requestIdFor, requestTargetProblem, serverTimeouts, maxJsonNesting } from './input-guards.ts';

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyInstance {
    /** Set when /metrics is served on a port of its own (see runService). */
    metricsPort: number | undefined;
  }
}

export type ReadinessChecks = Record<string, () => Promise<boolean>>;

export interface HttpAppOptions {
  service: string;
  logger: Logger;
  /** Dependencies that must answer before this instance takes traffic. */
  readiness?: ReadinessChecks;
  bodyLimit?: number;
  /** Serves /metrics on this port (0: any free one) once the app listens, instead of on the app's own port. */
  metricsPort?: number;
  /** Publishes the routes' schemas as OpenAPI at /openapi.json; the gateway merges them at /docs. */
  openapi?: { title: string; description?: string };
  /** Released in this order when the app closes, after the requests in flight have finished. */
  closeOnShutdown?: ReadonlyArray<{ close(): Promise<void> }>;
  fastify?: Partial<FastifyServerOptions>;
}

const statusCodes: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'RATE_LIMITED',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

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

const readinessTimeoutMs = 2_000;

/** Health and documentation routes: quiet in logs, absent from the published API. */
const infrastructureRoute = { logLevel: 'warn', schema: { hide: true } } as const;

const liveness = { 200: Type.Object({ status: Type.Literal('live') }) };
const ReadinessBody = Type.Object({ status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]), checks: Type.Record(Type.String(), Type.Boolean()) });
const readiness = { 200: ReadinessBody, 503: ReadinessBody };

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

  app.addSchema(errorBodySchema);

  collectProcessMetrics();
  const measured = new Map<string, boolean>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    let measure = measured.get(route);
    if (measure === undefined) {
      measure = !isInfrastructurePath(route);
      measured.set(route, measure);
    }
    if (measure) observeHttpRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  // Before anything reads the path: routing has matched it, but nothing has acted on it yet.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    const problem = requestTargetProblem(request.url);
    done(problem === undefined ? undefined : new HttpError(400, 'BAD_REQUEST', problem));
  });
  app.addHook('onSend', (_request, reply, _payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    done();
  });

  // fastify's own JSON parsing (prototype-poisoning checks included), after a depth check.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (exceedsJsonNesting(body as string, maxJsonNesting)) return done(nestingTooDeep(), undefined);
    parseJson(request, body as string, done);
  });

  // Postgres text cannot hold U+0000; refused here with the field's name, it would otherwise
  // fail deep in a statement as a 500.
  app.addHook('preValidation', (request, _reply, done) => {
    const field = nulCharacterIn(request.body, 'body') ?? nulCharacterIn(request.query, 'querystring') ?? nulCharacterIn(request.params, 'params');
    done(field === undefined ? undefined : new HttpError(400, 'VALIDATION_ERROR', `${field} must not contain the NUL character (\\u0000)`));
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HttpError) {
      return reply.code(error.statusCode).headers(error.headers).send(errorBody(error.code, error.message));
    }
    if (error.validation) {
      return reply.code(400).send(errorBody('VALIDATION_ERROR', error.message));
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'request failed: the database is unavailable');
      return reply.code(503).header('retry-after', '2').send(errorBody('DATABASE_UNAVAILABLE', 'the database is unavailable; try again shortly'));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send(errorBody(statusCodes[status] ?? 'BAD_REQUEST', error.message));
    }
    request.log.error({ err: error }, 'request failed');
    const code = statusCodes[status] ?? 'INTERNAL_ERROR';
    return reply.code(status >= 500 && status < 600 ? status : 500).send(errorBody(code, status === 500 ? 'internal error' : error.message));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`));
  });

  if (options.openapi) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: options.openapi.title, description: options.openapi.description ?? '', version: '1.0.0' },
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      },
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => (json.$id as string | undefined) ?? `def-${index}` },
    });
    app.get('/openapi.json', infrastructureRoute, async () => app.swagger());
  }

  const resources = options.closeOnShutdown ?? [];
  app.addHook('onClose', async () => {
    for (const resource of resources) await resource.close();
  });

  let shuttingDown = false;
  app.addHook('preClose', async () => {
    shuttingDown = true;
  });
  // server.close() only ends connections idle at that moment; one whose request is still in
  // flight would stay open for the whole keep-alive timeout after its answer and hold up the
  // shutdown. Telling the client to close makes it end with its last answer.
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) reply.header('connection', 'close');
  });

  app.decorate('metricsPort', options.metricsPort);
  if (options.metricsPort === undefined) {
    app.get('/metrics', infrastructureRoute, async (_request, reply) => {
      const text = await metricsRegistry.metrics();
      return reply.type(metricsRegistry.contentType).send(text);
    });
  }

  app.get('/health/live', { ...infrastructureRoute, schema: { hide: true, response: liveness } }, async () => ({ status: 'live' as const }));

  const checks = options.readiness ?? {};
  app.get('/health/ready', { ...infrastructureRoute, schema: { hide: true, response: readiness } }, async (_request, reply) => {
    const results = await runChecks(checks);
    const ready = !shuttingDown && Object.values(results).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: results });
  });

  return app;
}

async function runChecks(checks: ReadinessChecks): Promise<Record<string, boolean>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const timeout = new Promise<boolean>((resolve) => setTimeout(resolve, readinessTimeoutMs, false).unref());
      const ok = await Promise.race([check().catch(() => false), timeout]);
      return [name, ok] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/** Standard error responses for a route's schema, so clients see the one error body in /docs. */
export function errorResponses(...statuses: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(statuses.map((status) => [status, { $ref: 'ErrorBody#' }]));
}

/** The path of the first string in `value` holding U+0000, e.g. "body/items/0/name". */
function nulCharacterIn(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = nulCharacterIn(item, `${path}/${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
