/**
 * `npm run bench`: GET /api/products/:id through the gateway, beside two baselines measured
 * in the same run on the same machine: a bare fastify hello-world, and that hello-world
 * behind one proxy hop. The shop path is also two processes deep (gateway → product),
 * so the proxy baseline is the ceiling it can be judged against.
 */
import { dropDatabase } from '@scaleshop/platform/testing';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startShop } from '../scripts/local-shop.ts';
import { load, printTable, residentMemoryMiB, startBaselineServer, stopServer, type Measurement } from './measure.ts';

const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const helloPort = 19_101;
const proxyPort = 19_102;

console.log(`scaleshop gateway benchmark: ${connections} connections, ${seconds} s per target after ${warmupSeconds} s warm-up, Node ${process.version}\n`);

const results: Measurement[] = [];
const memory: Record<string, number | undefined> = {};

const hello = await startBaselineServer('hello', { PORT: String(helloPort) }, `http://127.0.0.1:${helloPort}/`);
const proxy = await startBaselineServer('proxy', { PORT: String(proxyPort), UPSTREAM_URL: `http://127.0.0.1:${helloPort}` }, `http://127.0.0.1:${proxyPort}/`);
try {
  results.push(await load({ label: 'fastify hello-world', url: `http://127.0.0.1:${helloPort}/`, connections, seconds, warmupSeconds }));
  results.push(await load({ label: 'hello-world behind one proxy hop', url: `http://127.0.0.1:${proxyPort}/`, connections, seconds, warmupSeconds }));
  memory['hello-world'] = residentMemoryMiB(hello.pid);
  memory['proxy'] = residentMemoryMiB(proxy.pid);
} finally {
  await Promise.all([stopServer(hello), stopServer(proxy)]);
}

/**
 * The V8 heap in use and the buffers outside it, from the gateway's own /metrics: how much of the
 * resident size after load is what the last major collection has not yet freed. It varies
 * from run to run with when that collection ran.
 */
async function heapOf(metricsUrl: string): Promise<{ usedMiB: number; externalMiB: number } | undefined> {
  const text = await (await fetch(metricsUrl)).text();
  const gauge = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]) / 2 ** 20;
  const usedMiB = gauge('nodejs_heap_size_used_bytes');
  const externalMiB = gauge('nodejs_external_memory_bytes');
  return Number.isFinite(usedMiB) && Number.isFinite(externalMiB) ? { usedMiB, externalMiB } : undefined;
}

let gatewayHeap: Awaited<ReturnType<typeof heapOf>>;
const shop = await startShop({
  ephemeralPorts: true,
  databasePrefix: `bench_${randomBytes(4).toString('hex')}_`,
  services: ['product', 'gateway'],
  output: 'silent',
  // The limiter stays on, so its cost is measured, but high enough never to answer 429 here.
  serviceEnvironment: { gateway: { RATE_LIMIT_MAX: '1000000000' } },
});
try {
  results.push(await load({ label: 'GET /api/products/:id via gateway', url: `${shop.gatewayUrl}/api/products/1`, connections, seconds, warmupSeconds }));
  memory['gateway'] = residentMemoryMiB(shop.services.gateway.process().pid);
  memory['product'] = residentMemoryMiB(shop.services.product.process().pid);
  gatewayHeap = await heapOf(shop.gatewayMetricsUrl);
} finally {
  await shop.stop();
  for (const url of Object.values(shop.databaseUrls)) await dropDatabase(url);
}

printTable(results);
const [bare, hop, gateway] = results as [Measurement, Measurement, Measurement];
console.log(`
ratios
  gateway / one-hop proxy   ${(gateway.requestsPerSecond / hop.requestsPerSecond).toFixed(2)}  (goal ≥ 0.50)
  gateway / bare fastify    ${(gateway.requestsPerSecond / bare.requestsPerSecond).toFixed(2)}
  one-hop proxy / bare      ${(hop.requestsPerSecond / bare.requestsPerSecond).toFixed(2)}
  gateway p99               ${gateway.p99.toFixed(2)} ms  (goal ≤ 25 ms)

resident memory after load (MiB)
${Object.entries(memory).map(([name, mib]) => `  ${name.padEnd(12)} ${mib === undefined ? 'n/a' : mib.toFixed(0)}`).join('\n')}
  of the gateway's: V8 heap in use ${gatewayHeap ? gatewayHeap.usedMiB.toFixed(0) : 'n/a'}, buffers outside it ${gatewayHeap ? gatewayHeap.externalMiB.toFixed(0) : 'n/a'}
  (live data and garbage not yet collected; a major collection frees the garbage when V8 needs the room)
`);
if (results.some((result) => result.errors > 0 || result.non2xx > 0)) {
  console.error('some requests failed: the figures above are not comparable');
  process.exitCode = 1;
}
