/**
 * One request per iteration at a constant rate, through the same engine and HTTP client as
 * `npm run load`: what the benchmarks (bench/checkout.ts, bench/tracing.ts) and the driver's
 * ceiling measure with.
 */
import type { HttpMethod } from '../loadtests/lib/runtime.ts';
import { builtinMetrics } from '../loadtests/lib/thresholds.ts';
import { Metrics } from './metrics.ts';
import { NodeHttp } from './node-runtime.ts';
import { OpenLoop } from './open-loop.ts';

export interface PlannedRequest {
  method: HttpMethod;
  path: string;
  headers?: Record<string, string>;
}

export interface RequestRateOptions {
  origin: string;
  rate: number;
  /** How long the measured window lasts. */
  seconds: number;
  request: (index: number) => PlannedRequest;
  /** Defaults to 256; requests beyond wait for a connection, and the wait counts. */
  connections?: number;
  /** See OpenLoopOptions.warmupMs. */
  warmupSeconds?: number;
  onMeasuring?: () => void;
}

export interface RequestRateResult {
  offeredRate: number;
  /** Requests due in the measured window. */
  sent: number;
  /** Of those, answered (any status). */
  completed: number;
  achievedRate: number;
  statuses: Record<number, number>;
  /** No answer at all (refused, reset, timed out), or not started (dropped). */
  errors: number;
  dropped: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** p99 of how late the generator started requests: above a few ms, it was the bottleneck. */
  startLagP99: number;
}

export async function requestsAtRate(options: RequestRateOptions): Promise<RequestRateResult> {
  const metrics = new Metrics();
  const connections = options.connections ?? 256;
  const http = new NodeHttp(options.origin, metrics, { connections, traceSampling: null });
  const name = 'request';
  try {
    const loop = new OpenLoop({
      rate: options.rate,
      durationMs: options.seconds * 1000,
      warmupMs: (options.warmupSeconds ?? 0) * 1000,
      // Requests past the connections queue in the pool; only a runaway backlog is refused.
      maxInFlight: Math.max(connections * 8, 1_000),
      ...(options.onMeasuring ? { onMeasuring: options.onMeasuring } : {}),
      iteration: async ({ index, dueAt, counted }) => {
        await http.client(dueAt, counted).request({ ...options.request(index), name });
      },
    });
    const result = await loop.run();
    const latency = metrics.trends.get(builtinMetrics.duration);
    const statuses = Object.fromEntries([...metrics.statuses].filter(([status]) => status !== 0));
    const answered = Object.values(statuses).reduce((sum, count) => sum + count, 0);
    const noAnswer = metrics.statuses.get(0) ?? 0;
    return {
      offeredRate: options.rate,
      sent: result.due,
      completed: answered,
      achievedRate: result.measuredMs > 0 ? answered / (result.measuredMs / 1000) : 0,
      statuses,
      errors: noAnswer + result.dropped,
      dropped: result.dropped,
      p50: latency?.percentile(50) ?? Number.NaN,
      p90: latency?.percentile(90) ?? Number.NaN,
      p99: latency?.percentile(99) ?? Number.NaN,
      max: latency?.max ?? Number.NaN,
      startLagP99: result.startLag.percentile(99),
    };
  } finally {
    await http.close();
  }
}
