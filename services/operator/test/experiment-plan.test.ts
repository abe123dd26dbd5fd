/**
 * The pure part of a ScalingExperiment: which run comes next, what a k6 summary is worth, and
 * what the runs add up to. The k6 summaries start as handleSummary data written here to k6's
 * documented end-of-test format (metrics with type, contains, values and thresholds), then go
 * through the scripts' own summarize() and the log line the Job prints.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { browse } from '../../../loadtests/journeys/browse.ts';
import { summarize, type EndOfTestData } from '../../../loadtests/lib/summary.ts';
import { inconsistencies } from '../../../scripts/scaling/results.ts';
import type { ExperimentRun } from '@scaleshop/cdk8s/src/experiment-spec.ts';
import { experimentResults, fold, nextRun, runFromSummary, specWithDefaults, stepsDone } from '../src/experiment/plan.ts';
import { configMapDataLimitBytes, resultsConfigMap, SummaryMissing, summaryFromLog } from '../src/experiment/render.ts';

const spec = (overrides: Record<string, unknown> = {}) =>
  specWithDefaults({ target: { shop: 'demo', service: 'product' }, replicas: [1, 2, 4], scenario: 'browse', load: { rates: [40, 10, 20] }, ...overrides });

const run = (replicas: number, rate: number, holds: boolean, throughput = rate, repeat = 0): ExperimentRun => ({
  replicas,
  repeat,
  rate,
  throughput,
  p50Ms: 10,
  p99Ms: holds ? 50 : 5000,
  errorRate: 0,
  generatorSaturated: false,
  thresholdsOk: holds,
  holds,
  job: `job-${replicas}-${rate}`,
});

describe('the plan', () => {
  test('defaults come from the schema', () => {
    const defaulted = spec();
    assert.deepEqual([defaulted.repeats, defaulted.durationSeconds, defaulted.warmupSeconds, defaulted.settleSeconds, defaulted.slo.p99Ms, defaulted.slo.maxErrorRate, defaulted.scriptsConfigMap], [1, 30, 10, 10, 1000, 0.01, 'loadtests']);
  });

  test('fixed rates run in ascending order at each N, and stop at the first that breaks', () => {
    const s = spec();
    assert.deepEqual(nextRun(s, []), { replicas: 1, repeat: 0, rate: 10 });
    assert.deepEqual(nextRun(s, [run(1, 10, true)]), { replicas: 1, repeat: 0, rate: 20 });
    assert.deepEqual(nextRun(s, [run(1, 10, true), run(1, 20, false)]), { replicas: 2, repeat: 0, rate: 10 });
    const all = [run(1, 10, true), run(1, 20, false), run(2, 10, true), run(2, 20, true), run(2, 40, true), run(4, 10, true), run(4, 20, true), run(4, 40, false)];
    assert.equal(nextRun(s, all), undefined);
    assert.equal(stepsDone(s, all), '3/3');
    assert.equal(stepsDone(s, all.slice(0, 3)), '1/3');
  });

  test('each repeat runs the rates again', () => {
    const s = spec({ replicas: [1], repeats: 2, load: { rates: [10] } });
    assert.deepEqual(nextRun(s, [run(1, 10, true)]), { replicas: 1, repeat: 1, rate: 10 });
    assert.equal(nextRun(s, [run(1, 10, true), run(1, 10, true, 10, 1)]), undefined);
  });

  test('a search steps up by its factor until the SLO breaks, and the next N starts from the last, scaled and halved', () => {
    const s = spec({ load: { search: { startRate: 10, factor: 2, maxRuns: 4 } } });
    assert.deepEqual(nextRun(s, []), { replicas: 1, repeat: 0, rate: 10 });
    assert.deepEqual(nextRun(s, [run(1, 10, true)]), { replicas: 1, repeat: 0, rate: 20 });
    // 20 held at N=1: N=2 starts at 20 · 2/1 / 2 = 20.
    assert.deepEqual(nextRun(s, [run(1, 10, true), run(1, 20, true), run(1, 40, false)]), { replicas: 2, repeat: 0, rate: 20 });
  });

  test('a search that breaks from the start halves the rate, and gives up after maxRuns', () => {
    const s = spec({ replicas: [1, 2], load: { search: { startRate: 8, factor: 1.5, maxRuns: 3 } } });
    assert.deepEqual(nextRun(s, [run(1, 8, false)]), { replicas: 1, repeat: 0, rate: 4 });
    assert.deepEqual(nextRun(s, [run(1, 8, false), run(1, 4, false)]), { replicas: 1, repeat: 0, rate: 2 });
    // Three runs and none held: N=1 is done, at capacity 0, and N=2 starts from the start rate.
    assert.deepEqual(nextRun(s, [run(1, 8, false), run(1, 4, false), run(1, 2, false)]), { replicas: 2, repeat: 0, rate: 8 });
  });
});

describe('folding runs into points and a USL fit', () => {
  // Throughputs from a known USL curve: λ = 100, σ = 0.05, κ = 0.001.
  const usl = (n: number) => (100 * n) / (1 + 0.05 * (n - 1) + 0.001 * n * (n - 1));

  test('X(N) is the throughput at the highest rate that held; E(N) and the fit follow; the printer column shows E at the largest N', () => {
    const s = spec({ replicas: [1, 2, 4, 8], load: { rates: [1000] } });
    const runs = [1, 2, 4, 8].map((n) => run(n, 1000, true, usl(n)));
    const folded = fold(s, runs);
    assert.deepEqual(folded.points?.map((point) => point.replicas), [1, 2, 4, 8]);
    assert.ok(Math.abs(folded.points![3]!.throughput - 568.99) < 0.01);
    // E(8) = X(8) / (8 · X(1)) = 568.99 / 800.
    assert.equal(folded.efficiencyAtLargest, '0.71');
    assert.ok(Math.abs(folded.usl!.sigma - 0.05) < 1e-3, `σ ${folded.usl!.sigma}`);
    assert.ok(Math.abs(folded.usl!.kappa - 0.001) < 1e-4, `κ ${folded.usl!.kappa}`);
    assert.ok(Math.abs(folded.usl!.lambda - 100) < 0.1);
    assert.equal(folded.unit, 'requests/s');
  });

  test('fewer than three N: points, no fit; an N still running is not a point yet', () => {
    const s = spec({ load: { rates: [10, 20] } });
    const folded = fold(s, [run(1, 10, true), run(1, 20, false), run(2, 10, true)]);
    assert.deepEqual(folded.points?.map((point) => point.replicas), [1]);
    assert.equal(folded.usl, undefined);
  });

  test('no rate held at an N: its X is 0, and it is left out of the fit', () => {
    const s = spec({ replicas: [1, 2, 4, 8], load: { rates: [10] } });
    const folded = fold(s, [run(1, 10, true, 10), run(2, 10, true, 19), run(4, 10, false, 3), run(8, 10, true, 60)]);
    assert.equal(folded.points?.find((point) => point.replicas === 4)?.throughput, 0);
    assert.ok(folded.usl);
  });

  test('results.json has the schema of a local experiment, and a reader finds it consistent', () => {
    const s = spec({ replicas: [1, 2, 4], load: { rates: [1000] } });
    const runs = [1, 2, 4].map((n) => run(n, 1000, true, usl(n)));
    const { results, report } = experimentResults(s, runs, { image: 'scaleshop/product:abc', coresPerReplica: 0.5, knobs: { PRODUCT_CACHE: 'off' }, startedAt: '2026-12-01T00:00:00Z', finishedAt: '2026-12-01T00:10:00Z' });
    assert.deepEqual(inconsistencies(results), []);
    assert.deepEqual(Object.keys(results).sort(), ['conditions', 'finished_at', 'latency', 'points', 'scenario', 'service', 'slo', 'started_at', 'usl', 'warnings']);
    assert.equal(results.conditions.commit, 'scaleshop/product:abc');
    assert.deepEqual(results.slo, { metric: 'HTTP', p99_ms: 1000, max_error_rate: 0.01 });
    assert.match(report, /^# product: browse, 1, 2, 4 replicas/);
    assert.ok(results.warnings.some((warning) => warning.includes('CPU per unit and the replicas’ shares of the work were not measured')));
  });
});

/**
 * k6's end-of-test data for the browse journey: two request kinds, with thresholds as k6 reports
 * them. The shape is k6's documented handleSummary data ("Summary data reference",
 * https://grafana.com/docs/k6/latest/results-output/end-of-test/custom-summary/): `state.testRunDurationMs`,
 * the whole run in ms (setup, the scenario with its graceful stop, teardown), and per metric its
 * type, contains, values (a gauge's value, min and max) and thresholds. The run here: setup ends
 * 3.7 s in (the setup_ended gauge the scripts set), the 30 s scenario, 7.5 s of iterations still
 * finishing, 41.2 s in all.
 */
