/**
 * `npm run bench:tracing`: what tracing costs, measured in one run at the same offered load.
 *
 * The whole shop runs twice (own databases and RabbitMQ virtual host each time), once with
 * tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT) and once with tracing on, exporting OTLP
 * (http/protobuf, the default; BENCH_OTLP_PROTOCOL to change) to a local receiver that accepts
 * and drops everything. Each time, at a constant arrival rate (open loop, latency counted from
 * when each request was due):
 *
 *  1. the catalog: GET /api/products/:id through the gateway (BENCH_CATALOG_RATE, default 500/s);
 *  2. checkout: POST /api/orders/checkout (BENCH_CHECKOUT_RATE, default 25/s), with the
 *     payment and email latencies at 0, so that the whole saga runs — traced too — while the
 *     checkouts are measured; then the saga's completion time, checkout → completed.
 *
 * Beside them, the floor: the bare fastify hello-world behind one proxy hop (bench/servers),
 * started with the platform's telemetry entry point as the services are, so traced with the
 * same SDK, instrumentations and exporter, at the catalog's rate. What tracing adds there is
 * what it costs before any of the shop's own work; no service can pay less.
 *
 * The default rates keep a 2-core machine about half busy with tracing off, as a service is run
 * with headroom; the CPU time per request and per checkout, also printed, is the cost whatever
 * the load. BENCH_ROUNDS (default 2) repeats off/on, alternating which goes first, and reports
 * medians.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repositoryRoot } from '../scripts/local-shop.ts';
import { processCpuMs, servicesCpuMs, settle } from './cpu.ts';
import { requestsAtRate, type RequestRateResult } from '../load/request-rate.ts';
import { startBaselineServer, startServer, stopServer } from './measure.ts';
import { catalogSize, checkoutsAtRate, checkpoint, prepareShoppers, sagaCompletionTimes, startBenchShop, stopBenchShop } from './shop.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const catalogRate = Number(process.env.BENCH_CATALOG_RATE ?? 500);
const checkoutRate = Number(process.env.BENCH_CHECKOUT_RATE ?? 25);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
/** Warm-up at each phase's own rate first: a fresh shop's first seconds at load are a cold start (see bench/checkout.ts). */
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const protocol = process.env.BENCH_OTLP_PROTOCOL ?? 'http/protobuf';
const sinkPort = 19_103;

type Mode = 'off' | 'on';

interface Run {
  floor: RequestRateResult;
  floorCpuMs: number;
  catalog: RequestRateResult;
  checkout: RequestRateResult;
  /** CPU time of all seven services per catalog request, and per checkout with its whole saga (ms). */
  catalogCpuMs: number;
  checkoutCpuMs: number;
  saga: { completed: number; other: number; p50: number; p99: number };
  exports: number;
  exportedBytes: number;
}

const sinkUrl = `http://127.0.0.1:${sinkPort}`;
const helloPort = 19_104;
const proxyPort = 19_105;

/** The hello-world behind one proxy hop, traced (or not) exactly as the services are. */
async function measureFloor(tracing: Record<string, string>): Promise<{ floor: RequestRateResult; floorCpuMs: number }> {
  const hello = await startBaselineServer('hello', { ...tracing, OTEL_SERVICE_NAME: 'hello', PORT: String(helloPort) }, `http://127.0.0.1:${helloPort}/`);
  const proxy = await startBaselineServer('proxy', { ...tracing, OTEL_SERVICE_NAME: 'proxy', PORT: String(proxyPort), UPSTREAM_URL: `http://127.0.0.1:${helloPort}` }, `http://127.0.0.1:${proxyPort}/`);
  const cpuMs = () => processCpuMs(hello.pid) + processCpuMs(proxy.pid);
  try {
    await settle();
    let cpuBefore = 0;
    const floor = await requestsAtRate({
      origin: `http://127.0.0.1:${proxyPort}`,
      rate: catalogRate,
      seconds,
      warmupSeconds,
      onMeasuring: () => (cpuBefore = cpuMs()),
      request: () => ({ method: 'GET', path: '/' }),
    });
    return { floor, floorCpuMs: (cpuMs() - cpuBefore) / floor.completed };
  } finally {
    await Promise.all([stopServer(hello), stopServer(proxy)]);
  }
}

