import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { efficiency, fitUsl, uslThroughput, type UslFit } from './usl.ts';

/**
 * What one experiment leaves behind: `results.json` (this shape, read by people and tools alike),
 * `report.md`, and two charts drawn with Vega-Lite on the server.
 */
export interface RunMeasurement {
  /** The highest rate at which the SLO held, in the scenario's unit. */
  throughput: number;
  p50_ms: number;
  p99_ms: number;
  error_rate: number;
  /** CPU of every shop process per unit of work, from /proc. */
  cpu_ms_per_unit: number;
  /** Each replica's share of the work, from the replicas' own metrics. */
  replica_shares: number[];
  /** The deepest the service's queue got during the capacity run (consumers only). */
  max_queue_depth?: number;
  /** Requests that waited for a database connection, from the pool gauges. */
  pool_waits_max?: number;
  /** Sessions of the service's database waiting on a lock (pg_stat_activity), sampled every 250 ms. */
  lock_waits?: { mean: number; max: number; samples: number };
  /** A step the load generator could not drive (dropped iterations, its CPU pegged): not a measurement of the shop. */
  generator_saturated: boolean;
  /** The slowest traced requests of the name the SLO is judged on, to look up in Jaeger (a link when JAEGER_UI_URL is set). */
  slowest_traces: SampledTrace[];
  /** A traced request of median latency, of the same name as the slowest: what a typical one looks like beside it. */
  median_trace?: SampledTrace;
}

export interface SampledTrace {
  name: string;
  ms: number;
  trace_id: string;
  link?: string;
}

export interface ExperimentPoint {
  replicas: number;
  throughput: number;
  throughput_unit: string;
  p50_ms: number;
  p99_ms: number;
  error_rate: number;
  efficiency: number;
  cpu_ms_per_unit: number;
  /** (max − min) / median of the repeats' throughput. */
  spread: number;
  runs: RunMeasurement[];
}

export interface LatencyPoint {
  replicas: number;
  offered_rate: number;
  p50_ms: number;
  p99_ms: number;
}

export interface ExperimentResults {
  service: string;
  scenario: string;
  slo: { metric: string; p99_ms: number; max_error_rate: number };
  conditions: { commit: string; cores: number; node: string; knobs: Record<string, string>; duration_s: number; repeat: number };
  points: ExperimentPoint[];
  latency: LatencyPoint[];
  usl: UslFit | null;
  warnings: string[];
  started_at: string;
  finished_at: string;
}

export const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** The repeats of one N as one point: medians, with the spread the report flags past 15 %. */
export function pointFrom(replicas: number, unit: string, runs: RunMeasurement[], singleReplicaThroughput: number | undefined): ExperimentPoint {
  const throughputs = runs.map((run) => run.throughput);
  const throughput = median(throughputs);
  return {
    replicas,
    throughput,
    throughput_unit: unit,
    p50_ms: median(runs.map((run) => run.p50_ms)),
    p99_ms: median(runs.map((run) => run.p99_ms)),
    error_rate: median(runs.map((run) => run.error_rate)),
    efficiency: singleReplicaThroughput ? efficiency(throughput, replicas, singleReplicaThroughput) : Number.NaN,
    cpu_ms_per_unit: median(runs.map((run) => run.cpu_ms_per_unit)),
    spread: throughput > 0 ? (Math.max(...throughputs) - Math.min(...throughputs)) / throughput : 0,
    runs,
  };
}

/** The fit over the points, when there are enough of them to fit. */
export function fitPoints(points: readonly ExperimentPoint[]): UslFit | null {
  const usable = points.filter((point) => point.throughput > 0);
  return usable.length >= 3 ? fitUsl(usable.map(({ replicas, throughput }) => ({ replicas, throughput }))) : null;
}

/** The lessons the warnings carry, in words a reader can act on. */
export function warningsFor(results: Pick<ExperimentResults, 'points' | 'conditions' | 'service'> & { cpuBound: boolean }): string[] {
  const warnings: string[] = [];
  for (const point of results.points) {
    if (point.spread > 0.15) warnings.push(`N=${point.replicas}: the repeats disagree by ${(point.spread * 100).toFixed(0)} % (throughputs ${point.runs.map((run) => run.throughput.toFixed(1)).join(', ')}); treat this point with care.`);
    const saturated = point.runs.filter((run) => run.generator_saturated).length;
    if (saturated > 0) warnings.push(`N=${point.replicas}: in ${saturated} of ${point.runs.length} runs the load generator itself was saturated; those steps were not counted as the shop's capacity.`);
  }
  const largest = Math.max(...results.points.map((point) => point.replicas));
  if (results.cpuBound && largest > results.conditions.cores) {
    warnings.push(`${largest} replicas of ${results.service}, a CPU-bound service, on ${results.conditions.cores} cores: beyond ${results.conditions.cores} they only share the same cores, so little can be gained, whatever the code.`);
  }
  return warnings;
}