function browseData(options: { listCount: number; itemCount: number; itemErrors: number; itemP99: number; dropped: number; testRunDurationMs?: number }): EndOfTestData {
  const trend = (count: number, med: number, p99: number) => ({ type: 'trend' as const, contains: 'time' as const, values: { avg: med, min: 1, med, max: p99 * 1.5, 'p(90)': med * 2, 'p(99)': p99, count } });
  const failed = (passes: number, total: number) => ({ type: 'rate' as const, contains: 'default' as const, values: { rate: passes / total, passes, fails: total - passes } });
  return {
    root_group: { name: '', checks: [{ name: 'status is 200', passes: options.listCount + options.itemCount - options.itemErrors, fails: options.itemErrors }], groups: [] },
    state: { testRunDurationMs: options.testRunDurationMs ?? 41_200 },
    metrics: {
      'http_req_duration{name:GET /api/products}': { ...trend(options.listCount, 12, 80), thresholds: { 'p(99)<300': { ok: true } } },
      'http_req_duration{name:GET /api/products/:id}': { ...trend(options.itemCount, 9, options.itemP99), thresholds: { 'p(99)<250': { ok: options.itemP99 < 250 } } },
      'http_req_failed{name:GET /api/products}': failed(0, options.listCount),
      'http_req_failed{name:GET /api/products/:id}': failed(options.itemErrors, options.itemCount),
      iterations: { type: 'counter', contains: 'default', values: { count: options.listCount, rate: options.listCount / 30 } },
      dropped_iterations: { type: 'counter', contains: 'default', values: { count: options.dropped, rate: options.dropped / 30 }, thresholds: { 'count<1': { ok: options.dropped < 1 } } },
      setup_ended: { type: 'gauge', contains: 'time', values: { value: 3_700, min: 3_700, max: 3_700 } },
    },
  };
}

