import replyFrom from '@fastify/reply-from';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Pool } from 'undici';
import { createBreaker, errorBody, HttpError, identityHeaders, identityHeadersFor, type App } from '@scaleshop/platform';
import { withoutHopByHopHeaders } from './hop-by-hop.ts';
import type { Upstream } from './upstreams.ts';

export interface ProxyOptions {
  connectionTtlMs: number;
}

/**
 * reply-from retries a GET answered 503 up to ten times, reading Retry-After as milliseconds:
 * a service that has said it cannot serve (its database is down) would get eleven calls for each
 * one, within a few milliseconds. One retry after a pause still steps past a replica that is
 * shutting down; after that the client gets the 503 and its Retry-After.
 */
const retryOnceOn503 = ({ req, res, attempt }: { req: { method: string }; res?: { statusCode?: number } | null; attempt: number }) =>
  req.method === 'GET' && res?.statusCode === 503 && attempt === 0 ? 50 : null;

/**
 * Never passed on as the client sent them. The trace context is included: the gateway continues
 * the client's trace in its own span, and the outgoing call's instrumentation writes that span's
 * context; the client's copy beside it would give the service two, which it cannot parse.
 */
const forwardedAway = ['authorization', identityHeaders.userId, identityHeaders.email, identityHeaders.role, identityHeaders.clientAddress, 'traceparent', 'tracestate'];

/** Statuses of a service that cannot serve: they count against its circuit breaker. */
const unavailableStatuses = new Set([502, 503, 504]);
/** A client may try again shortly: every 503 of the shop says when. */
const retryAfterSeconds = '1';

/**
 * Forwards /api/<prefix>/* to its service. Identity headers from the client are always
 * removed and replaced by the verified caller and the client's address, so a client cannot
 * claim to be someone else, or somewhere else. A circuit breaker per service stands in front:
 * once the service has failed or hung several calls in a row, requests to it are answered 503
 * at once (with Retry-After) until a probe gets through.
 */
export async function registerProxy(app: App, upstream: Upstream, options: ProxyOptions): Promise<void> {
  await app.register(async (scope) => {
    const pool = new Pool(upstream.baseUrl, {
      connections: 64,
      pipelining: 1,
      keepAliveTimeout: 10_000,
      clientTtl: options.connectionTtlMs,
      headersTimeout: upstream.timeoutMs,
      bodyTimeout: upstream.timeoutMs,
    });
    // The gateway's own completion line already records each call; reply-from's two extra lines would double the log volume.
    await scope.register(replyFrom, { base: upstream.baseUrl, undici: pool as never, destroyAgent: true, disableRequestLogging: true });

    const breaker = createBreaker({ dependency: upstream.service, logger: app.log, isFailure: (status) => unavailableStatuses.has(status as number) });

    const forward = async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        await breaker.execute(() => proxied(request, reply));
      } catch (error) {
        // The breaker is open: nothing was sent to the service. (A failed call has been answered in onError.)
        if (error instanceof HttpError && !reply.sent) return reply.code(error.statusCode).headers(error.headers).send(errorBody(error.code, `${upstream.service} service is unavailable`));
      }
      return reply;
    };

    /** One call to the service, settled with the status it answered (0 when the client went away first), or the error. */
    const proxied = (request: FastifyRequest, reply: FastifyReply) =>
      new Promise<number>((resolve, reject) => {
        // An aborted request gets neither callback; the breaker's probe must still end.
        reply.raw.once('close', () => resolve(0));
        forwardOnce(request, reply, resolve, reject);
      });

    const forwardOnce = (request: FastifyRequest, reply: FastifyReply, answered: (status: number) => void, failed: (error: unknown) => void) => {
      // The path only: reply-from appends the query as the client sent it. Handed the query too,
      // it would refuse data such as ?q=../x as a path traversal.
      const path = request.url.split('?', 1)[0]!;
      const target = upstream.servicePrefix + path.slice(upstream.publicPrefix.length);
      reply.from(target, {
        timeout: upstream.timeoutMs,
        retryDelay: retryOnceOn503,
        rewriteHeaders: withoutHopByHopHeaders,
        rewriteRequestHeaders: (incoming, headers) => {
          const rewritten: typeof headers = { ...headers, 'x-request-id': incoming.id };
          for (const name of forwardedAway) delete rewritten[name];
          rewritten[identityHeaders.clientAddress] = incoming.ip;
          return incoming.caller ? { ...rewritten, ...identityHeadersFor(incoming.caller) } : rewritten;
        },
        onResponse: (_request, answeredReply, response) => {
          answeredReply.send(response.stream);
          answered(response.statusCode);
        },
        onError: (errorReply, { error }) => {
          // reply-from reports a refused or reset connection as a 500; to the client it is the service being unavailable.
          const timedOut = (error as { statusCode?: number }).statusCode === 504;
          errorReply.log.warn({ err: error, upstream: upstream.service }, 'upstream call failed');
          if (timedOut) errorReply.code(504).send(errorBody('UPSTREAM_TIMEOUT', `${upstream.service} service did not answer in time`));
          else errorReply.code(503).header('retry-after', retryAfterSeconds).send(errorBody('UPSTREAM_UNAVAILABLE', `${upstream.service} service is unavailable`));
          failed(error);
        },
      });
    };

    const hidden = { schema: { hide: true } };
    scope.all(upstream.publicPrefix, hidden, forward);
    scope.all(`${upstream.publicPrefix}/*`, hidden, forward);
  });
}
