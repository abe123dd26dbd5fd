/**
 * Constant-arrival-rate load: request i is due at start + i/rate whether or not earlier ones
 * have answered, and its latency is measured from when it was due. A closed loop (each
 * connection waiting for its answer) would slow down with the server and hide the queueing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

export interface OpenLoopResult {
  offeredRate: number;
  sent: number;
  completed: number;
  achievedRate: number;
  statuses: Record<number, number>;
  errors: number;
  p50: number;
  p99: number;
  max: number;
}

export interface PlannedRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface OpenLoopOptions {
  origin: string;
  rate: number;
  /** How long the measured window lasts. */
  seconds: number;
  request: (index: number) => PlannedRequest;
  connections?: number;
  /**
   * Sent at the same rate right before the measured window, and not counted: the load does not
   * stop between the two, so the window measures the steady state, not the climb from idle
   * (a fresh JIT, pools still growing, consumers not yet batching).
   */
  warmupSeconds?: number;
  /** Called when the measured window begins, e.g. to take a CPU snapshot. */
  onMeasuring?: () => void;
}

export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const pool = new Pool(options.origin, { connections: options.connections ?? 256, pipelining: 1 });
  const warmup = Math.round(options.rate * (options.warmupSeconds ?? 0));
  const measured = Math.round(options.rate * options.seconds);
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let errors = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let measuringSince = start;
  for (let index = 0; index < warmup + measured; index++) {
    const due = start + (index * 1000) / options.rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    if (index === warmup) {
      measuringSince = due;
      options.onMeasuring?.();
    }
    const planned = options.request(index);
    const counted = index >= warmup;
    pending.push(
      pool
        .request({ method: planned.method, path: planned.path, headers: planned.headers ?? {}, body: planned.body ?? null })
        .then(async (response) => {
          await response.body.dump();
          if (!counted) return;
          statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
          latencies.push(performance.now() - due);
        })
        .catch(() => {
          if (counted) errors++;
        }),
    );
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - measuringSince) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    offeredRate: options.rate,
    sent: measured,
    completed: latencies.length,
    achievedRate: latencies.length / elapsed,
    statuses,
    errors,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies.at(-1) ?? 0,
  };
}

export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}
