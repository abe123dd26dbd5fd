/**
 * `npm run bench:checkout`: the event-driven checkout, measured in one run.
 *
 *  1. the 202's latency at a constant arrival rate (default latencies downstream);
 *  2. the most checkouts/s the shop sustains, beside two ceilings measured in the same run: the raw
 *     Postgres ceiling for the same write (the order service's own statement: order + item +
 *     history + outbox row), no HTTP; and that statement behind the checkout's 4 HTTP hops to
 *     hello-world handlers (bench/servers/checkout-chain.ts);
 *  3. the saga's completion time (checkout → completed) at a constant rate, with the
 *     simulated payment and email latencies set to 0;
 *  4. synchronous (monolith-style) against asynchronous response times, default latencies.
 *
 * Shoppers are synthetic (bench/shop.ts): no password hashing sits in the measured path.
 */
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import { cpuPerUnit, cpuSnapshot, formatCpu, settle } from './cpu.ts';
import { requestsAtRate } from '../load/request-rate.ts';
import { percentile, startBaselineServer, stopServer } from './measure.ts';
import { placeOrder, withOrderDatabase } from './order-statement.ts';
import { catalogSize, checkoutRequest, checkoutsAtRate, checkpoint, prepareShoppers, sagaCompletionTimes, startBenchShop, stopBenchShop, waitForFinalStatuses } from './shop.ts';

const rate = Number(process.env.BENCH_CHECKOUT_RATE ?? 200);
const sagaRate = Number(process.env.BENCH_SAGA_RATE ?? 100);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
/**
 * The saga phase runs this long at its rate straight before its measured window: a shop going
 * from idle to 100/s is slow for its first seconds (JIT, pools still growing, consumers not yet
 * batching), and at that rate, close to its capacity, the backlog this leaves takes seconds more
 * to clear. The window then measures the steady state.
 */
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 10);
/**
 * Phase 1 offers more than the saga can keep up with, so it has no steady state: it measures a
 * burst, starting from a warm and drained shop (a burst of its own rate first, then every order
 * finished).
 */
const burstWarmupSeconds = 3;
/** BENCH_PHASES=saga runs phase 3 alone, e.g. while working on the saga's cost; BENCH_PHASES=ceiling only the 4-hop ceiling. */
const onlySaga = process.env.BENCH_PHASES === 'saga';

/**
 * The checkout's write, straight on Postgres: the order service's own statement (order, item,
 * history and held outbox row in one), run by as many workers as the closed loop has
 * connections over a pool of 10, with no HTTP and no services.
 */
async function rawPostgresCeiling(): Promise<number> {
  return withOrderDatabase({ poolMax: 10 }, async (database) => {
    let committed = 0;
    const deadline = performance.now() + seconds * 1000;
    const worker = async () => {
      while (performance.now() < deadline) {
        await placeOrder(database.db, [{ product_id: (committed % catalogSize) + 1, name: 'Gel Pen Pack', price: '8.49', quantity: 1 }]);
        committed++;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: connections }, worker));
    return committed / ((performance.now() - started) / 1000);
  });
}

/**
 * The same shape of work with nothing else in it (bench/servers/checkout-chain.ts): 4 HTTP hops
 * through the gateway's forwarding and the platform's service client to hello-world handlers,
 * plus the checkout's one statement, in the same closed loop as phase 2.
 */
