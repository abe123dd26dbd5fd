/**
 * Every header the messaging contract puts on a message, besides the W3C trace context
 * (traceparent, tracestate) each message carries from the transaction that wrote it.
 */
export const messageHeaders = {
  /** When the relay handed the message to the broker (ms since the epoch): consumers measure the queue wait from it. */
  publishedAt: 'x-published-at',
  /** The delivery attempt a retried message is on, from 2; outage retries do not count. */
  attempt: 'x-attempt',
  /** Retries spent waiting out a database outage, which use up no attempt. */
  outageRetries: 'x-outage-retries',
  /** Why the last attempt failed, cut to 500 characters. */
  lastError: 'x-last-error',
  /** The routing key the message was first published with, kept through retries and dead-lettering. */
  originalRoutingKey: 'x-original-routing-key',
  deadLetteredFrom: 'x-dead-lettered-from',
  deadLetteredAt: 'x-dead-lettered-at',
  replayedAt: 'x-replayed-at',
} as const;
