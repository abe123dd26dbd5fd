import replyFrom from '@fastify/reply-from';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Pool } from 'undici';
import { errorBody, identityHeaders, identityHeadersFor, type App } from '@scaleshop/platform';
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
 * Hop-by-hop headers describe the gateway's connection to the service, not the client's to the
 * gateway (RFC 9110 §7.6.1). Passed on, the service's `connection: keep-alive` would keep open
 * a connection the client asked to close.
 */
function withoutHopByHopHeaders<T extends Record<string, unknown>>(headers: T): T {
  const listed = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  const result = { ...headers };
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'upgrade', ...listed]) delete result[name];
  return result;
}

/**
 * Never passed on as the client sent them. The trace context is included: the gateway continues
 * the client's trace in its own span, and the outgoing call's instrumentation writes that span's
 * context; the client's copy beside it would give the service two, which it cannot parse.
 */
const forwardedAway = ['authorization', identityHeaders.userId, identityHeaders.email, identityHeaders.role, identityHeaders.clientAddress, 'traceparent', 'tracestate'];

/**
 * Forwards /api/<prefix>/* to its service. Identity headers from the client are always
 * removed and replaced by the verified caller and the client's address, so a client cannot
 * claim to be someone else, or somewhere else.
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

    const forward = async (request: FastifyRequest, reply: FastifyReply) => {
      // The path only: reply-from appends the query as the client sent it. Handed the query too,
      // it would refuse data such as ?q=../x as a path traversal.
      const path = request.url.split('?', 1)[0]!;
      const target = upstream.servicePrefix + path.slice(upstream.publicPrefix.length);
      return reply.from(target, {
        timeout: upstream.timeoutMs,
        retryDelay: retryOnceOn503,
        rewriteHeaders: withoutHopByHopHeaders,
        rewriteRequestHeaders: (incoming, headers) => {
          const rewritten: typeof headers = { ...headers, 'x-request-id': incoming.id };
          for (const name of forwardedAway) delete rewritten[name];
          rewritten[identityHeaders.clientAddress] = incoming.ip;
          return incoming.caller ? { ...rewritten, ...identityHeadersFor(incoming.caller) } : rewritten;
        },
        onError: (errorReply, { error }) => {
          // reply-from reports a refused or reset connection as a 500; to the client it is the service being unavailable.
          const timedOut = (error as { statusCode?: number }).statusCode === 504;
          errorReply.log.warn({ err: error, upstream: upstream.service }, 'upstream call failed');
          if (timedOut) return errorReply.code(504).send(errorBody('UPSTREAM_TIMEOUT', `${upstream.service} service did not answer in time`));
          return errorReply.code(503).send(errorBody('UPSTREAM_UNAVAILABLE', `${upstream.service} service is unavailable`));
        },
      });
    };

    const hidden = { schema: { hide: true } };
    scope.all(upstream.publicPrefix, hidden, forward);
    scope.all(`${upstream.publicPrefix}/*`, hidden, forward);
  });
}
