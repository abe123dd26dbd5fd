/**
 * One summary shape for both generators. k6 hands handleSummary its end-of-test data (the
 * default, non machine-readable form); the Node driver builds the same data from its own
 * measurements (load/metrics.ts). Both then go through summarize(), so `--out` of the driver and
 * the JSON file a k6 script writes are read by the same tools.
 */
import { builtinMetrics, sagaCompletionMetric, sagaFailedMetric, setupEndedMetric, submetric } from './thresholds.ts';
import type { Scenario } from './runtime.ts';

/** The part of k6's handleSummary data this reads. */
export interface EndOfTestData {
  root_group: CheckGroup;
  state: { testRunDurationMs: number };
  metrics: Record<string, MetricSummary>;
}

export interface CheckGroup {
  name: string;
  checks: Array<{ name: string; passes: number; fails: number }>;
  groups: CheckGroup[];
}

export interface MetricSummary {
  type: 'counter' | 'gauge' | 'rate' | 'trend';
  contains: 'default' | 'time' | 'data';
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export interface LatencyRow {
  count: number;
  /** Per second of the scenario's configured duration (not of the whole run, setup included). */
  rate: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
}

export interface LoadSummary {
  scenario: string;
  generator: 'k6' | 'node';
  base_url: string;
  rate: number;
  duration_s: number;
  /**
   * The seconds the iterations really took: from the end of setup to the end of the run (k6's
   * state.testRunDurationMs less setup), the tail of iterations still finishing after the last
   * was due and teardown included; never less than duration_s. Past capacity, sagas keep
   * completing in that tail, and throughput over duration_s would credit the shop with the rate
   * it was offered.
   */
  elapsed_s: number;
  iterations: number;
  dropped_iterations: number;
  /** Per request name, in ms. */
  requests: Record<string, LatencyRow>;
  /** Checkout → final status, in ms; errors are sagas that did not end as the journey expected. */
  saga_completion: LatencyRow | null;
  checks: { passed: number; failed: number; by_name: Record<string, { passed: number; failed: number }> };
  thresholds: Array<{ metric: string; threshold: string; ok: boolean }>;
  thresholds_ok: boolean;
}

/**
 * With SUMMARY_STDOUT=json a k6 script also prints its summary as one line starting with this,
 * for whoever reads the pod's log (the operator's ScalingExperiment).
 */
export const summaryLinePrefix = 'scaleshop-summary ';

export interface RunDescription {
  generator: LoadSummary['generator'];
  baseUrl: string;
  rate: number;
  durationSeconds: number;
}

export function summarize(scenario: Scenario<unknown>, run: RunDescription, data: EndOfTestData): LoadSummary {
  const value = (metric: string, statistic: string) => data.metrics[metric]?.values[statistic] ?? 0;
  const row = (durationMetric: string, failedMetric: string): LatencyRow => {
    const count = value(durationMetric, 'count');
    return {
      count,
      rate: count / run.durationSeconds,
      p50: value(durationMetric, 'med'),
      p90: value(durationMetric, 'p(90)'),
      p99: value(durationMetric, 'p(99)'),
      max: value(durationMetric, 'max'),
      // Rate metrics count a failure as a pass: http_req_failed is true when the request failed.
      errors: value(failedMetric, 'passes'),
    };
  };
  const requests: Record<string, LatencyRow> = {};
  for (const name of scenario.requestNames) requests[name] = row(submetric(builtinMetrics.duration, name), submetric(builtinMetrics.failed, name));

  const byName: LoadSummary['checks']['by_name'] = {};
  const collect = (group: CheckGroup) => {
    for (const check of group.checks) {
      const entry = (byName[check.name] ??= { passed: 0, failed: 0 });
      entry.passed += check.passes;
      entry.failed += check.fails;
    }
    for (const inner of group.groups) collect(inner);
  };
  collect(data.root_group);

  const thresholds: LoadSummary['thresholds'] = [];
  for (const [metric, summary] of Object.entries(data.metrics)) {
    for (const [threshold, result] of Object.entries(summary.thresholds ?? {})) thresholds.push({ metric, threshold, ok: result.ok });
  }
  thresholds.sort((a, b) => (a.metric === b.metric ? a.threshold.localeCompare(b.threshold) : a.metric.localeCompare(b.metric)));

  // Both generators set it; data from elsewhere without it counts the whole run, setup included.
  const setupEndedMs = data.metrics[setupEndedMetric]?.values.value ?? 0;
  return {
    scenario: scenario.name,
    generator: run.generator,
    base_url: run.baseUrl,
    rate: run.rate,
    duration_s: run.durationSeconds,
    elapsed_s: Math.max(run.durationSeconds, (data.state.testRunDurationMs - setupEndedMs) / 1000),
    iterations: value(builtinMetrics.iterations, 'count'),
    dropped_iterations: value(builtinMetrics.dropped, 'count'),
    requests,
    saga_completion: scenario.measuresSaga ? row(sagaCompletionMetric, sagaFailedMetric) : null,
    checks: {
      passed: value(builtinMetrics.checks, 'passes'),
      failed: value(builtinMetrics.checks, 'fails'),
      by_name: byName,
    },
    thresholds,
    thresholds_ok: thresholds.every((threshold) => threshold.ok),
  };
}

const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

/** The short text form: a table of the rows, the checks that failed, the thresholds that broke. */
export function formatSummary(summary: LoadSummary): string {
  const header = ['', 'count', 'rate/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors'];
  const rows: string[][] = Object.entries(summary.requests).map(([name, row]) => [name, ...cells(row)]);
  if (summary.saga_completion) rows.push(['saga: checkout → final status', ...cells(summary.saga_completion)]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((cells) => cells[column]!.length)));
  const table = [header, ...rows].map((cells) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));

  const failedChecks = Object.entries(summary.checks.by_name).filter(([, counts]) => counts.failed > 0);
  const broken = summary.thresholds.filter((threshold) => !threshold.ok);
  return [
    `${summary.scenario} at ${summary.rate}/s for ${summary.duration_s} s against ${summary.base_url} (${summary.generator})`,
    '',
    ...table,
    '',
    `iterations ${summary.iterations}, dropped ${summary.dropped_iterations}`,
    `checks passed ${summary.checks.passed}, failed ${summary.checks.failed}`,
    ...failedChecks.map(([name, counts]) => `  ✗ ${name}: ${counts.failed} of ${counts.passed + counts.failed} failed`),
    summary.thresholds_ok
      ? `thresholds: all ${summary.thresholds.length} hold`
      : `thresholds: ${broken.length} of ${summary.thresholds.length} broken`,
    ...broken.map((threshold) => `  ✗ ${threshold.metric}: ${threshold.threshold}`),
    '',
  ].join('\n');
}

function cells(row: LatencyRow): string[] {
  return [String(row.count), row.rate.toFixed(1), ms(row.p50), ms(row.p90), ms(row.p99), ms(row.max), String(row.errors)];
}
