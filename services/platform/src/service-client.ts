import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'undici';
import { createBreaker } from './breaker.ts';
import { HttpError, upstreamUnavailable } from './errors.ts';
import type { Logger } from './logger.ts';

/**
 * Service-to-service HTTP over a keep-alive pool, with a deadline on every call and
 * bounded retries with jittered backoff — only for idempotent methods, so a retried
 * call can never apply an effect twice — behind a circuit breaker: a dependency that keeps
 * failing or hanging costs its callers a fast 503, not a deadline per call.
 */
export interface ServiceClientOptions {
  service: string;
  baseUrl: string;
  timeoutMs?: number;
  retries?: number;
  connections?: number;
  retryBaseDelayMs?: number;
  /** How long a connection is reused before a new one is opened (default 15 s), so new replicas get a share. */
  connectionTtlMs?: number;
  /** The circuit breaker's settings (breaker.ts), or false for none (a health check must see the dependency itself). */
  breaker?: false | { failures?: number; halfOpenAfterMs?: number };
  /** Where the breaker's changes of state are logged. */
  logger?: Logger;
}

export interface ServiceRequest {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ServiceResponse<T> {
  status: number;
  body: T;
}

export interface ServiceClient {
  readonly service: string;
  request<T>(request: ServiceRequest): Promise<ServiceResponse<T>>;
  close(): Promise<void>;
}

const idempotentMethods = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
const retryableStatuses = new Set([502, 503, 504]);

export function createServiceClient(options: ServiceClientOptions): ServiceClient {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const retries = options.retries ?? 2;
  const retryBaseDelayMs = options.retryBaseDelayMs ?? 50;
  const origin = new URL(options.baseUrl);
  const basePath = origin.pathname.replace(/\/$/, '');
  // undici (~110 modules, ~10 MiB per process) loads on the first call: most services never make one.
  let pool: Promise<Pool> | undefined;
  const poolOfClient = () =>
    (pool ??= import('undici').then(
      ({ Pool }) =>
        new Pool(origin.origin, {
          connections: options.connections ?? 32,
          keepAliveTimeout: 10_000,
          // Kubernetes (and local mode's shared ports) balance per connection: connections busy all the
          // time must still be renewed, or replicas added by a scale-up never get this caller's requests.
          clientTtl: options.connectionTtlMs ?? 15_000,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        }),
    ));

  // Attempts that failed or timed out, and answers saying the service cannot serve, count against it.
  const breaker =
    options.breaker === false
      ? undefined
      : createBreaker({
          dependency: options.service,
          ...options.breaker,
          isFailure: (result) => retryableStatuses.has((result as ServiceResponse<unknown>).status),
          ...(options.logger ? { logger: options.logger } : {}),
        });

  async function attempt<T>(request: ServiceRequest): Promise<ServiceResponse<T>> {
    const query = request.query
      ? '?' + new URLSearchParams(Object.entries(request.query).filter(([, v]) => v !== undefined).map(([k, v]): [string, string] => [k, String(v)])).toString()
      : '';
    const hasBody = request.body !== undefined;
    const response = await (await poolOfClient()).request({
      method: request.method ?? 'GET',
      path: `${basePath}${request.path}${query}`,
      headers: { accept: 'application/json', ...(hasBody ? { 'content-type': 'application/json' } : {}), ...request.headers },
      body: hasBody ? JSON.stringify(request.body) : null,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.body.text();
    let body: unknown = undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        throw new HttpError(502, 'BAD_GATEWAY', `${options.service} answered with invalid JSON`);
      }
    }
    return { status: response.statusCode, body: body as T };
  }

  return {
    service: options.service,
    async request<T>(request: ServiceRequest) {
      const method = request.method ?? 'GET';
      const attempts = idempotentMethods.has(method) ? retries + 1 : 1;
      let lastError: unknown;
      for (let index = 0; index < attempts; index++) {
        if (index > 0) await sleep(retryBaseDelayMs * 2 ** (index - 1) * (0.5 + Math.random()));
        try {
          const response = breaker ? await breaker.execute(() => attempt<T>(request)) : await attempt<T>(request);
          if (retryableStatuses.has(response.status) && index < attempts - 1) {
            lastError = new HttpError(response.status, 'UPSTREAM_UNAVAILABLE', `${options.service} answered ${response.status}`);
            continue;
          }
          return response;
        } catch (error) {
          if (error instanceof HttpError) throw error;
          lastError = error;
        }
      }
      throw upstreamFailure(options.service, lastError);
    },
    async close() {
      if (pool) await (await pool).close();
    },
  };
}

function upstreamFailure(service: string, error: unknown): HttpError {
  if (error instanceof HttpError) return upstreamUnavailable(`${service} is unavailable: ${error.message}`);
  const name = (error as Error | undefined)?.name;
  const code = (error as { code?: string } | undefined)?.code;
  if (name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new HttpError(504, 'UPSTREAM_TIMEOUT', `${service} did not answer in time`);
  }
  return upstreamUnavailable(`${service} is unavailable: ${(error as Error | undefined)?.message ?? 'unknown error'}`);
}
