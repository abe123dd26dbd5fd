import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { infrastructureRoute } from './infrastructure-route.ts';

export type ReadinessChecks = Record<string, () => Promise<boolean>>;

const readinessTimeoutMs = 2_000;

const liveness = { 200: Type.Object({ status: Type.Literal('live') }) };
const ReadinessBody = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  checks: Type.Record(Type.String(), Type.Boolean()),
  optional: Type.Optional(Type.Record(Type.String(), Type.Boolean())),
});
const readiness = { 200: ReadinessBody, 503: ReadinessBody };

/**
 * /health/live and /health/ready, and the graceful part of a shutdown: from the moment the app
 * starts closing it is not ready, so the load balancer stops sending it requests, and the
 * resources it holds are released after the requests in flight have finished.
 */
export const healthAndShutdown = fp(
  async (app: FastifyInstance, options: { checks: ReadinessChecks; optionalChecks?: ReadinessChecks; closeOnShutdown: ReadonlyArray<{ close(): Promise<void> }> }) => {
    let shuttingDown = false;
    app.addHook('preClose', async () => {
      shuttingDown = true;
    });
    // server.close() only ends connections idle at that moment; one whose request is still in
    // flight would stay open for the whole keep-alive timeout after its answer and hold up the
    // shutdown. Telling the client to close makes it end with its last answer.
    app.addHook('onSend', async (_request, reply) => {
      if (shuttingDown) reply.header('connection', 'close');
    });
    app.addHook('onClose', async () => {
      for (const resource of options.closeOnShutdown) await resource.close();
    });

    app.get('/health/live', { ...infrastructureRoute, schema: { hide: true, response: liveness } }, async () => ({ status: 'live' as const }));
    app.get('/health/ready', { ...infrastructureRoute, schema: { hide: true, response: readiness } }, async (_request, reply) => {
      const [results, optional] = await Promise.all([runChecks(options.checks), options.optionalChecks ? runChecks(options.optionalChecks) : undefined]);
      const ready = !shuttingDown && Object.values(results).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: results, ...(optional ? { optional } : {}) });
    });
  },
  { name: 'scaleshop-health' },
);

async function runChecks(checks: ReadinessChecks): Promise<Record<string, boolean>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const timeout = new Promise<boolean>((resolve) => setTimeout(resolve, readinessTimeoutMs, false).unref());
      const ok = await Promise.race([check().catch(() => false), timeout]);
      return [name, ok] as const;
    }),
  );
  return Object.fromEntries(entries);
}
