import { createServiceClient, Type, type App } from '@scaleshop/platform';

const ServiceStates = Type.Record(Type.String(), Type.Union([Type.Literal('ready'), Type.Literal('not_ready'), Type.Literal('unreachable')]));

/** GET /health: the whole shop at a glance — 200 when every service is ready, 503 naming those that are not. */
export function registerShopHealth(app: App, services: ReadonlyArray<{ service: string; baseUrl: string }>): void {
  const clients = services.map(({ service, baseUrl }) => createServiceClient({ service, baseUrl, timeoutMs: 2_000, retries: 0, breaker: false }));
  app.addHook('onClose', async () => {
    await Promise.all(clients.map((client) => client.close()));
  });

  app.get(
    '/health',
    {
      logLevel: 'warn',
      schema: {
        tags: ['health'],
        summary: 'Readiness of every service',
        response: {
          200: Type.Object({ status: Type.Literal('ok'), services: ServiceStates }),
          503: Type.Object({ status: Type.Literal('degraded'), services: ServiceStates, not_ready: Type.Array(Type.String()) }),
        },
      },
    },
    async (_request, reply) => {
      const states = await Promise.all(
        clients.map(async (client) => {
          try {
            const response = await client.request({ path: '/health/ready' });
            return [client.service, response.status === 200 ? 'ready' : 'not_ready'] as const;
          } catch {
            return [client.service, 'unreachable'] as const;
          }
        }),
      );
      const services = Object.fromEntries(states);
      const notReady = states.filter(([, state]) => state !== 'ready').map(([service]) => service);
      if (notReady.length === 0) return reply.code(200).send({ status: 'ok' as const, services });
      return reply.code(503).send({ status: 'degraded' as const, services, not_ready: notReady });
    },
  );
}