async function chainCeiling(): Promise<{ rate: number; p99: number; non2xx: number; errors: number }> {
  // The database is the chain's order server's; this process only makes and drops it.
  return withOrderDatabase({ poolMax: 1 }, async (_database, databaseUrl) => {
    const ports = { product: 19_121, cart: 19_122, order: 19_123, proxy: 19_124 };
    const at = (port: number) => `http://127.0.0.1:${port}`;
    const servers = [];
    try {
      servers.push(await startBaselineServer('checkout-chain', { ROLE: 'product', PORT: String(ports.product) }, `${at(ports.product)}/ready`));
      servers.push(await startBaselineServer('checkout-chain', { ROLE: 'cart', PORT: String(ports.cart), UPSTREAM_URL: at(ports.product) }, `${at(ports.cart)}/ready`));
      servers.push(await startBaselineServer('checkout-chain', { ROLE: 'order', PORT: String(ports.order), UPSTREAM_URL: at(ports.cart), DATABASE_URL: databaseUrl }, `${at(ports.order)}/ready`));
      servers.push(await startBaselineServer('proxy', { PORT: String(ports.proxy), UPSTREAM_URL: at(ports.order) }, `${at(ports.proxy)}/ready`));
      const options = { url: `${at(ports.proxy)}/`, method: 'POST' as const, connections };
      await autocannon({ ...options, duration: 2 });
      const cannon = await autocannon({ ...options, duration: seconds });
      return { rate: cannon.requests.average, p99: cannon.latency.p99, non2xx: cannon.non2xx, errors: cannon.errors };
    } finally {
      for (const server of servers.reverse()) await stopServer(server);
    }
  });
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`scaleshop checkout benchmark — Node ${process.version}, ${seconds} s per phase\n`);

