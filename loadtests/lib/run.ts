/** What both generators derive the same way from a scenario, a rate and a duration. */
import type { Scenario } from './runtime.ts';

/** k6's duration strings: `30s`, `1m30s`, `2m`, `1h`, `500ms`. */
export function parseDuration(text: string): number | undefined {
  const match = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/.exec(text.trim());
  if (!match || text.trim() === '') return undefined;
  const [, hours, minutes, seconds, milliseconds] = match;
  const total = Number(hours ?? 0) * 3600 + Number(minutes ?? 0) * 60 + Number(seconds ?? 0) + Number(milliseconds ?? 0) / 1000;
  return total > 0 ? total : undefined;
}

/**
 * How many iterations may be in flight at once (k6: preAllocatedVUs, maxVUs). Past the maximum an
 * iteration is dropped and counted, so a shop that slows down shows up as dropped_iterations
 * instead of as a generator that quietly offers less; MAX_VUS overrides the maximum.
 */
export function concurrencyLimits(scenario: Scenario<unknown>, rate: number, maxOverride?: number): { preAllocated: number; max: number } {
  const typical = rate * scenario.typicalIterationSeconds;
  const max = maxOverride ?? Math.max(50, Math.ceil(typical * 10));
  return { preAllocated: Math.min(max, Math.max(5, Math.ceil(typical * 1.5))), max };
}

export const defaultBaseUrl = 'http://localhost:9000';
