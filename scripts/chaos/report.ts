/**
 * What a chaos run reports: the fault timeline; per fault, the availability while it lasted and
 * how long the shop took to recover (to the first success, and to a normal p99); the
 * invariants with PASS or FAIL; and the success rate and p99 per second, drawn with the faults
 * marked.
 */
import type { TopLevelSpec } from 'vega-lite';
import { svgOf } from '../scaling/results.ts';
import type { InvariantResult } from './checker.ts';
import type { FaultRecord, RequestRecord } from './history.ts';

/** An answer the shop gave on purpose: anything but a 5xx or no answer at all. */
export const succeeded = (request: RequestRecord) => request.status > 0 && request.status < 500;
/** Requests the run made to prepare itself (accounts, products) are not the shoppers' and not judged for availability. */
const shoppers = (requests: readonly RequestRecord[]) => requests.filter((request) => !request.name.startsWith('setup: '));

export interface FaultOutcome extends FaultRecord {
  requests: number;
  /** Share of the requests sent while it lasted that succeeded (null when none were sent). */
  availability: number | null;
  /** From its end to the first success sent after it (ms). */
  recovery_to_first_success_ms: number | null;
  /** From its end to the end of the first second whose p99 is normal again (ms); null if that did not happen before the next fault or the end. */
  recovery_to_normal_p99_ms: number | null;
}

export interface SecondBucket {
  /** Seconds since the load started. */
  t: number;
  requests: number;
  success_rate: number | null;
  p99_ms: number | null;
}

export interface ChaosResults {
  seed: number;
  rate: number;
  duration_s: number;
  faults_asked: string[];
  started_at: string;
  finished_at: string;
  /** The p99 before the first fault, and what counts as normal again after one. */
  baseline_p99_ms: number | null;
  normal_p99_ms: number | null;
  faults: FaultOutcome[];
  invariants: InvariantResult[];
  passed: boolean;
  requests: { total: number; succeeded: number; by_status: Record<string, number> };
  orders: Record<string, number>;
  seconds: SecondBucket[];
  warnings: string[];
}

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A second's p99 is normal within half again the baseline, or 50 ms above it, whichever is more (a quiet p99 is small and noisy). */
export const normalP99 = (baseline: number) => Math.max(baseline * 1.5, baseline + 50);

export function secondBuckets(requests: readonly RequestRecord[], loadStart: number, loadEnd: number): SecondBucket[] {
  const seconds = Math.max(1, Math.ceil((loadEnd - loadStart) / 1000));
  const buckets = Array.from({ length: seconds }, () => [] as RequestRecord[]);
  for (const request of shoppers(requests)) {
    const index = Math.floor((request.at - loadStart) / 1000);
    if (index >= 0 && index < seconds) buckets[index]!.push(request);
  }
  return buckets.map((bucket, t) => ({
    t,
    requests: bucket.length,
    success_rate: bucket.length === 0 ? null : bucket.filter(succeeded).length / bucket.length,
    p99_ms: percentile(bucket.map((request) => request.ms), 99),
  }));
}

export function faultOutcomes(requests: readonly RequestRecord[], faults: readonly FaultRecord[], loadStart: number, loadEnd: number): { outcomes: FaultOutcome[]; baseline: number | null } {
  const judged = shoppers(requests).sort((a, b) => a.at - b.at);
  const firstFault = Math.min(loadEnd, ...faults.map((fault) => fault.start));
  const baseline = percentile(judged.filter((request) => request.at >= loadStart && request.at < firstFault).map((request) => request.ms), 99);
  const buckets = secondBuckets(requests, loadStart, loadEnd);
  const outcomes = faults.map((fault, index) => {
    const during = judged.filter((request) => request.at >= fault.start && request.at <= fault.end);
    const firstSuccess = judged.find((request) => request.at >= fault.end && succeeded(request));
    // Recovery is looked for up to the next fault, or the end of the load.
    const horizon = Math.min(loadEnd, faults[index + 1]?.start ?? loadEnd);
    let toNormal: number | null = null;
    if (baseline !== null) {
      const first = buckets.find((bucket) => {
        const end = loadStart + (bucket.t + 1) * 1000;
        return end > fault.end && end <= horizon + 1000 && bucket.requests > 0 && bucket.p99_ms! <= normalP99(baseline) && bucket.success_rate === 1;
      });
      if (first) toNormal = Math.max(0, loadStart + (first.t + 1) * 1000 - fault.end);
    }
    return {
      ...fault,
      requests: during.length,
      availability: during.length === 0 ? null : during.filter(succeeded).length / during.length,
      recovery_to_first_success_ms: firstSuccess ? Math.max(0, firstSuccess.at - fault.end) : null,
      recovery_to_normal_p99_ms: toNormal,
    };
  });
  return { outcomes, baseline };
}

