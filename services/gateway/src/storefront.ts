import replyFrom from '@fastify/reply-from';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, type App } from '@scaleshop/platform';
import { withoutHopByHopHeaders } from './hop-by-hop.ts';

/** The gateway's own and the API's: never a page, whatever the storefront would answer. */
const reserved = /^\/(api|docs|health|metrics)(\/|$)/i;
/** A page of the app: plain segments only, so no spelling (%2e, \, ..) can resolve elsewhere at the storefront. */
const page = /^\/(?:[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*\/?)?$/;
/** A built file: one plain name under /assets/. */
const asset = /^\/assets\/[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export function isStorefrontPath(path: string): boolean {
  return !reserved.test(path) && (page.test(path) || asset.test(path));
}

/**
 * Every GET that is not the API's, the documentation's or health's goes to the storefront, so the
 * shop and its API share one origin (no CORS). Only the storefront's pages and assets are
 * reachable: its /metrics and health routes are not, as no service's are.
 */
export async function registerStorefront(app: App, baseUrl: string, timeoutMs: number): Promise<void> {
  await app.register(async (scope) => {
    await scope.register(replyFrom, { base: baseUrl, disableRequestLogging: true, undici: { connections: 16, pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs } });
    const forward = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = request.url.split('?', 1)[0]!;
      if (!isStorefrontPath(path)) return reply.code(404).send(errorBody('NOT_FOUND', `no route for ${request.method} ${path}`));
      return reply.from(path, {
        timeout: timeoutMs,
        rewriteHeaders: withoutHopByHopHeaders,
        // Nothing of the caller's identity is the storefront's business.
        rewriteRequestHeaders: (_incoming, headers) => {
          const { authorization: _authorization, cookie: _cookie, ...rest } = headers;
          return rest;
        },
        onError: (errorReply, { error }) => {
          errorReply.log.warn({ err: error, upstream: 'storefront' }, 'upstream call failed');
          return errorReply.code(503).header('retry-after', '1').send(errorBody('UPSTREAM_UNAVAILABLE', 'storefront service is unavailable'));
        },
      });
    };
    const hidden = { schema: { hide: true }, config: { storefront: true } };
    scope.get('/', hidden, forward);
    scope.get('/*', hidden, forward);
  });
}
