/**
 * The platform's own spans and span attributes, on top of what the instrumentations record.
 * Only @opentelemetry/api here: without the SDK every call is a cheap no-op.
 */
import { context, createContextKey, propagation, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Context } from '@opentelemetry/api';
import type { EventEnvelope } from '../messaging/contracts.ts';

export const tracer = trace.getTracer('@scaleshop/platform');

/** The business attributes of an event: which event, of which kind, about which order. */
export function eventAttributes(envelope: Pick<EventEnvelope, 'id' | 'type' | 'data'>): Attributes {
  const attributes: Attributes = { 'event.id': envelope.id, 'event.type': envelope.type };
  const orderId = (envelope.data as { order_id?: unknown } | null)?.order_id;
  if (typeof orderId === 'string') attributes['order.id'] = orderId;
  return attributes;
}

/**
 * Attributes the amqplib instrumentation's publish hook adds to the publish span it creates:
 * the publisher knows the event, the hook only sees bytes.
 */
const publishAttributesKey = createContextKey('scaleshop.publish-attributes');

export function withPublishAttributes(parent: Context, attributes: Attributes): Context {
  return parent.setValue(publishAttributesKey, attributes);
}

export function publishAttributes(): Attributes | undefined {
  return context.active().getValue(publishAttributesKey) as Attributes | undefined;
}

/** The W3C trace context (traceparent, tracestate) of the active span, or nothing outside one. */
export function currentTraceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** The context a carrier of trace headers continues; ROOT_CONTEXT when it carries none. */
export function contextFromHeaders(headers: Record<string, unknown> | undefined): Context {
  if (!headers || typeof headers.traceparent !== 'string') return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers);
}

/** Runs `work` in a span of its own, recording a failure on it. */
export async function withSpan<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  if (!trace.getActiveSpan()) return work();
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