const sinkStats = async () => (await (await fetch(`${sinkUrl}/stats`)).json()) as { exports: number; bytes: number };

async function measure(mode: Mode, round: number): Promise<Run> {
  const tracing: Record<string, string> = mode === 'on' ? { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_EXPORTER_OTLP_PROTOCOL: protocol } : { OTEL_EXPORTER_OTLP_ENDPOINT: '' };
  const { floor, floorCpuMs } = await measureFloor(tracing);
  const bench = await startBenchShop(`tracing_${mode}_${round}`, { ...tracing, PAYMENT_LATENCY_MS: '0', EMAIL_LATENCY_MS: '0' });
  try {
    const origin = bench.shop.gatewayUrl;
    const warmupCheckouts = Math.round(checkoutRate * warmupSeconds);
    const shoppers = await prepareShoppers(bench.shop, warmupCheckouts + Math.round(checkoutRate * seconds));
    const exportedBefore = await sinkStats();

    // Each phase runs its warm-up straight into its measured window (see OpenLoopOptions.warmupMs in load/open-loop.ts).
    await checkpoint(bench.shop);
    await settle();
    let catalogCpu = 0;
    const catalog = await requestsAtRate({
      origin,
      rate: catalogRate,
      seconds,
      warmupSeconds,
      onMeasuring: () => (catalogCpu = servicesCpuMs(bench.shop)),
      request: (i) => ({ method: 'GET', path: `/api/products/${(i % catalogSize) + 1}` }),
    });
    const catalogCpuMs = (servicesCpuMs(bench.shop) - catalogCpu) / catalog.completed;

    await settle();
    const run = await checkoutsAtRate(bench.shop, shoppers, { rate: checkoutRate, seconds, warmupSeconds, readCpu: () => servicesCpuMs(bench.shop) });
    const checkout = run.load;
    const checkoutCpuMs = (run.cpuAfter - run.cpuBefore) / checkout.completed;
    const saga = await sagaCompletionTimes(bench.shop, run.since);

    await sleep(mode === 'on' ? 6_000 : 0); // the last batches of spans (the batch processor exports every 5 s)
    const exportedAfter = await sinkStats();
    return { floor, floorCpuMs, catalog, checkout, catalogCpuMs, checkoutCpuMs, saga, exports: exportedAfter.exports - exportedBefore.exports, exportedBytes: exportedAfter.bytes - exportedBefore.bytes };
  } finally {
    await stopBenchShop(bench);
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

console.log(`scaleshop tracing benchmark — Node ${process.version}, ${seconds} s per phase, ${rounds} round(s); tracing on exports OTLP ${protocol} to a local receiver that drops it\n`);

const sink = await startServer(join(repositoryRoot, 'bench/servers/otlp-sink.ts'), { PORT: String(sinkPort) }, `${sinkUrl}/stats`);
const runs: Record<Mode, Run[]> = { off: [], on: [] };
try {
  for (let round = 0; round < rounds; round++) {
    for (const mode of (round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) as Mode[]) {
      process.stdout.write(`round ${round + 1}: tracing ${mode}… `);
      const run = await measure(mode, round);
      runs[mode].push(run);
      process.stdout.write(`floor p99 ${run.floor.p99.toFixed(1)} ms; catalog ${run.catalog.achievedRate.toFixed(0)}/s p99 ${run.catalog.p99.toFixed(1)} ms; checkout ${run.checkout.achievedRate.toFixed(0)}/s p99 ${run.checkout.p99.toFixed(1)} ms\n`);
    }
  }
} finally {
  await stopServer(sink);
}

const of = (mode: Mode, read: (run: Run) => number) => median(runs[mode].map(read));
const rows: Array<[string, (run: Run) => number, string, string]> = [
  [`floor: fastify hello-world behind one proxy hop, ${catalogRate}/s`, () => Number.NaN, '', ''],
  ['  throughput (answered/s)', (run) => run.floor.achievedRate, '/s', ''],
  ['  p50', (run) => run.floor.p50, ' ms', ''],
  ['  p99', (run) => run.floor.p99, ' ms', ''],
  ['  CPU per request, both servers', (run) => run.floorCpuMs, ' ms', ''],
  [`catalog GET /api/products/:id, offered ${catalogRate}/s`, () => Number.NaN, '', ''],
  ['  throughput (answered/s)', (run) => run.catalog.achievedRate, '/s', 'goal ≥ 0.90'],
  ['  p50', (run) => run.catalog.p50, ' ms', ''],
  ['  p99', (run) => run.catalog.p99, ' ms', 'goal ≤ 1.10'],
  ['  CPU per request, all services', (run) => run.catalogCpuMs, ' ms', ''],
  [`checkout POST /api/orders/checkout, offered ${checkoutRate}/s`, () => Number.NaN, '', ''],
  ['  throughput (answered/s)', (run) => run.checkout.achievedRate, '/s', 'goal ≥ 0.90'],
  ['  p50', (run) => run.checkout.p50, ' ms', ''],
  ['  p99', (run) => run.checkout.p99, ' ms', 'goal ≤ 1.10'],
  ['  saga checkout → completed, p50', (run) => run.saga.p50, ' ms', ''],
  ['  saga checkout → completed, p99', (run) => run.saga.p99, ' ms', ''],
  ['  CPU per checkout and its saga, all services', (run) => run.checkoutCpuMs, ' ms', ''],
];
const fmt = (value: number, unit: string) => (Number.isNaN(value) ? '' : `${value.toFixed(unit === '/s' ? 0 : value < 10 ? 2 : 1)}${unit}`);
console.log(`\n${''.padEnd(44)}${'tracing off'.padStart(14)}${'tracing on'.padStart(14)}${'on / off'.padStart(10)}`);
for (const [label, read, unit, goal] of rows) {
  const off = of('off', read);
  const on = of('on', read);
  const ratio = Number.isNaN(off) ? '' : (on / off).toFixed(2);
  console.log(`${label.padEnd(44)}${fmt(off, unit).padStart(14)}${fmt(on, unit).padStart(14)}${ratio.padStart(10)}  ${goal}`);
}
const last = (mode: Mode) => runs[mode].at(-1)!;
console.log(`
statuses        off: catalog ${JSON.stringify(last('off').catalog.statuses)} errors ${last('off').catalog.errors}, checkout ${JSON.stringify(last('off').checkout.statuses)} errors ${last('off').checkout.errors}, saga completed ${last('off').saga.completed} other ${last('off').saga.other}
                on:  catalog ${JSON.stringify(last('on').catalog.statuses)} errors ${last('on').catalog.errors}, checkout ${JSON.stringify(last('on').checkout.statuses)} errors ${last('on').checkout.errors}, saga completed ${last('on').saga.completed} other ${last('on').saga.other}
exported (on)   ${last('on').exports} OTLP requests, ${(last('on').exportedBytes / 1024 / 1024).toFixed(1)} MiB during both phases (warm-ups included) and their sagas
`);
const answeredAll = (result: RequestRateResult, status: string) => result.errors === 0 && Object.keys(result.statuses).every((seen) => seen === status);
const failed = (['off', 'on'] as Mode[]).some((mode) => runs[mode].some((run) => !answeredAll(run.floor, '200') || !answeredAll(run.catalog, '200') || !answeredAll(run.checkout, '202')));
if (failed) {
  console.error('some requests failed: the figures above are not comparable');
  process.exitCode = 1;
}
