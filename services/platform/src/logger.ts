import { trace } from '@opentelemetry/api';
import { instanceId } from './instance.ts';
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];

/**
 * The trace and span a line was written in, so that the logs of one checkout are found by the
 * trace id Jaeger shows. Outside a request or message handler (or with tracing off) there is
 * no active span and nothing is added.
 */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** Writes JSON lines to stdout, or to `destination` (tests). */
export function createLogger(options: { service: string; level: LevelWithSilent; destination?: DestinationStream }): Logger {
  const settings = {
    level: options.level,
    base: { service: options.service, instance: instanceId() },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: traceFields,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.password_hash'], censor: '[redacted]' },
  } satisfies Parameters<typeof pino>[0];
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
