/**
 * The driver's measurements, kept as k6 keeps them (trends, rates, counters, each also per
 * request name as `metric{name:…}`), and turned at the end into the data k6 hands handleSummary,
 * thresholds evaluated, so that the shared summarize() reads both alike.
 *
 * Trends are HDR histograms (hdr-histogram-js) of microseconds, 3 significant digits: constant
 * memory whatever the run's length, and percentiles within 0.1%.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import type { EndOfTestData, MetricSummary } from '../loadtests/lib/summary.ts';
import { holds, parseThreshold, type Aggregation } from './thresholds.ts';

export class Trend {
  private readonly histogram: Histogram = build({ bitBucketSize: 'packed', numberOfSignificantValueDigits: 3, autoResize: true });
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;

  /** Milliseconds; a negative value is a measurement bug, never clamped away. */
  add(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a duration cannot be negative or NaN: ${ms}`);
    this.histogram.recordValue(Math.round(ms * 1000));
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  percentile(percent: number): number {
    return this.count === 0 ? 0 : this.histogram.getValueAtPercentile(percent) / 1000;
  }

  aggregate(aggregation: Aggregation): number {
    switch (aggregation.kind) {
      case 'percentile':
        return this.percentile(aggregation.percentile);
      case 'med':
        return this.percentile(50);
      case 'avg':
        return this.count === 0 ? 0 : this.sum / this.count;
      case 'min':
        return this.count === 0 ? 0 : this.min;
      case 'max':
        return this.max;
      case 'count':
        return this.count;
      default:
        throw new Error(`a trend has no ${aggregation.kind}`);
    }
  }
}

class RateMetric {
  trues = 0;
  total = 0;
  add(value: boolean): void {
    this.total++;
    if (value) this.trues++;
  }
  get rate(): number {
    return this.total === 0 ? 0 : this.trues / this.total;
  }
}

export class Metrics {
  readonly trends = new Map<string, Trend>();
  readonly rates = new Map<string, RateMetric>();
  readonly counters = new Map<string, number>();
  /** Last value, min and max, as k6 keeps a gauge. */
  readonly gauges = new Map<string, { value: number; min: number; max: number }>();
  readonly checks = new Map<string, { passes: number; fails: number }>();
  /** Answers by status code (0: no answer), for the benchmarks and the text report. */
  readonly statuses = new Map<number, number>();

  trend(metric: string, ms: number, requestName?: string): void {
    for (const key of keys(metric, requestName)) getOrCreate(this.trends, key, () => new Trend()).add(ms);
  }

  gauge(metric: string, value: number): void {
    const before = this.gauges.get(metric);
    this.gauges.set(metric, { value, min: Math.min(value, before?.min ?? value), max: Math.max(value, before?.max ?? value) });
  }

  rate(metric: string, value: boolean, requestName?: string): void {
    for (const key of keys(metric, requestName)) getOrCreate(this.rates, key, () => new RateMetric()).add(value);
  }

  count(metric: string, by = 1, requestName?: string): void {
    for (const key of keys(metric, requestName)) this.counters.set(key, (this.counters.get(key) ?? 0) + by);
  }

  check(name: string, passed: boolean): void {
    const counts = getOrCreate(this.checks, name, () => ({ passes: 0, fails: 0 }));
    if (passed) counts.passes++;
    else counts.fails++;
    this.rate('checks', passed);
  }

  status(code: number): void {
    this.statuses.set(code, (this.statuses.get(code) ?? 0) + 1);
  }

  /** k6's end-of-test data, thresholds evaluated; counters' rates are per second of `testRunDurationMs`. */
  endOfTestData(thresholds: Record<string, string[]>, summaryTrendStats: readonly string[], testRunDurationMs: number): EndOfTestData {
    const metrics: Record<string, MetricSummary> = {};
    for (const [key, trend] of this.trends) {
      const values: Record<string, number> = {};
      for (const statistic of summaryTrendStats) values[statistic] = trend.aggregate(statisticAggregation(statistic));
      metrics[key] = { type: 'trend', contains: 'time', values };
    }
    for (const [key, rate] of this.rates) metrics[key] = { type: 'rate', contains: 'default', values: { rate: rate.rate, passes: rate.trues, fails: rate.total - rate.trues } };
    for (const [key, count] of this.counters) metrics[key] = { type: 'counter', contains: 'default', values: { count, rate: count / (testRunDurationMs / 1000) } };
    // The only gauge recorded is a time (setupEndedMetric).
    for (const [key, values] of this.gauges) metrics[key] = { type: 'gauge', contains: 'time', values: { ...values } };

    for (const [key, sources] of Object.entries(thresholds)) {
      // k6 keeps a metric that never got a sample at zero; its thresholds are judged on that.
      const summary = (metrics[key] ??= emptyMetric(key));
      summary.thresholds = {};
      for (const source of sources) summary.thresholds[source] = { ok: holds(parseThreshold(source), this.observe(key, summary, parseThreshold(source).aggregation)) };
    }
    return {
      root_group: { name: '', checks: [...this.checks].map(([name, counts]) => ({ name, ...counts })), groups: [] },
      state: { testRunDurationMs },
      metrics,
    };
  }

  private observe(key: string, summary: MetricSummary, aggregation: Aggregation): number {
    const trend = this.trends.get(key);
    if (trend) return trend.aggregate(aggregation);
    if (aggregation.kind === 'rate' || aggregation.kind === 'count' || aggregation.kind === 'value') {
      const value = summary.values[aggregation.kind === 'value' ? 'rate' : aggregation.kind];
      if (value !== undefined) return value;
    }
    if (summary.type === 'trend') return 0;
    throw new Error(`threshold on ${key} asks for ${aggregation.kind}, which a ${summary.type} metric does not have`);
  }
}

function emptyMetric(key: string): MetricSummary {
  const base = key.replace(/\{.*$/, '');
  if (base === 'http_req_duration' || base === 'saga_completion') return { type: 'trend', contains: 'time', values: {} };
  if (base === 'dropped_iterations' || base === 'iterations' || base === 'http_reqs') return { type: 'counter', contains: 'default', values: { count: 0, rate: 0 } };
  return { type: 'rate', contains: 'default', values: { rate: 0, passes: 0, fails: 0 } };
}

function statisticAggregation(statistic: string): Aggregation {
  const percentile = /^p\((\d+(?:\.\d+)?)\)$/.exec(statistic);
  if (percentile) return { kind: 'percentile', percentile: Number(percentile[1]) };
  return { kind: statistic as 'avg' };
}

function keys(metric: string, requestName: string | undefined): string[] {
  return requestName === undefined ? [metric] : [metric, `${metric}{name:${requestName}}`];
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = create()));
  return value;
}
