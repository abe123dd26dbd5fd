import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import { infrastructureRoute } from './infrastructure-route.ts';

/** The routes' schemas published as OpenAPI at /openapi.json; the gateway merges every service's at /docs. */
export const openApi = fp(
  async (app: FastifyInstance, options: { title: string; description?: string }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: options.title, description: options.description ?? '', version: '1.0.0' },
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      },
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => (json.$id as string | undefined) ?? `def-${index}` },
    });
    app.get('/openapi.json', infrastructureRoute, async () => app.swagger());
  },
  { name: 'scaleshop-openapi' },
);
