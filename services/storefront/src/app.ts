import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import { createHttpApp, errorBody, type App, type ConfigOf, type Logger } from '@scaleshop/platform';
import type { storefrontConfig } from './config.ts';

/** Where `npm run build -w services/storefront` writes the app. */
export const defaultBuildDirectory = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

/**
 * Everything the page loads comes from this origin, and the API is on it too (the gateway routes
 * both), so nothing else needs allowing. No inline script or style: Vite emits neither.
 */
export const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The storefront: the built React app. Asset names carry a hash of their content, so they can be
 * cached for a year; index.html names the current ones, so it is never cached. Any other path
 * is a page of the app (client-side routing) and gets index.html.
 */
const escapeAttribute = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The page's run-time settings, as meta tags: an inline script would need the CSP loosened. */
function withSettings(html: string, config: ConfigOf<typeof storefrontConfig>): string {
  const tags = config.JAEGER_UI_URL ? `<meta name="scaleshop-jaeger-ui" content="${escapeAttribute(config.JAEGER_UI_URL.replace(/\/+$/, ''))}">` : '';
  return html.replace('</head>', `${tags}</head>`);
}

export async function createStorefront(config: ConfigOf<typeof storefrontConfig>, logger: Logger, buildDirectory = defaultBuildDirectory): Promise<App> {
  const indexPath = join(buildDirectory, 'index.html');
  const app = await createHttpApp({ service: 'storefront', logger, ...(config.METRICS_PORT === undefined ? {} : { metricsPort: config.METRICS_PORT }) });
  // Without a build it still starts, so the API of a shop started without one (tests) is unaffected; pages say what is missing.
  if (!existsSync(indexPath)) {
    logger.warn({ build_directory: buildDirectory }, 'no storefront build: run npm run build -w services/storefront');
    app.get('/*', { logLevel: 'warn', schema: { hide: true } }, async (_request, reply) =>
      reply.code(503).send(errorBody('SERVICE_UNAVAILABLE', 'the storefront is not built: run npm run build -w services/storefront')),
    );
    return app;
  }
  // Read for every page, not once: a build made while the server runs (Tilt's live update rebuilds
  // the pages in the container, `npm run build` does locally) is served from the next page load,
  // without a restart. A few hundred bytes, read from the page cache, once per visit.
  const readIndex = async (): Promise<string | undefined> => {
    try {
      return withSettings(await readFile(indexPath, 'utf8'), config);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };

  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', contentSecurityPolicy);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
  });

  await app.register(fastifyStatic, {
    root: join(buildDirectory, 'assets'),
    prefix: '/assets/',
    index: false,
    wildcard: true,
    immutable: true,
    maxAge: '365d',
    logLevel: 'warn',
  });

  const page = { logLevel: 'warn' as const, schema: { hide: true } };
  const sendIndex = async (reply: FastifyReply) => {
    const indexHtml = await readIndex();
    // Vite empties the build folder before writing the new build: a page asked for in between is a short 503.
    if (indexHtml === undefined) return reply.code(503).header('retry-after', '1').send(errorBody('SERVICE_UNAVAILABLE', 'the storefront is being built: try again in a moment'));
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(indexHtml);
  };
  app.get('/', page, async (_request, reply) => sendIndex(reply));
  app.get('/*', page, async (request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    // A missing file stays a 404: answering it with the page would hide a stale build.
    if (/\.[a-z0-9]+$/i.test(path)) return reply.code(404).send(errorBody('NOT_FOUND', `no file ${path}`));
    return sendIndex(reply);
  });
  return app;
}
