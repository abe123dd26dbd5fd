/**
 * Everything a k6 script exports, built from one scenario: the open-model options (constant
 * arrival rate) and thresholds, setup, the iteration, teardown and handleSummary.
 *
 * Environment: BASE_URL (default http://localhost:9000), RATE (iterations per second), DURATION
 * (k6 duration, e.g. 30s), MAX_VUS, TRACE_SAMPLING (0–1), SUMMARY_DIR (default .), SUMMARY_STDOUT (json: the summary also as one line of stdout), and those of
 * the journeys (POLL_INTERVAL_MS, SAGA_TIMEOUT_MS, BUYER_USERS, HOT_STOCK, ADMIN_EMAIL, ADMIN_PASSWORD).
 */
import exec from 'k6/execution';
import { Gauge } from 'k6/metrics';
import type { Options } from 'k6/options';
import { concurrencyLimits, defaultBaseUrl, parseDuration } from '../lib/run.ts';
import type { RunParameters, Scenario } from '../lib/runtime.ts';
import { formatSummary, summarize, summaryLinePrefix, type EndOfTestData } from '../lib/summary.ts';
import { setupEndedMetric, summaryTrendStats, thresholdsFor } from '../lib/thresholds.ts';
import { traceSamplingRatio } from '../lib/traceparent.ts';
import { k6Runtime } from './runtime.ts';

// Custom metrics exist only when made in the init context, that is, when this module loads.
const setupEnded = new Gauge(setupEndedMetric, true);

export function k6Script<Data>(scenario: Scenario<Data>) {
  const rate = Number(__ENV.RATE || scenario.defaults.rate);
  const duration = __ENV.DURATION || scenario.defaults.duration;
  const durationSeconds = parseDuration(duration);
  if (!(rate > 0) || durationSeconds === undefined) throw new Error(`RATE must be a positive number and DURATION a k6 duration (30s, 2m): got RATE=${__ENV.RATE} DURATION=${__ENV.DURATION}`);
  const baseUrl = (__ENV.BASE_URL || defaultBaseUrl).replace(/\/+$/, '');
  const limits = concurrencyLimits(scenario as Scenario<unknown>, rate, __ENV.MAX_VUS ? Number(__ENV.MAX_VUS) : undefined);
  const parameters: RunParameters = { rate, durationSeconds, env: __ENV };
  const runtime = k6Runtime(baseUrl, traceSamplingRatio(__ENV));

  const options: Options = {
    scenarios: {
      [scenario.name]: {
        executor: 'constant-arrival-rate',
        rate,
        timeUnit: '1s',
        duration,
        preAllocatedVUs: limits.preAllocated,
        maxVUs: limits.max,
        // A buyer's order may take SAGA_TIMEOUT_MS to be final; let the last iterations see it.
        gracefulStop: '60s',
      },
    },
    thresholds: thresholdsFor(scenario as Scenario<unknown>),
    summaryTrendStats,
    setupTimeout: '10m',
    teardownTimeout: '5m',
  };

  return {
    options,
    async setup(): Promise<Data> {
      const data = await scenario.setup(runtime, parameters);
      setupEnded.add(exec.instance.currentTestRunDuration);
      return data;
    },
    iteration: (data: Data) => scenario.iteration(runtime, data, exec.scenario.iterationInTest),
    teardown: (data: Data) => scenario.teardown?.(runtime, data),
    handleSummary(data: EndOfTestData): Record<string, string> {
      const summary = summarize(scenario as Scenario<unknown>, { generator: 'k6', baseUrl, rate, durationSeconds }, data);
      const text = formatSummary(summary);
      const directory = (__ENV.SUMMARY_DIR || '.').replace(/\/+$/, '');
      return {
        [`${directory}/summary-${scenario.name}.json`]: `${JSON.stringify(summary, null, 2)}\n`,
        [`${directory}/summary-${scenario.name}.txt`]: text,
        stdout: __ENV.SUMMARY_STDOUT === 'json' ? `${text}\n${summaryLinePrefix}${JSON.stringify(summary)}\n` : text,
      };
    },
  };
}