/** Phases 1, 2 and 4: the shop as it ships (payment 1 s, email 2 s), and the raw Postgres ceiling. */
async function atDefaultLatencies(): Promise<string> {
  const defaults = await startBenchShop('defaults', {});
  let constantRate, maxThroughput, sync, async_;
  try {
    const shoppers = await prepareShoppers(defaults.shop, Math.round(rate * (seconds + burstWarmupSeconds)) + 40_000);
    let next = 0;
    const take = () => shoppers[next++ % shoppers.length]!;

    // Phase 4 first, while the queues are empty: afterwards a sync checkout would wait behind the backlog.
    const asyncTimes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const response = await fetch(`${defaults.shop.gatewayUrl}/api/orders/checkout`, { method: 'POST', headers: checkoutRequest(take()).headers });
      await response.arrayBuffer();
      asyncTimes.push(performance.now() - started);
    }
    const syncTimes = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const started = performance.now();
        const response = await fetch(`${defaults.shop.gatewayUrl}/api/orders/checkout?mode=sync`, { method: 'POST', headers: checkoutRequest(take()).headers });
        const body = (await response.json()) as { status: string };
        return { ms: performance.now() - started, status: body.status };
      }),
    );
    async_ = percentile(asyncTimes.sort((a, b) => a - b), 0.5);
    sync = { p50: percentile(syncTimes.map((t) => t.ms).sort((a, b) => a - b), 0.5), statuses: syncTimes.map((t) => t.status) };

    const warmup = await requestsAtRate({ origin: defaults.shop.gatewayUrl, rate, seconds: burstWarmupSeconds, request: () => checkoutRequest(take()) });
    await waitForFinalStatuses(defaults.shop, 20 + warmup.completed, 120_000);
    await checkpoint(defaults.shop);
    await settle();
    constantRate = await requestsAtRate({ origin: defaults.shop.gatewayUrl, rate, seconds, request: () => checkoutRequest(take()) });

    const cannon = await autocannon({
      url: `${defaults.shop.gatewayUrl}/api/orders/checkout`,
      method: 'POST',
      connections,
      duration: seconds,
      requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${take().token}` } }) }],
    });
    maxThroughput = { rate: cannon.requests.average, p99: cannon.latency.p99, non2xx: cannon.non2xx, errors: cannon.errors };
  } finally {
    await stopBenchShop(defaults);
  }
  const rawCeiling = await rawPostgresCeiling();
  await settle();
  const chain = await chainCeiling();

  return `1. checkout 202 at a constant ${rate}/s (open loop, default latencies)
   sent ${constantRate.sent}, answered ${constantRate.completed} at ${constantRate.achievedRate.toFixed(0)}/s, statuses ${JSON.stringify(constantRate.statuses)}, errors ${constantRate.errors}
   p50 ${fmt(constantRate.p50)}   p99 ${fmt(constantRate.p99)}   max ${fmt(constantRate.max)}        (goal: p99 ≤ 25 ms)

2. checkout throughput, ${connections} connections closed loop
   shop            ${maxThroughput.rate.toFixed(0)} checkouts/s (p99 ${maxThroughput.p99} ms, non-2xx ${maxThroughput.non2xx}, errors ${maxThroughput.errors})
   raw Postgres    ${rawCeiling.toFixed(0)} orders/s (the same statement, pool of 10, no HTTP)
   ratio           ${(maxThroughput.rate / rawCeiling).toFixed(2)}
   4 hops + 1 statement  ${chain.rate.toFixed(0)} checkouts/s (p99 ${chain.p99} ms, non-2xx ${chain.non2xx}, errors ${chain.errors}): the same shape of work, nothing else
   ratio           ${(maxThroughput.rate / chain.rate).toFixed(2)}        (goal ≥ 0.5)

4. synchronous (monolith-style) against asynchronous checkout, default latencies (payment 1 s, email 2 s)
   async p50 ${fmt(async_)}   sync p50 ${fmt(sync.p50)} (final statuses: ${[...new Set(sync.statuses)].join(', ')})
   sync / async    ${(sync.p50 / async_).toFixed(0)}×
`;
}

/** Phase 3: the saga alone, with the simulated latencies at 0, and where each order's CPU goes. */
async function sagaCompletion(): Promise<string> {
  const fast = await startBenchShop('saga', { PAYMENT_LATENCY_MS: '0', EMAIL_LATENCY_MS: '0' });
  let saga, sagaLoad, sagaCpu;
  try {
    const shoppers = await prepareShoppers(fast.shop, Math.round(sagaRate * (warmupSeconds + seconds)));
    await checkpoint(fast.shop);
    await settle();
    const run = await checkoutsAtRate(fast.shop, shoppers, { rate: sagaRate, seconds, warmupSeconds, readCpu: () => cpuSnapshot(fast.shop) });
    sagaLoad = run.load;
    sagaCpu = cpuPerUnit(run.cpuBefore, run.cpuAfter, sagaLoad.completed);
    saga = await sagaCompletionTimes(fast.shop, run.since);
  } finally {
    await stopBenchShop(fast);
  }
  return `3. saga completion (checkout → completed) at a constant ${sagaRate}/s, payment and email latency 0
   checkouts answered ${sagaLoad.completed}/${sagaLoad.sent} (202 p99 ${fmt(sagaLoad.p99)}); completed ${saga.completed}, not completed ${saga.other}
   p50 ${fmt(saga.p50)}   p99 ${fmt(saga.p99)}   max ${fmt(saga.max)}        (goal: p99 ≤ 500 ms)
   p99 of the orders placed in each second: ${saga.p99BySecond.map((ms) => (Number.isNaN(ms) ? '–' : ms.toFixed(0))).join(' ')} ms
   where an order's CPU goes (checkout and the whole saga; everything shares this machine's cores):
${formatCpu(sagaCpu, 'order')}
${capacity(sagaCpu.at(-1)![1])}
`;
}

/**
 * What the machine can finish at all, from the CPU an order costs: every process shares its
 * cores, so an arrival rate beyond this leaves the saga behind, and its work then competes with
 * every 202 (phase 1 offers more on purpose).
 */
function capacity(cpuPerOrderMs: number): string {
  const cores = availableParallelism();
  const ceiling = (cores * 1000) / cpuPerOrderMs;
  const phase1 = onlySaga ? '' : `; phase 1 offers ${rate}/s, ${(rate / ceiling).toFixed(1)}× that`;
  return `   so this machine's ${cores} cores finish at most ~${ceiling.toFixed(0)} orders/s: ${sagaRate}/s keeps them ${((100 * sagaRate) / ceiling).toFixed(0)}% busy${phase1}`;
}

if (process.env.BENCH_PHASES === 'ceiling') {
  const chain = await chainCeiling();
  console.log(`4 hops + 1 statement, ${connections} connections closed loop: ${chain.rate.toFixed(0)} checkouts/s (p99 ${chain.p99} ms, non-2xx ${chain.non2xx}, errors ${chain.errors})`);
} else {
  const atDefaults = onlySaga ? '' : await atDefaultLatencies();
  const saga = await sagaCompletion();
  console.log(atDefaults + '\n' + saga);
}
