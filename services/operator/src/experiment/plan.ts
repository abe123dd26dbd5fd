/**
 * What a ScalingExperiment does next, and what its runs add up to, as pure functions of its spec
 * and the runs recorded in its status: the reconcile loop keeps no state of its own, so an
 * operator restarted mid-experiment carries on from the status.
 */
import { applyDefaults } from '@scaleshop/cdk8s/src/shop-spec.ts';
import { experimentSpecSchema, type ExperimentRun, type ExperimentSpec, type ExperimentStatus } from '@scaleshop/cdk8s/src/experiment-spec.ts';
import type { LoadSummary } from '../../../../loadtests/lib/summary.ts';
import { judge, judgedBySaga } from '../../../../scripts/scaling/judge.ts';
import { fitPoints, pointFrom, reportMarkdown, warningsFor, type ExperimentResults, type RunMeasurement } from '../../../../scripts/scaling/results.ts';

export interface NextRun {
  replicas: number;
  repeat: number;
  rate: number;
}

export function specWithDefaults(spec: unknown): ExperimentSpec {
  return applyDefaults(experimentSpecSchema, spec) as ExperimentSpec;
}

/** The run at the highest rate that held, of one repeat at one N. */
function bestHeld(runs: readonly ExperimentRun[]): ExperimentRun | undefined {
  return runs.filter((run) => run.holds).sort((a, b) => b.rate - a.rate)[0];
}

/** Whether a repeat at N is finished, and if not, the rate of its next run. */
function nextRateOf(spec: ExperimentSpec, runs: readonly ExperimentRun[], startRate: number): number | undefined {
  const { rates, search } = spec.load;
  if (rates) {
    // Ascending: once one breaks, every higher rate would too.
    const sorted = [...rates].sort((a, b) => a - b);
    if (runs.some((run) => !run.holds)) return undefined;
    return sorted[runs.length];
  }
  if (!search) throw new Error('load needs rates or search');
  if (runs.length >= search.maxRuns) return undefined;
  const last = runs.at(-1);
  if (!last) return startRate;
  const held = bestHeld(runs);
  if (last.holds) return last.rate * search.factor;
  // A break after a rate that held ends the search; a break from the start halves the rate.
  return held ? undefined : last.rate / 2;
}

/** The rate a search starts from at N: what the previous N held, scaled by the replicas and halved (stepping up is cheaper than coming down). */
function searchStart(spec: ExperimentSpec, runs: readonly ExperimentRun[], index: number): number {
  const start = spec.load.search?.startRate ?? 1;
  for (let previous = index - 1; previous >= 0; previous--) {
    const replicas = spec.replicas[previous]!;
    const held = runs.filter((run) => run.replicas === replicas && run.holds).map((run) => run.rate);
    if (held.length > 0) return Math.max(start / 2, (Math.max(...held) * spec.replicas[index]!) / replicas / 2);
  }
  return start;
}

/** The next run, or undefined when every repeat of every N is done. */
export function nextRun(spec: ExperimentSpec, runs: readonly ExperimentRun[]): NextRun | undefined {
  for (const [index, replicas] of spec.replicas.entries()) {
    for (let repeat = 0; repeat < spec.repeats; repeat++) {
      const here = runs.filter((run) => run.replicas === replicas && run.repeat === repeat);
      const rate = nextRateOf(spec, here, searchStart(spec, runs, index));
      if (rate !== undefined) return { replicas, repeat, rate: Math.round(rate * 100) / 100 };
    }
  }
  return undefined;
}

/** Replica counts with every repeat done, of all. */
export function stepsDone(spec: ExperimentSpec, runs: readonly ExperimentRun[]): string {
  const next = nextRun(spec, runs);
  const done = next === undefined ? spec.replicas.length : spec.replicas.indexOf(next.replicas);
  return `${done}/${spec.replicas.length}`;
}

/** One k6 summary as a run of the status: judged as the local runner judges it. */
export function runFromSummary(spec: ExperimentSpec, at: NextRun, summary: LoadSummary, job: string): ExperimentRun {
  // Over the time the iterations really took (k6's testRunDurationMs less setup), as the local runner counts.
  const verdict = judge(summary, summary.elapsed_s, judgedBySaga(spec.scenario));
  const generatorSaturated = summary.dropped_iterations > 0;
  return {
    replicas: at.replicas,
    repeat: at.repeat,
    rate: at.rate,
    throughput: verdict.throughput,
    p50Ms: verdict.p50,
    p99Ms: verdict.p99,
    errorRate: verdict.errorRate,
    generatorSaturated,
    thresholdsOk: summary.thresholds_ok,
    holds: !generatorSaturated && verdict.p99 < spec.slo.p99Ms && verdict.errorRate < spec.slo.maxErrorRate,
    job,
  };
}

