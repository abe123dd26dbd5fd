/**
 * The fault schedule of a chaos run, drawn from a seed: the same seed, duration, fault kinds
 * and services give the same faults at the same offsets against the same targets, so a failing
 * run can be run again. Every kind asked for comes once (in a seeded order) before any comes
 * twice; the run starts and ends with a quiet stretch, so there is a normal p99 to recover to
 * and a tail in which the shop catches up.
 */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import type { FaultKind } from './history.ts';

export type Dependency = 'postgres' | 'rabbitmq';

export interface PlannedFault {
  kind: FaultKind;
  /** From the start of the load, ms. */
  at: number;
  /** How long the fault is held (0 for a kill or a SIGTERM: the window lasts until the replica is back). */
  durationMs: number;
  /** The service it hits (none for a Postgres restart or a broker stop). */
  service?: string;
  /** kill and term: which of the service's replicas, as a share of their count at the time (0 ≤ pick < 1). */
  pick?: number;
  /** net-delay and net-cut: which path of the service. */
  dependency?: Dependency;
  /** net-delay: added to each chunk on the path, ms; payment-slow: the payment provider's latency, ms. */
  delayMs?: number;
}

export interface ScheduleOptions {
  seed: number;
  durationMs: number;
  kinds: readonly FaultKind[];
  /** The services a replica may be killed of. */
  processServices: readonly string[];
  /** The services with a database of their own (db-cut, and net faults towards Postgres). */
  databaseServices: readonly string[];
  /** The services on the broker (net faults towards RabbitMQ). */
  brokerServices: readonly string[];
}

/** Quiet before the first fault and after the last one's gap (ms): a tenth of the run each, within these bounds. */
const quietBounds = { min: 5_000, max: 30_000 };

export class ScheduleError extends Error {}

/** How long each kind is held (ms, inclusive range); kill and term last until the replica is back. */
const holdMs: Record<FaultKind, [number, number]> = {
  kill: [0, 0],
  term: [0, 0],
  'pg-restart': [0, 0],
  'broker-stop': [3_000, 6_000],
  'db-cut': [2_000, 4_000],
  'net-delay': [3_000, 6_000],
  'net-cut': [2_000, 4_000],
  'payment-slow': [3_000, 6_000],
};
/** What a fault held for 0 ms still costs before the shop is whole again (a restart, a replica's boot), to leave room for. */
const settleMs: Record<FaultKind, number> = { kill: 4_000, term: 4_000, 'pg-restart': 4_000, 'broker-stop': 2_000, 'db-cut': 1_000, 'net-delay': 1_000, 'net-cut': 1_000, 'payment-slow': 2_000 };
/** The pause after a fault has settled, before the next (ms, inclusive range). */
const gapMs: [number, number] = [3_000, 6_000];

export function planFaults(options: ScheduleOptions): PlannedFault[] {
  if (options.kinds.length === 0) return [];
  const rng = xoroshiro128plus(options.seed);
  const between = (range: readonly [number, number]) => uniformInt(rng, range[0], range[1]);
  const pickFrom = <T>(items: readonly T[]): T => items[uniformInt(rng, 0, items.length - 1)]!;
  const quiet = Math.min(quietBounds.max, Math.max(quietBounds.min, Math.round(options.durationMs / 10)));
  const lastEnd = options.durationMs - quiet;

  const planned: PlannedFault[] = [];
  let at = quiet;
  let round: FaultKind[] = [];
  for (;;) {
    if (round.length === 0) round = shuffled(options.kinds, rng);
    const kind = round.shift()!;
    const fault = plan(kind, at, rng, options, between, pickFrom);
    const settled = fault.at + fault.durationMs + settleMs[kind];
    if (settled > lastEnd) break;
    planned.push(fault);
    at = settled + between(gapMs);
  }
  const missing = options.kinds.filter((kind) => !planned.some((fault) => fault.kind === kind));
  if (missing.length > 0) {
    throw new ScheduleError(`a run of ${options.durationMs / 1000} s has no room for ${missing.join(', ')} after the other faults: make it longer, or ask for fewer kinds`);
  }
  return planned;
}

function plan(kind: FaultKind, at: number, rng: RandomGenerator, options: ScheduleOptions, between: (range: readonly [number, number]) => number, pickFrom: <T>(items: readonly T[]) => T): PlannedFault {
  const durationMs = between(holdMs[kind]);
  switch (kind) {
    case 'kill':
    case 'term':
      return { kind, at, durationMs, service: pickFrom(options.processServices), pick: uniformInt(rng, 0, 999) / 1000 };
    case 'pg-restart':
    case 'broker-stop':
      return { kind, at, durationMs };
    case 'payment-slow':
      return { kind, at, durationMs, service: 'payment', delayMs: between([2_000, 5_000]) };
    case 'db-cut':
      return { kind, at, durationMs, service: pickFrom(options.databaseServices) };
    case 'net-delay':
    case 'net-cut': {
      const paths = [...options.databaseServices.map((service) => [service, 'postgres'] as const), ...options.brokerServices.map((service) => [service, 'rabbitmq'] as const)];
      const [service, dependency] = pickFrom(paths);
      return kind === 'net-delay' ? { kind, at, durationMs, service, dependency, delayMs: between([100, 800]) } : { kind, at, durationMs, service, dependency };
    }
  }
}

/** Fisher–Yates with the run's generator. */
function shuffled<T>(items: readonly T[], rng: RandomGenerator): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = uniformInt(rng, 0, index);
    [copy[index], copy[other]] = [copy[other]!, copy[index]!];
  }
  return copy;
}

/** Which service/dependency paths the plan cuts or slows: only those get a proxy. */
export function proxiedPaths(faults: readonly PlannedFault[]): Array<{ service: string; dependency: Dependency }> {
  const seen = new Map<string, { service: string; dependency: Dependency }>();
  for (const fault of faults) if (fault.dependency && fault.service) seen.set(`${fault.service}/${fault.dependency}`, { service: fault.service, dependency: fault.dependency });
  return [...seen.values()];
}
