import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { collectProcessMetrics, metricsRegistry, observeHttpRequest } from '../metrics.ts';
import { isInfrastructurePath } from '../telemetry/settings.ts';
import { infrastructureRoute } from './infrastructure-route.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Set when /metrics is served on a port of its own (see runService). */
    metricsPort: number | undefined;
  }
}

/** Every request's duration by route template, and /metrics here unless it has a port of its own. */
export const requestMetrics = fp(
  async (app: FastifyInstance, options: { metricsPort: number | undefined }) => {
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

    app.decorate('metricsPort', options.metricsPort);
    if (options.metricsPort === undefined) {
      app.get('/metrics', infrastructureRoute, async (_request, reply) => {
        const text = await metricsRegistry.metrics();
        return reply.type(metricsRegistry.contentType).send(text);
      });
    }
  },
  { name: 'scaleshop-request-metrics' },
);