const logOf = (data: EndOfTestData) => {
  const summary = summarize(browse, { generator: 'k6', baseUrl: 'http://gateway', rate: 50, durationSeconds: 30 }, data);
  return `     data_received..: 1 MB\nrunning (0m41.2s), 000/050 VUs\nscaleshop-summary ${JSON.stringify(summary)}\n`;
};

describe('a k6 summary as a run', () => {
  test('thresholds that hold: throughput is the requests that succeeded per second; p99 the slowest kind’s', () => {
    const log = logOf(browseData({ listCount: 900, itemCount: 600, itemErrors: 3, itemP99: 120, dropped: 0 }));
    const recorded = runFromSummary(spec(), { replicas: 2, repeat: 0, rate: 50 }, summaryFromLog(log), 'job-a');
    // (900 + 600 − 3) over the 41.2 − 3.7 = 37.5 s the iterations took, not the 30 configured; errors 3 of 1500.
    assert.ok(Math.abs(recorded.throughput - 1497 / 37.5) < 1e-9, String(recorded.throughput));
    assert.equal(recorded.p50Ms, 12);
    assert.equal(recorded.p99Ms, 120);
    assert.ok(Math.abs(recorded.errorRate - 0.002) < 1e-12);
    assert.equal(recorded.thresholdsOk, true);
    assert.equal(recorded.holds, true);
  });

  test('a run whose iterations ended on time: throughput over the configured duration, never over less', () => {
    // Setup 3.7 s and a 30 s scenario make 33.7 s; a clock a little short of it still counts 30 s.
    for (const testRunDurationMs of [33_700, 33_500]) {
      const summary = summaryFromLog(logOf(browseData({ listCount: 900, itemCount: 600, itemErrors: 0, itemP99: 100, dropped: 0, testRunDurationMs })));
      assert.equal(summary.elapsed_s, 30);
      assert.ok(Math.abs(runFromSummary(spec(), { replicas: 1, repeat: 0, rate: 50 }, summary, 'job-t').throughput - 50) < 1e-9);
    }
  });

  test('broken thresholds are data: the run is recorded, and judged by the experiment’s SLO', () => {
    const log = logOf(browseData({ listCount: 900, itemCount: 600, itemErrors: 0, itemP99: 400, dropped: 0 }));
    const lenient = runFromSummary(spec(), { replicas: 1, repeat: 0, rate: 50 }, summaryFromLog(log), 'job-b');
    assert.equal(lenient.thresholdsOk, false);
    assert.equal(lenient.holds, true, 'p99 400 ms is within the experiment’s 1000 ms');
    const strict = runFromSummary(spec({ slo: { p99Ms: 300, maxErrorRate: 0.01 } }), { replicas: 1, repeat: 0, rate: 50 }, summaryFromLog(log), 'job-b');
    assert.equal(strict.holds, false);
  });

  test('dropped iterations: the generator was the limit, and the SLO does not hold', () => {
    const log = logOf(browseData({ listCount: 900, itemCount: 600, itemErrors: 0, itemP99: 100, dropped: 7 }));
    const recorded = runFromSummary(spec(), { replicas: 1, repeat: 0, rate: 50 }, summaryFromLog(log), 'job-c');
    assert.equal(recorded.generatorSaturated, true);
    assert.equal(recorded.holds, false);
  });

  test('a log without the summary line, or with a summary missing its fields, is an error that says so', () => {
    assert.throws(() => summaryFromLog('ERRO[0000] could not initialize: no such file /scripts/browse.ts\n'), SummaryMissing);
    assert.throws(() => summaryFromLog('scaleshop-summary {"requests":{}}\n'), /no duration_s/);
    assert.throws(() => summaryFromLog('scaleshop-summary {"requests":{},"duration_s":30}\n'), /no elapsed_s/);
  });
});