export function unitOf(spec: ExperimentSpec): string {
  return judgedBySaga(spec.scenario) ? 'orders/s' : 'requests/s';
}

function measurement(best: ExperimentRun | undefined, runs: readonly ExperimentRun[]): RunMeasurement {
  // No rate held: capacity 0 at this N, with the latency of the lowest rate tried.
  const shown = best ?? [...runs].sort((a, b) => a.rate - b.rate)[0]!;
  return {
    throughput: best ? best.throughput : 0,
    p50_ms: shown.p50Ms,
    p99_ms: shown.p99Ms,
    error_rate: shown.errorRate,
    // Neither is measured in the cluster (no access to the pods' /proc or their metrics from here); the report says so.
    cpu_ms_per_unit: 0,
    replica_shares: [],
    generator_saturated: runs.some((run) => run.generatorSaturated),
    slowest_traces: [],
  };
}

/** The points (medians of the repeats' best held runs), the USL fit, and the printer column. */
export function fold(spec: ExperimentSpec, runs: readonly ExperimentRun[]): Pick<ExperimentStatus, 'points' | 'usl' | 'efficiencyAtLargest' | 'unit'> & { results: Pick<ExperimentResults, 'points' | 'usl' | 'latency'> } {
  const unit = unitOf(spec);
  const measured = spec.replicas.filter((replicas) => Array.from({ length: spec.repeats }, (_, repeat) => repeat).every((repeat) => runs.some((run) => run.replicas === replicas && run.repeat === repeat)));
  const next = nextRun(spec, runs);
  const finished = measured.filter((replicas) => next === undefined || next.replicas !== replicas);
  const measurementsOf = (replicas: number) =>
    Array.from({ length: spec.repeats }, (_, repeat) => {
      const here = runs.filter((run) => run.replicas === replicas && run.repeat === repeat);
      return measurement(bestHeld(here), here);
    });
  const single = finished.includes(1) ? pointFrom(1, unit, measurementsOf(1), undefined).throughput : undefined;
  const points = finished.map((replicas) => pointFrom(replicas, unit, measurementsOf(replicas), single));
  const usl = fitPoints(points);
  const largest = points.at(-1);
  return {
    unit,
    points: points.map((point) => ({
      replicas: point.replicas,
      throughput: point.throughput,
      ...(Number.isNaN(point.efficiency) ? {} : { efficiency: point.efficiency }),
      p50Ms: point.p50_ms,
      p99Ms: point.p99_ms,
      errorRate: point.error_rate,
    })),
    ...(usl ? { usl: { lambda: usl.lambda, sigma: usl.sigma, kappa: usl.kappa, r2: usl.r2, ...(usl.peak_replicas === null ? {} : { peakReplicas: usl.peak_replicas }) } } : {}),
    ...(largest && !Number.isNaN(largest.efficiency) ? { efficiencyAtLargest: largest.efficiency.toFixed(2) } : {}),
    results: {
      points,
      usl,
      latency: runs.map((run) => ({ replicas: run.replicas, offered_rate: run.rate, p50_ms: run.p50Ms, p99_ms: run.p99Ms })),
    },
  };
}

export interface ResultsContext {
  /** The image the target ran, where a local run records its commit. */
  image: string;
  /** CPU limit of one replica, in cores: what one replica may use, the cluster's counterpart of the local machine's cores. */
  coresPerReplica: number;
  knobs: Record<string, string>;
  startedAt: string;
  finishedAt: string;
}

/** results.json and report.md, in the schema of a local experiment (scripts/scaling/results.ts). */
export function experimentResults(spec: ExperimentSpec, runs: readonly ExperimentRun[], context: ResultsContext): { results: ExperimentResults; report: string } {
  const { results: folded } = fold(spec, runs);
  const conditions = { commit: context.image, cores: context.coresPerReplica, node: process.versions.node, knobs: context.knobs, duration_s: spec.durationSeconds, repeat: spec.repeats };
  const results: ExperimentResults = {
    service: spec.target.service,
    scenario: spec.scenario,
    slo: { metric: judgedBySaga(spec.scenario) ? 'saga completion' : 'HTTP', p99_ms: spec.slo.p99Ms, max_error_rate: spec.slo.maxErrorRate },
    conditions,
    points: folded.points,
    latency: folded.latency,
    usl: folded.usl,
    warnings: [
      ...warningsFor({ points: folded.points, conditions, service: spec.target.service, cpuBound: false }),
      'Measured in a cluster by k6 Jobs: CPU per unit and the replicas’ shares of the work were not measured (shown as 0 and empty).',
    ],
    started_at: context.startedAt,
    finished_at: context.finishedAt,
  };
  return { results, report: reportMarkdown(results) };
}
