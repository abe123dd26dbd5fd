/**
 * One run of a scenario from Node: setup, the iterations at a constant arrival rate through the
 * open-loop engine, teardown, then the thresholds and the summary k6 would produce.
 */
import { concurrencyLimits } from '../loadtests/lib/run.ts';
import type { RunParameters, Scenario } from '../loadtests/lib/runtime.ts';
import { summarize, type EndOfTestData, type LoadSummary } from '../loadtests/lib/summary.ts';
import { builtinMetrics, setupEndedMetric, summaryTrendStats, thresholdsFor } from '../loadtests/lib/thresholds.ts';
import { Metrics, type Trend } from './metrics.ts';
import { NodeHttp, nodeRuntime, type NodeHttpOptions, type SlowRequest } from './node-runtime.ts';
import { OpenLoop, type OpenLoopProgress } from './open-loop.ts';

export interface LoadRunOptions {
  scenario: Scenario<unknown>;
  baseUrl: string;
  rate: number;
  durationSeconds: number;
  env: Readonly<Record<string, string | undefined>>;
  maxInFlight?: number;
  traceSampling: number;
  signal?: AbortSignal;
  /** Told once the iterations start, with the engine's live counters (for a progress line). */
  onIterationsStarted?: (progress: OpenLoopProgress, startedAt: number) => void;
  onSend?: (dueAt: number, sentAt: number) => void;
  onAnswer?: NodeHttpOptions['onAnswer'];
  log?: (message: string) => void;
}

export interface LoadRunResult {
  summary: LoadSummary;
  data: EndOfTestData;
  slowest: SlowRequest[];
  /** Per request name, a uniform sample of the requests that carried a sampled trace, fastest first. */
  traced: Map<string, SlowRequest[]>;
  startLag: Trend;
  statuses: Map<number, number>;
  iterationsThatThrew: number;
  firstErrors: unknown[];
}

export async function runLoad(options: LoadRunOptions): Promise<LoadRunResult> {
  const { scenario, rate, durationSeconds } = options;
  const metrics = new Metrics();
  const limits = concurrencyLimits(scenario, rate, options.maxInFlight);
  const http = new NodeHttp(options.baseUrl, metrics, { connections: limits.max, traceSampling: options.traceSampling, ...(options.onSend ? { onSend: options.onSend } : {}), ...(options.onAnswer ? { onAnswer: options.onAnswer } : {}) });
  const runtimeFor = (firstDueAt: number | undefined) => nodeRuntime(http.client(firstDueAt), metrics, true, options.log);
  const parameters: RunParameters = { rate, durationSeconds, env: options.env };
  const runStarted = performance.now();
  try {
    // k6 hands every VU a JSON copy of setup's result: so does this, so a journey that keeps
    // anything JSON would lose fails here first.
    const data: unknown = JSON.parse(JSON.stringify(await scenario.setup(runtimeFor(undefined), parameters)));
    metrics.gauge(setupEndedMetric, performance.now() - runStarted);
    const loop = new OpenLoop({
      rate,
      durationMs: durationSeconds * 1000,
      maxInFlight: limits.max,
      ...(options.signal ? { signal: options.signal } : {}),
      iteration: async ({ index, dueAt }) => {
        try {
          await scenario.iteration(runtimeFor(dueAt), data, index);
        } finally {
          // As k6 counts them: an iteration that threw still ran.
          metrics.count(builtinMetrics.iterations);
        }
      },
    });
    options.onIterationsStarted?.(loop.progress, performance.now());
    const result = await loop.run();
    if (result.dropped > 0) metrics.count(builtinMetrics.dropped, result.dropped);
    await scenario.teardown?.(runtimeFor(undefined), data);

    const endOfTest = metrics.endOfTestData(thresholdsFor(scenario), summaryTrendStats, performance.now() - runStarted);
    return {
      summary: summarize(scenario, { generator: 'node', baseUrl: options.baseUrl, rate, durationSeconds }, endOfTest),
      data: endOfTest,
      slowest: http.slowest,
      traced: http.traced(),
      startLag: result.startLag,
      statuses: metrics.statuses,
      iterationsThatThrew: result.failed,
      firstErrors: result.firstErrors,
    };
  } finally {
    await http.close();
  }
}
