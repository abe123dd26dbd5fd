/**
 * Baseline: one proxy hop in front of the hello-world (or, for bench:checkout's ceiling, in front of
 * checkout-chain.ts), built like the gateway's forwarding (traced as hello.ts is). Every method and
 * path is passed on as it came.
 */
import Fastify from 'fastify';
import replyFrom from '@fastify/reply-from';
import { Pool } from 'undici';
import { traceRequests } from '@scaleshop/platform/telemetry/state';

const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:3000';
const app = Fastify({ logger: false });
await traceRequests(app);
await app.register(replyFrom, { base: upstream, undici: new Pool(upstream, { connections: 64, pipelining: 1, keepAliveTimeout: 10_000 }) as never });
app.all('/', (request, reply) => reply.from(request.url));
app.all('/*', (request, reply) => reply.from(request.url));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