const plain = (fit: UslFit) =>
  [
    `σ = ${fit.sigma.toFixed(4)}: about ${(fit.sigma * 100).toFixed(1)} % of the work serialises, waiting on something only one can hold at a time (a lock, a single queue, one database).`,
    fit.kappa > 0
      ? `κ = ${fit.kappa.toExponential(2)}: each pair of replicas costs each other that much in coordination (crosstalk); it makes throughput fall past N* = ${fit.peak_replicas?.toFixed(1)}.`
      : 'κ = 0: no crosstalk measured; throughput approaches λ/σ and does not fall.',
    `λ = ${fit.lambda.toFixed(2)}: what one replica would do without either.`,
    `R² = ${fit.r2.toFixed(3)} (how much of the variation the curve explains).`,
  ].join('\n- ');

export function reportMarkdown(results: ExperimentResults): string {
  const unit = results.points[0]?.throughput_unit ?? '';
  const rows = results.points.map((point) =>
    `| ${point.replicas} | ${point.throughput.toFixed(1)} | ${Number.isNaN(point.efficiency) ? '–' : point.efficiency.toFixed(2)} | ${point.p50_ms.toFixed(0)} | ${point.p99_ms.toFixed(0)} | ${(point.error_rate * 100).toFixed(2)} % | ${point.cpu_ms_per_unit.toFixed(1)} | ${(point.spread * 100).toFixed(0)} % | ${point.runs.map((run) => run.replica_shares.map((share) => `${(share * 100).toFixed(0)}`).join('/')).join(' · ')} |`,
  );
  return [
    `# ${results.service}: ${results.scenario}, ${results.points.map((point) => point.replicas).join(', ')} replicas`,
    '',
    `${results.started_at} to ${results.finished_at}; commit ${results.conditions.commit}; ${results.conditions.cores} cores; Node ${results.conditions.node}.`,
    `SLO: ${results.slo.metric} p99 < ${results.slo.p99_ms} ms, errors < ${(results.slo.max_error_rate * 100).toFixed(0)} %, no dropped iterations.`,
    `Knobs: ${Object.entries(results.conditions.knobs).map(([name, value]) => `${name}=${value}`).join(', ') || 'defaults'}.`,
    '',
    `| N | X(N), ${unit} | E(N) | p50 ms | p99 ms | errors | CPU ms per ${(unit.split('/')[0] ?? '').replace(/s$/, '')} | spread | share per replica, % |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '## The Universal Scalability Law',
    '',
    results.usl ? `X(N) = λN / (1 + σ(N−1) + κN(N−1)), fitted to the points:\n\n- ${plain(results.usl)}` : 'Fewer than three points: no fit.',
    '',
    '![throughput](throughput.svg)',
    '![latency](latency.svg)',
    '',
    '## What the replicas waited on, during the run that gave X(N)',
    '',
    '| N | deepest queue | queries waiting for a connection, most | sessions waiting on a lock, mean / most |',
    '|---|---|---|---|',
    ...results.points.map((point) => {
      const runs = point.runs;
      const most = (values: Array<number | undefined>) => (values.every((value) => value === undefined) ? '–' : String(Math.max(...values.map((value) => value ?? 0))));
      const locks = runs.flatMap((run) => (run.lock_waits ? [run.lock_waits] : []));
      const lockText = locks.length === 0 ? '–' : `${(locks.reduce((sum, wait) => sum + wait.mean, 0) / locks.length).toFixed(2)} / ${Math.max(...locks.map((wait) => wait.max))}`;
      return `| ${point.replicas} | ${most(runs.map((run) => run.max_queue_depth))} | ${most(runs.map((run) => run.pool_waits_max))} | ${lockText} |`;
    }),
    '',
    '## A median and the slowest requests, to look up in Jaeger',
    '',
    ...results.points.map((point) => {
      const traces = point.runs.flatMap((run) => run.slowest_traces).sort((a, b) => b.ms - a.ms).slice(0, 2);
      const median = point.runs.find((run) => run.median_trace !== undefined)?.median_trace;
      const described = (trace: SampledTrace) => `${trace.name} ${trace.ms} ms, ${trace.link ? `[${trace.trace_id}](${trace.link})` : trace.trace_id}`;
      return `- N=${point.replicas}: median ${median ? described(median) : 'none sampled'}; slowest ${traces.map(described).join('; ') || 'none sampled'}`;
    }),
    '',
    '## Warnings',
    '',
    ...(results.warnings.length > 0 ? results.warnings.map((warning) => `- ${warning}`) : ['None.']),
    '',
  ].join('\n');
}

/** A Vega-Lite chart drawn on the server, as SVG. */
export async function svgOf(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

/** Measured X(N) with the repeats' range, the USL curve and the ideal line. */
export async function throughputChart(results: ExperimentResults): Promise<string> {
  const first = results.points.find((point) => point.replicas === 1)?.throughput ?? results.usl?.lambda ?? 0;
  const largest = Math.max(...results.points.map((point) => point.replicas));
  const steps = Array.from({ length: 50 }, (_, index) => 1 + ((largest - 1) * index) / 49);
  const curves = [
    ...(results.usl ? steps.map((n) => ({ replicas: n, throughput: uslThroughput(results.usl!, n), line: 'USL fit' })) : []),
    ...[1, largest].map((n) => ({ replicas: n, throughput: first * n, line: 'linear' })),
  ];
  const measured = results.points.map((point) => ({
    replicas: point.replicas,
    throughput: point.throughput,
    low: Math.min(...point.runs.map((run) => run.throughput)),
    high: Math.max(...point.runs.map((run) => run.throughput)),
  }));
  return svgOf({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${results.service}: throughput against replicas`,
    width: 480,
    height: 300,
    layer: [
      { data: { values: curves }, mark: 'line', encoding: { x: { field: 'replicas', type: 'quantitative', title: 'replicas (N)' }, y: { field: 'throughput', type: 'quantitative', title: results.points[0]?.throughput_unit ?? '' }, strokeDash: { field: 'line', type: 'nominal' }, color: { field: 'line', type: 'nominal' } } },
      { data: { values: measured }, mark: 'rule', encoding: { x: { field: 'replicas', type: 'quantitative' }, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } } },
      { data: { values: measured }, mark: { type: 'point', filled: true, size: 60 }, encoding: { x: { field: 'replicas', type: 'quantitative' }, y: { field: 'throughput', type: 'quantitative' } } },
    ],
  } as TopLevelSpec);
}

