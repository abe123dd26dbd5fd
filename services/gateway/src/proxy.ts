import replyFrom from '@fastify/reply-from';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Pool } from 'undici';
import { errorBody, identityHeaders, identityHeadersFor, type App } from '@scaleshop/platform';
import type { Upstream } from './upstreams.ts';

export interface ProxyOptions {
  timeoutMs: number;
  connectionTtlMs: number;
}

const forwardedAway = ['authorization', identityHeaders.userId, identityHeaders.email, identityHeaders.role];

/**
 * Forwards /api/<prefix>/* to its service. Identity headers from the client are always
 * removed and replaced by the verified caller, so a client cannot claim to be someone else.
 */
export async function registerProxy(app: App, upstream: Upstream, options: ProxyOptions): Promise<void> {
  await app.register(async (scope) => {
    const pool = new Pool(upstream.baseUrl, {
      connections: 64,
      pipelining: 1,
      keepAliveTimeout: 10_000,
      clientTtl: options.connectionTtlMs,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    await scope.register(replyFrom, { base: upstream.baseUrl, undici: pool as never, destroyAgent: true });

    const forward = async (request: FastifyRequest, reply: FastifyReply) => {
      const target = upstream.servicePrefix + request.url.slice(upstream.publicPrefix.length);
      return reply.from(target, {
        timeout: options.timeoutMs,
        rewriteRequestHeaders: (incoming, headers) => {
          const rewritten: typeof headers = { ...headers, 'x-request-id': incoming.id };
          for (const name of forwardedAway) delete rewritten[name];
          return incoming.caller ? { ...rewritten, ...identityHeadersFor(incoming.caller) } : rewritten;
        },
        onError: (errorReply, { error }) => {
          const status = (error as { statusCode?: number }).statusCode ?? 502;
          const code = status === 504 ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE';
          errorReply.log.warn({ err: error, upstream: upstream.service }, 'upstream call failed');
          errorReply.code(status >= 500 ? status : 502).send(errorBody(code, `${upstream.service} service is unavailable`));
        },
      });
    };

    const hidden = { schema: { hide: true } };
    scope.all(upstream.publicPrefix, hidden, forward);
    scope.all(`${upstream.publicPrefix}/*`, hidden, forward);
  });
}
