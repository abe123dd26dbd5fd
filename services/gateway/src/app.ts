import rateLimit from '@fastify/rate-limit';
import { createHttpApp, HttpError, loadPublicKey, traceFields, type App, type ConfigOf, type Logger } from '@scaleshop/platform';
import { registerAuthentication } from './authentication.ts';
import type { gatewayConfig } from './config.ts';
import { registerDocs } from './docs.ts';
import { registerFaultKnobs } from './faults.ts';
import { registerShopHealth } from './health.ts';
import { registerProxy } from './proxy.ts';
import { registerStorefront } from './storefront.ts';
import { monitoredServices, upstreamsFrom } from './upstreams.ts';

/** The single entry point: rate limit → authenticate → forward to the owning service; pages to the storefront. */
export async function createGateway(config: ConfigOf<typeof gatewayConfig>, logger: Logger): Promise<App> {
  const publicKey = loadPublicKey(config.JWT_PUBLIC_KEY);
  const upstreams = upstreamsFrom(config);
  const app = await createHttpApp({ service: 'gateway', logger, bodyLimit: config.BODY_LIMIT_BYTES, metricsPort: config.METRICS_PORT });

  // The trace of each request, for a client to link to (the storefront's order page does): the
  // gateway starts every trace, so its id is the whole request's. Absent when tracing is off.
  app.addHook('onRequest', async (_request, reply) => {
    const traceId = traceFields().trace_id;
    if (traceId) reply.header('trace-id', traceId);
  });
  await app.register(rateLimit, {
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    allowList: (request) => !request.url.startsWith('/api/'),
    errorResponseBuilder: (_request, context) => new HttpError(429, 'RATE_LIMITED', `rate limit of ${context.max} requests exceeded; retry in ${context.after}`),
  });
  registerAuthentication(app, publicKey, { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
  for (const upstream of upstreams) {
    await registerProxy(app, upstream, { connectionTtlMs: config.UPSTREAM_CONNECTION_TTL_MS });
  }
  registerShopHealth(app, monitoredServices(config));
  registerFaultKnobs(app, { payment: config.PAYMENT_URL, email: config.EMAIL_URL });
  await registerDocs(app, upstreams);
  await registerStorefront(app, config.STOREFRONT_URL, config.UPSTREAM_TIMEOUT_MS);
  return app;
}