/** p99 against the offered load, one line per N. */
export async function latencyChart(results: ExperimentResults): Promise<string> {
  return svgOf({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${results.service}: p99 against offered load`,
    width: 480,
    height: 300,
    data: { values: results.latency.map((point) => ({ ...point, N: `N=${point.replicas}` })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'offered_rate', type: 'quantitative', title: `offered load, ${results.points[0]?.throughput_unit ?? ''}` },
      y: { field: 'p99_ms', type: 'quantitative', title: 'p99, ms' },
      color: { field: 'N', type: 'nominal' },
    },
  } as TopLevelSpec);
}

/** The charts' file names, which report.md links. */
export const chartFileNames = ['throughput.svg', 'latency.svg'] as const;

/** The charts of an experiment, by file name: local and cluster runs write the same. */
export async function chartFiles(results: ExperimentResults): Promise<Record<(typeof chartFileNames)[number], string>> {
  return { 'throughput.svg': await throughputChart(results), 'latency.svg': await latencyChart(results) };
}

/**
 * Checks a results.json for consistency, as a reader would: every E(N) recomputed from X(N)
 * and X(1), the fit recomputed from the points. Returns the problems found.
 */
export function inconsistencies(results: ExperimentResults): string[] {
  const problems: string[] = [];
  const single = results.points.find((point) => point.replicas === 1);
  for (const point of results.points) {
    if (single && Math.abs(point.efficiency - point.throughput / (point.replicas * single.throughput)) > 1e-9) problems.push(`E(${point.replicas}) is not X(N)/(N·X(1))`);
    if (Math.abs(point.throughput - median(point.runs.map((run) => run.throughput))) > 1e-9) problems.push(`X(${point.replicas}) is not the median of its runs`);
  }
  const refit = fitPoints(results.points);
  if ((refit === null) !== (results.usl === null)) problems.push('the fit is missing or should not be there');
  if (refit && results.usl) {
    for (const key of ['lambda', 'sigma', 'kappa', 'r2'] as const) {
      if (Math.abs(refit[key] - results.usl[key]) > 1e-6 * Math.max(1, Math.abs(refit[key]))) problems.push(`usl.${key} ${results.usl[key]} differs from the refit ${refit[key]}`);
    }
  }
  return problems;
}
