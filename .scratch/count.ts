import { execSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchShop, stopBenchShop, prepareShoppers, checkoutRequest, waitForFinalStatuses } from '../bench/shop.ts';
import { openLoop } from '../bench/open-loop.ts';
const bench = await startBenchShop('count', { PAYMENT_LATENCY_MS: '0', EMAIL_LATENCY_MS: '0' });
try {
  const shoppers = await prepareShoppers(bench.shop, 60);
  await openLoop({ origin: bench.shop.gatewayUrl, rate: 10, seconds: 1, request: (i) => checkoutRequest(shoppers[i]!) });
  await waitForFinalStatuses(bench.shop, 10, 30_000);
  await sleep(1500);
  execSync(`psql -h 127.0.0.1 -U postgres -Atc "alter system set log_statement = 'all'" -c "select pg_reload_conf()"`);
  await sleep(500);
  console.log('MARK-START', new Date().toISOString());
  await openLoop({ origin: bench.shop.gatewayUrl, rate: 10, seconds: 5, request: (i) => checkoutRequest(shoppers[10 + i]!) });
  await waitForFinalStatuses(bench.shop, 60, 30_000);
  await sleep(1500);
  execSync(`psql -h 127.0.0.1 -U postgres -Atc "alter system reset log_statement" -c "select pg_reload_conf()"`);
  console.log('MARK-END', Object.values(bench.shop.databaseUrls).map((u) => new URL(u!).pathname));
} finally {
  await stopBenchShop(bench);
}