describe('the results ConfigMap and its 1 MiB', () => {
  const owner = { apiVersion: 'scaleshop.dev/v1alpha1', kind: 'ScalingExperiment', metadata: { name: 'sweep', namespace: 'lab', uid: 'u-1' }, spec: spec() };
  const files = { resultsJson: '{"service":"product"}\n', reportMd: '# product\n' };
  const charts = { 'throughput.svg': `<svg>${'x'.repeat(600)}</svg>`, 'latency.svg': `<svg>${'y'.repeat(600)}</svg>` };
  // Keys and values, in bytes, as the API server counts them: 12 + 22, 9 + 10, 14 + 611, 11 + 611.
  const whole = 12 + 22 + 9 + 10 + 14 + 611 + 11 + 611;

  test('everything while it fits', () => {
    const written = resultsConfigMap(owner, files, charts, whole);
    assert.equal(written.kind, 'fits');
    assert.ok(written.kind === 'fits' && !written.chartsLeftOut && written.bytes === whole);
    assert.deepEqual(Object.keys((written as unknown as { object: { data: object } }).object.data).sort(), ['latency.svg', 'report.md', 'results.json', 'throughput.svg']);
  });

  test('past the limit the charts are left out, and it says so; past it without them, no ConfigMap', () => {
    const written = resultsConfigMap(owner, files, charts, whole - 1);
    assert.ok(written.kind === 'fits' && written.chartsLeftOut);
    assert.deepEqual(Object.keys((written as unknown as { object: { data: object } }).object.data).sort(), ['report.md', 'results.json']);
    assert.deepEqual(resultsConfigMap(owner, files, charts, 52), { kind: 'tooLarge', bytes: 53 });
    assert.equal(configMapDataLimitBytes, 1_048_576);
  });
});

