/**
 * One k6 or Node-driver summary as a point of an experiment: its throughput in the scenario's
 * unit, its latency and error rate. The local runner (scripts/experiment.ts) and the operator's
 * ScalingExperiment both judge runs with it.
 */
import type { RequestName } from '../../loadtests/lib/runtime.ts';
import type { LoadSummary } from '../../loadtests/lib/summary.ts';

/** buyer and hot-item are judged by their sagas (X in orders/s); browse and mixed by their HTTP requests. */
export function judgedBySaga(scenario: string): boolean {
  return scenario === 'buyer' || scenario === 'hot-item';
}

export interface Verdict {
  unit: 'orders/s' | 'requests/s';
  /** The request whose traces the report lists: the one the SLO is judged on. */
  tracedName: string | undefined;
  throughput: number;
  p50: number;
  p99: number;
  errorRate: number;
}

/**
 * Throughput counts over the time the iterations really took (`elapsedSeconds`), not the
 * configured duration: past capacity, sagas keep completing after the last iteration was due,
 * and dividing by the duration would credit the shop with the rate it was offered.
 */
export function judge(summary: LoadSummary, elapsedSeconds: number, bySaga: boolean): Verdict {
  if (bySaga && summary.saga_completion) {
    const saga = summary.saga_completion;
    const httpErrors = Object.values(summary.requests).reduce((sum, row) => sum + row.errors, 0);
    const httpCount = Object.values(summary.requests).reduce((sum, row) => sum + row.count, 0);
    return {
      unit: 'orders/s',
      // The checkout's trace goes on through the saga's messages: the one to look up.
      tracedName: 'POST /api/orders/checkout' satisfies RequestName as string,
      throughput: (saga.count - saga.errors) / elapsedSeconds,
      p50: saga.p50,
      p99: saga.p99,
      errorRate: Math.max(saga.count > 0 ? saga.errors / saga.count : 1, httpCount > 0 ? httpErrors / httpCount : 0),
    };
  }
  const rows = Object.values(summary.requests);
  const count = rows.reduce((sum, row) => sum + row.count, 0);
  const errors = rows.reduce((sum, row) => sum + row.errors, 0);
  const slowestName = Object.entries(summary.requests).sort(([, a], [, b]) => b.p99 - a.p99)[0]?.[0];
  return {
    unit: 'requests/s',
    tracedName: slowestName,
    throughput: (count - errors) / elapsedSeconds,
    p50: Math.max(...rows.map((row) => row.p50)),
    p99: Math.max(...rows.map((row) => row.p99)),
    errorRate: count > 0 ? errors / count : 1,
  };
}

