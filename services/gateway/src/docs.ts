import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import fastifyStatic from '@fastify/static';
import { createServiceClient, infrastructureRoute, type App } from '@scaleshop/platform';
import type { Upstream } from './upstreams.ts';

interface OpenApiDocument {
  paths?: Record<string, unknown>;
  components?: { schemas?: Record<string, unknown> };
}

const cacheTtlMs = 30_000;

/**
 * /docs: one OpenAPI document for the whole public API. Each service publishes the schemas
 * its routes are validated with, so the documentation cannot drift from the code; the
 * gateway only rewrites their paths to the public ones.
 */
export async function registerDocs(app: App, upstreams: readonly Upstream[]): Promise<void> {
  const clients = upstreams.map((upstream) => ({
    upstream,
    client: createServiceClient({ service: upstream.service, baseUrl: upstream.baseUrl, timeoutMs: 2_000, retries: 1, breaker: false }),
  }));
  app.addHook('onClose', async () => {
    await Promise.all(clients.map(({ client }) => client.close()));
  });

  let cached: { document: unknown; expires: number } | undefined;

  async function buildDocument() {
    const paths: Record<string, unknown> = {};
    const schemas: Record<string, unknown> = {};
    const missing: string[] = [];
    await Promise.all(
      clients.map(async ({ upstream, client }) => {
        try {
          const { status, body } = await client.request<OpenApiDocument>({ path: '/openapi.json' });
          if (status !== 200) throw new Error(`status ${status}`);
          for (const [path, item] of Object.entries(body.paths ?? {})) {
            if (path.startsWith(upstream.servicePrefix)) paths[upstream.publicPrefix + path.slice(upstream.servicePrefix.length)] = item;
          }
          Object.assign(schemas, body.components?.schemas ?? {});
        } catch {
          missing.push(upstream.service);
        }
      }),
    );
    const document = {
      openapi: '3.1.0',
      info: {
        title: 'scaleshop API',
        version: '1.0.0',
        description:
          'The public API, served by the gateway. JSON is snake_case; money is an exact decimal string. ' +
          'Errors are always {"error": {"code", "message"}}.' +
          (missing.length > 0 ? ` Not available right now: ${missing.join(', ')}.` : ''),
      },
      servers: [{ url: '/' }],
      paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
      components: { schemas, securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    };
    return { document, complete: missing.length === 0 };
  }

  app.get('/docs/openapi.json', infrastructureRoute, async () => {
    if (cached && cached.expires > Date.now()) return cached.document;
    const { document, complete } = await buildDocument();
    // An incomplete document is served but not cached, so a late service appears on the next load.
    if (complete) cached = { document, expires: Date.now() + cacheTtlMs };
    return document;
  });

  const swaggerUiRoot = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  await app.register(fastifyStatic, { root: swaggerUiRoot, prefix: '/docs/static/', index: false, wildcard: false, logLevel: 'warn' });
  app.get('/docs', infrastructureRoute, async (_request, reply) => reply.type('text/html').send(swaggerPage));
}

const swaggerPage = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>scaleshop API</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script>window.ui = SwaggerUIBundle({ url: '/docs/openapi.json', dom_id: '#swagger-ui' });</script>
</body>
</html>`;
