import type { KeyObject } from 'node:crypto';
import { unauthorized, verifyAccessToken, type App, type Caller, type TokenSettings } from '@scaleshop/platform';
import { isPublic } from './upstreams.ts';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | undefined;
  }
  interface FastifyContextConfig {
    /** The storefront's catch-all: it answers a path of the API with 404, as an unknown route. */
    storefront?: boolean;
  }
}

/** Verifies the bearer token of every call that is not public, and remembers who made it. */
export function registerAuthentication(app: App, publicKey: KeyObject, settings: TokenSettings): void {
  app.decorateRequest('caller', undefined);
  app.addHook('onRequest', async (request) => {
    if (request.is404 || request.routeOptions.config.storefront || !request.url.startsWith('/api/') || isPublic(request.method, request.url)) return;
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw unauthorized('a bearer token is required', 'UNAUTHORIZED');
    request.caller = await verifyAccessToken(match[1]!, publicKey, settings);
  });
}
