/** Baseline: the smallest fastify server there is (traced, for bench:tracing's floor, when started with the platform's telemetry entry point). */
import Fastify from 'fastify';
import { traceRequests } from '@scaleshop/platform/telemetry/state';

const app = Fastify({ logger: false });
await traceRequests(app);
app.get('/', async () => ({ hello: 'world' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
