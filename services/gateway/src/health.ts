import { brokerMissingNotice, createServiceClient, Type, type App } from '@scaleshop/platform';

const ServiceStates = Type.Record(Type.String(), Type.Union([Type.Literal('ready'), Type.Literal('not_ready'), Type.Literal('unreachable')]));
/** `unknown` when no service that uses the broker answered. */
const BrokerState = Type.Union([Type.Literal('connected'), Type.Literal('unreachable'), Type.Literal('unknown')]);
const Warnings = Type.Optional(Type.Array(Type.String()));

type BrokerState = 'connected' | 'unreachable' | 'unknown';

/**
 * GET /health: the whole shop at a glance — 200 when every service is ready, 503 naming those that are not.
 * The broker decides no service's readiness (checkouts wait in the outbox without it), so its absence
 * leaves the status alone and is told apart, in `broker` and a warning a person can act on.
 */
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
        summary: 'Readiness of every service, and whether the message broker can be reached',
        response: {
          200: Type.Object({ status: Type.Literal('ok'), services: ServiceStates, broker: BrokerState, warnings: Warnings }),
          503: Type.Object({ status: Type.Literal('degraded'), services: ServiceStates, not_ready: Type.Array(Type.String()), broker: BrokerState, warnings: Warnings }),
        },
      },
    },
    async (_request, reply) => {
      const answers = await Promise.all(
        clients.map(async (client) => {
          try {
            const response = await client.request<{ optional?: Record<string, boolean> }>({ path: '/health/ready' });
            return { service: client.service, state: response.status === 200 ? ('ready' as const) : ('not_ready' as const), broker: response.body?.optional?.broker };
          } catch {
            return { service: client.service, state: 'unreachable' as const, broker: undefined };
          }
        }),
      );
      const services = Object.fromEntries(answers.map(({ service, state }) => [service, state]));
      const notReady = answers.filter(({ state }) => state !== 'ready').map(({ service }) => service);
      const seen = answers.flatMap(({ broker }) => (broker === undefined ? [] : [broker]));
      // One service that cannot publish is enough to hold orders up.
      const broker: BrokerState = seen.length === 0 ? 'unknown' : seen.every(Boolean) ? 'connected' : 'unreachable';
      const warnings = broker === 'unreachable' ? { warnings: [brokerMissingNotice] } : {};
      if (notReady.length === 0) return reply.code(200).send({ status: 'ok' as const, services, broker, ...warnings });
      return reply.code(503).send({ status: 'degraded' as const, services, not_ready: notReady, broker, ...warnings });
    },
  );
}
