/**
 * A W3C traceparent (https://www.w3.org/TR/trace-context/) of the load generator's own, so that a
 * slow request can be looked up in Jaeger by the trace id the generator reports. The gateway
 * continues it (its server span takes this trace id and has this span id as its parent), and
 * the sampled flag is the generator's decision for the whole trace, as an edge proxy's would be:
 * with the services' default sampler (parentbased_always_on) an unsampled request records nothing.
 */
import { randomHex } from './random.ts';

export interface TraceParent {
  header: string;
  traceId: string;
  spanId: string;
  sampled: boolean;
}

export function newTraceParent(samplingRatio: number): TraceParent {
  // All-zero ids are invalid; 32 random hex digits are never all zero in practice, but the spec says so.
  let traceId = randomHex(32);
  while (/^0+$/.test(traceId)) traceId = randomHex(32);
  let spanId = randomHex(16);
  while (/^0+$/.test(spanId)) spanId = randomHex(16);
  const sampled = Math.random() < samplingRatio;
  return { header: `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`, traceId, spanId, sampled };
}

/** TRACE_SAMPLING: the share of requests whose trace is recorded, 0 to 1; default 1, as the services sample today. */
export function traceSamplingRatio(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env.TRACE_SAMPLING;
  if (raw === undefined || raw === '') return 1;
  const ratio = Number(raw);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new Error(`TRACE_SAMPLING must be a number from 0 to 1, not "${raw}"`);
  return ratio;
}
