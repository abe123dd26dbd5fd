/**
 * `npm run bench:memory`: what one idle replica of each service holds in memory, with tracing off
 * and on, beside the floor measured in the same run: the bare fastify hello-world of
 * bench/servers, started the same way (the services' node flags and compile cache, and the
 * platform's telemetry entry point, so traced the same way when tracing is on).
 *
 * For each process it reads /proc: the resident set (VmRSS) and how much of it is anonymous
 * memory (heap, JIT code, buffers: RssAnon) rather than mapped files (the node binary, shared
 * libraries: RssFile), which the kernel can share or drop. "Idle" is after start-up, a few
 * requests to every service (so that lazy paths have loaded) and BENCH_IDLE_SECONDS (default 5)
 * of quiet.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serviceNames, type ServiceName } from '@scaleshop/platform';
import { repositoryRoot } from '../scripts/local-shop.ts';
import { processMemory, startBaselineServer, startServer, stopServer, type ProcessMemory } from './measure.ts';
import { startBenchShop, stopBenchShop } from './shop.ts';

const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 5);
const helloPort = 19_111;
const sinkPort = 19_113;

type Tracing = 'off' | 'on';
const tracingEnvironment = (tracing: Tracing): Record<string, string> =>
  tracing === 'on' ? { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' } : { OTEL_EXPORTER_OTLP_ENDPOINT: '' };

async function helloWorld(tracing: Tracing): Promise<ProcessMemory | undefined> {
  const hello = await startBaselineServer('hello', { PORT: String(helloPort), OTEL_SERVICE_NAME: 'hello', ...tracingEnvironment(tracing) }, `http://127.0.0.1:${helloPort}/`);
  try {
    for (let i = 0; i < 20; i++) await (await fetch(`http://127.0.0.1:${helloPort}/`)).text();
    await sleep(idleSeconds * 1000);
    return processMemory(hello.pid);
  } finally {
    await stopServer(hello);
  }
}

async function shopAtRest(tracing: Tracing): Promise<Map<ServiceName, ProcessMemory | undefined>> {
  const bench = await startBenchShop(`memory_${tracing}`, tracingEnvironment(tracing));
  try {
    const gateway = bench.shop.gatewayUrl;
    // Every service answers something, so that what loads on first use has loaded.
    for (const path of ['/api/products', '/api/products/1', '/health', '/', '/api/cart']) {
      for (let i = 0; i < 5; i++) await (await fetch(`${gateway}${path}`)).text();
    }
    await sleep(idleSeconds * 1000);
    return new Map(serviceNames.map((name) => [name, processMemory(bench.shop.services[name]?.process().pid)]));
  } finally {
    await stopBenchShop(bench);
  }
}

console.log(`scaleshop memory benchmark: one idle replica of each service, tracing off and on, Node ${process.version}\n`);
const sink = await startServer(join(repositoryRoot, 'bench/servers/otlp-sink.ts'), { PORT: String(sinkPort) }, `http://127.0.0.1:${sinkPort}/stats`);
const rows: Array<{ name: string; off: ProcessMemory | undefined; on: ProcessMemory | undefined }> = [];
try {
  const hello = { off: await helloWorld('off'), on: await helloWorld('on') };
  const off = await shopAtRest('off');
  const on = await shopAtRest('on');
  rows.push({ name: 'fastify hello-world (floor)', ...hello });
  for (const name of serviceNames) rows.push({ name, off: off.get(name), on: on.get(name) });
} finally {
  await stopServer(sink);
}

const cell = (memory: ProcessMemory | undefined) => (memory ? `${memory.rssMiB.toFixed(0)} (${memory.anonMiB.toFixed(0)})` : '–');
const floor = rows[0]!;
const ratio = (memory: ProcessMemory | undefined, base: ProcessMemory | undefined) => (memory && base ? (memory.rssMiB / base.rssMiB).toFixed(2) : '–');
const header = ['process', 'off: RSS (anon) MiB', 'on: RSS (anon) MiB', 'off / floor', 'on / floor'];
const lines = rows.map((row) => [row.name, cell(row.off), cell(row.on), ratio(row.off, floor.off), ratio(row.on, floor.on)]);
const widths = header.map((title, index) => Math.max(title.length, ...lines.map((line) => line[index]!.length)));
for (const line of [header, ...lines]) console.log(line.map((text, index) => (index === 0 ? text.padEnd(widths[index]!) : text.padStart(widths[index]!))).join('  '));
const services = rows.slice(1);
const largest = (tracing: Tracing) => Math.max(...services.map((row) => row[tracing]?.rssMiB ?? 0));
console.log(`\nlargest idle replica: ${largest('off').toFixed(0)} MiB with tracing off (goal ≤ 90), ${largest('on').toFixed(0)} MiB with tracing on (goal ≤ 130)`);
// Mapped files (the node binary, shared libraries) are one copy in the page cache for every
// process that maps them, so a further replica of a service adds its anonymous memory only.
const largestRow = (tracing: Tracing) => services.reduce((top, row) => ((row[tracing]?.rssMiB ?? 0) > (top[tracing]?.rssMiB ?? 0) ? row : top));
for (const tracing of ['off', 'on'] as const) {
  const memory = largestRow(tracing)[tracing];
  if (!memory) continue;
  const eight = memory.rssMiB - memory.anonMiB + 8 * memory.anonMiB;
  console.log(`eight replicas of ${largestRow(tracing).name}, tracing ${tracing}: ~${eight.toFixed(0)} MiB (its mapped files once, ${memory.anonMiB.toFixed(0)} MiB anonymous each), not 8 × ${memory.rssMiB.toFixed(0)}`);
}