const percent = (share: number | null) => (share === null ? 'n/a' : `${(share * 100).toFixed(1)} %`);
const seconds = (ms: number | null) => (ms === null ? 'not within the window' : `${(ms / 1000).toFixed(1)} s`);

export function reportMarkdown(results: ChaosResults): string {
  const started = Date.parse(results.started_at);
  const offset = (at: number) => `${((at - started) / 1000).toFixed(1)} s`;
  const lines = [
    `# Chaos run, seed ${results.seed}: ${results.passed ? 'PASS' : 'FAIL'}`,
    '',
    `${results.rate}/s of the mixed journey for ${results.duration_s} s; faults asked: ${results.faults_asked.join(', ')}. Started ${results.started_at}.`,
    `${results.requests.total} requests, ${results.requests.succeeded} answered without a 5xx; answers: ${Object.entries(results.requests.by_status).map(([status, count]) => `${status} ×${count}`).join(', ')}.`,
    `Orders by final status: ${Object.entries(results.orders).map(([status, count]) => `${status} ${count}`).join(', ') || 'none'}.`,
    `p99 before the first fault: ${results.baseline_p99_ms === null ? 'n/a' : `${results.baseline_p99_ms.toFixed(0)} ms`}; a second counts as recovered when every request in it succeeded and its p99 is at most ${results.normal_p99_ms === null ? 'n/a' : `${results.normal_p99_ms.toFixed(0)} ms`}.`,
    '',
    '## Faults',
    '',
    '| at | lasted | fault | target | requests | availability | to first success | to normal p99 | note |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.faults.map(
      (fault) =>
        `| ${offset(fault.start)} | ${((fault.end - fault.start) / 1000).toFixed(1)} s | ${fault.kind} | ${fault.target} | ${fault.requests} | ${percent(fault.availability)} | ${seconds(fault.recovery_to_first_success_ms)} | ${seconds(fault.recovery_to_normal_p99_ms)} | ${fault.note ?? ''} |`,
    ),
    '',
    '## Invariants',
    '',
    ...results.invariants.flatMap((invariant) => [
      `- **${invariant.passed ? 'PASS' : 'FAIL'}** ${invariant.name}: ${invariant.description} (${invariant.checked} checked${invariant.violations > 0 ? `, ${invariant.violations} violation(s)` : ''})`,
      ...invariant.listed.map((violation) => `  - ${violation.message}${violation.orders ? ` — orders ${violation.orders.join(', ')}` : ''}`),
      ...(invariant.violations > invariant.listed.length ? [`  - … and ${invariant.violations - invariant.listed.length} more (results.json has the count)`] : []),
      ...invariant.notes.map((note) => `  - note: ${note}`),
    ]),
    '',
    '![success rate and p99 per second, faults shaded](timeline.svg)',
    '',
    '## Warnings',
    '',
    ...(results.warnings.length > 0 ? results.warnings.map((warning) => `- ${warning}`) : ['None.']),
    '',
  ];
  return lines.join('\n');
}

/** Success rate and p99 per second, one above the other, with every fault's window shaded. */
export async function timelineChart(results: ChaosResults): Promise<string> {
  const started = Date.parse(results.started_at);
  const faults = results.faults.map((fault) => ({ from: (fault.start - started) / 1000, to: Math.max((fault.end - started) / 1000, (fault.start - started) / 1000 + 0.5), fault: `${fault.kind} ${fault.target}` }));
  const shade = { data: { values: faults }, mark: { type: 'rect' as const, opacity: 0.25, color: '#e45756' }, encoding: { x: { field: 'from', type: 'quantitative' as const }, x2: { field: 'to' }, tooltip: { field: 'fault' } } };
  const series = (field: 'success_rate' | 'p99_ms', title: string, scale?: { type: 'log' }) => ({
    width: 720,
    height: 180,
    layer: [
      shade,
      {
        data: { values: results.seconds.filter((bucket) => bucket[field] !== null && (field !== 'p99_ms' || bucket[field]! > 0)) },
        mark: { type: 'line' as const, point: false },
        encoding: {
          x: { field: 't', type: 'quantitative' as const, title: 'seconds since the load started' },
          y: { field, type: 'quantitative' as const, title, ...(scale ? { scale } : {}) },
        },
      },
    ],
  });
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `chaos run, seed ${results.seed}: faults shaded`,
    vconcat: [series('success_rate', 'success rate'), series('p99_ms', 'p99 (ms, log)', { type: 'log' })],
  } as TopLevelSpec;
  return svgOf(spec);
}
