/**
 * The service-level objectives, as k6 thresholds: k6 evaluates them itself, the Node driver
 * (load/thresholds.ts) evaluates the same expressions, and both exit 99 when one breaks.
 */
import type { RequestName, Scenario } from './runtime.ts';

/**
 * p99 per request, in ms, through the gateway. The bounds are for a shop with headroom: a run
 * that breaks one says the shop, at that rate on that machine, is past what it serves well.
 * Login is slow on purpose (argon2id, at most 4 hashes at once per user replica).
 */
export const requestP99Ms: Readonly<Record<RequestName, number>> = {
  'GET /api/products': 300,
  'GET /api/products/:id': 250,
  'POST /api/auth/login': 1_500,
  'GET /api/cart': 400,
  'POST /api/cart/items': 500,
  'DELETE /api/cart/items/:product_id': 500,
  'POST /api/orders/checkout': 500,
  'GET /api/orders/:id': 300,
  'GET /api/orders': 400,
};

/**
 * Checkout → final status: the shop's default simulated latencies alone are 3 s (payment 1 s,
 * email 2 s), and payment and email work through a prefetch of 100 each.
 */
export const sagaP99Ms = 10_000;

export const sagaCompletionMetric = 'saga_completion';
export const sagaFailedMetric = 'saga_failed';
/**
 * A gauge (ms) set once, when setup() returns: how far into the run (k6's
 * exec.instance.currentTestRunDuration, the clock of state.testRunDurationMs) the iterations could
 * start. The run's own time is testRunDurationMs less this.
 */
export const setupEndedMetric = 'setup_ended';

/** k6's names for the metrics these thresholds read; the Node driver records the same ones. */
export const builtinMetrics = {
  duration: 'http_req_duration',
  failed: 'http_req_failed',
  requests: 'http_reqs',
  checks: 'checks',
  iterations: 'iterations',
  dropped: 'dropped_iterations',
} as const;

export const submetric = (metric: string, requestName: string) => `${metric}{name:${requestName}}`;

export function thresholdsFor(scenario: Scenario<unknown>): Record<string, string[]> {
  const thresholds: Record<string, string[]> = {
    // check() alone never fails a run: a journey whose answers are wrong must.
    [builtinMetrics.checks]: ['rate>0.99'],
    [builtinMetrics.failed]: ['rate<0.01'],
    // An overloaded generator under-reports: such a run is invalid, not fast.
    [builtinMetrics.dropped]: ['count<1'],
  };
  for (const name of scenario.requestNames) {
    thresholds[submetric(builtinMetrics.duration, name)] = [`p(99)<${requestP99Ms[name]}`];
    thresholds[submetric(builtinMetrics.failed, name)] = ['rate<0.01'];
  }
  if (scenario.measuresSaga) {
    thresholds[sagaCompletionMetric] = [`p(99)<${sagaP99Ms}`];
    thresholds[sagaFailedMetric] = ['rate<0.01'];
  }
  return thresholds;
}

/** The trend statistics every summary carries; `med` is the p50. */
export const summaryTrendStats = ['avg', 'min', 'med', 'max', 'p(90)', 'p(99)', 'count'];
