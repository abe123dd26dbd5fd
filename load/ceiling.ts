/**
 * `npm run load -- --ceiling`: the most this driver generates on this machine, against the bare
 * fastify hello-world of bench/servers (one process, no tracing), with autocannon's closed-loop
 * throughput against the same server beside it. Rates rise step by step; a step holds when
 * nothing is dropped or fails, at least 99% of the requests due are answered, the driver starts
 * requests on time (p99 of its start lag ≤ 5 ms), and the p99 latency stays ≤ 25 ms (a
 * hello-world answers in about a millisecond, so more is queueing, in the driver or the server:
 * both share this machine's cores). The ceiling is the last step that held. A scenario run above
 * about half of it measures the generator as much as the shop.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { freePort, repositoryRoot } from '../scripts/local-shop.ts';
import { startServer, stopServer } from '../bench/measure.ts';
import { requestsAtRate, type RequestRateResult } from './request-rate.ts';

export const ceilingRates = [500, 1_000, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000, 16_000, 20_000, 25_000, 30_000, 40_000, 50_000];

export interface CeilingStep {
  rate: number;
  result: RequestRateResult;
  held: boolean;
}

export function stepHeld(result: RequestRateResult): boolean {
  return result.dropped === 0 && result.errors === 0 && result.completed >= 0.99 * result.sent && result.startLagP99 <= 5 && result.p99 <= 25;
}

export async function measureCeiling(options: { secondsPerStep: number; connections?: number; log: (line: string) => void }): Promise<{ steps: CeilingStep[]; ceiling: number; closedLoopRate: number }> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const connections = options.connections ?? 64;
  const hello = await startServer(join(repositoryRoot, 'bench/servers/hello.ts'), { PORT: String(port) }, `${origin}/`);
  const steps: CeilingStep[] = [];
  try {
    for (const rate of ceilingRates) {
      await sleep(500);
      const result = await requestsAtRate({ origin, rate, seconds: options.secondsPerStep, warmupSeconds: 1, connections, request: () => ({ method: 'GET', path: '/' }) });
      const held = stepHeld(result);
      steps.push({ rate, result, held });
      options.log(
        `${String(rate).padStart(6)}/s offered: answered ${result.achievedRate.toFixed(0)}/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, ` +
          `start lag p99 ${result.startLagP99.toFixed(2)} ms, dropped ${result.dropped}, errors ${result.errors}  ${held ? 'holds' : 'does not hold'}`,
      );
      if (!held) break;
    }
    await sleep(500);
    const cannon = await autocannon({ url: `${origin}/`, connections, duration: options.secondsPerStep });
    return { steps, ceiling: steps.filter((step) => step.held).at(-1)?.rate ?? 0, closedLoopRate: cannon.requests.average };
  } finally {
    await stopServer(hello);
  }
}
