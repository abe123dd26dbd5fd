import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { currentTraceHeaders } from '../telemetry/spans.ts';
import type { EventData, EventEnvelope, EventType } from './contracts.ts';

/**
 * Writing events into the outbox, inside the caller's transaction: either the state change and
 * its events commit together, or neither does.
 */

/** The channel a commit that wrote events for the relays NOTIFYs. */
export const outboxChannel = 'outbox';

/** An event ready to be written to the outbox (`insertEvents`, `eventsStatement`). */
export interface OutboxEntry<T extends EventType = EventType> {
  envelope: EventEnvelope<EventData[T]>;
  /** The trace context stored with the row. */
  headers: Record<string, string>;
  /**
   * How long the row is leased to its writer, which publishes it right after its commit; null
   * when the relays publish it.
   */
  writerLeaseMs: number | null;
}

/**
 * An event as an outbox row. The trace context of the request or message being handled (W3C
 * traceparent, tracestate) is stored with the row, so that its publication continues that trace.
 *
 * `writerLeaseMs` writes the row already leased to its writer, which publishes it itself right
 * after its commit (`OutboxRelay.publishAfterCommit`): no relay takes it meanwhile, so it is not
 * published twice, and if the writer dies first, the lease runs out and a relay publishes it.
 *
 * A service writing its state change and its event in one statement puts `insertEvents` in a
 * CTE and selects `wakeUpRelaysFrom` that CTE; everyone else runs `eventsStatement`.
 */
export function outboxEntry<T extends EventType>(type: T, data: EventData[T], options: { headers?: Record<string, string>; writerLeaseMs?: number } = {}): OutboxEntry<T> {
  const envelope: EventEnvelope<EventData[T]> = { id: randomUUID(), type, occurred_at: new Date().toISOString(), data };
  return { envelope, headers: { ...currentTraceHeaders(), ...options.headers }, writerLeaseMs: options.writerLeaseMs ?? null };
}

/**
 * Inserts the entries, whatever their number (one statement text, so one prepared statement),
 * returning each row's lease; it can be a CTE of a larger statement.
 */
export function insertEvents(entries: readonly OutboxEntry[]): RawBuilder<{ claimed_until: Date | null }> {
  return sql`
    insert into outbox (id, type, envelope, headers, claimed_until)
    select id, type, envelope, headers, clock_timestamp() + make_interval(secs => held_for_s)
    from unnest(${entries.map((e) => e.envelope.id)}::uuid[], ${entries.map((e) => e.envelope.type)}::text[],
                ${entries.map((e) => JSON.stringify(e.envelope))}::jsonb[], ${entries.map((e) => JSON.stringify(e.headers))}::jsonb[],
                ${entries.map((e) => (e.writerLeaseMs === null ? null : e.writerLeaseMs / 1000))}::float8[]) as entry(id, type, envelope, headers, held_for_s)
    returning claimed_until`;
}

/**
 * Wakes the relays if the CTE `inserted` (an `insertEvents`) wrote a row they are to publish,
 * one not leased to its writer. NOTIFY inside a transaction is delivered at commit, so a relay
 * wakes exactly when the row becomes visible.
 */
export function wakeUpRelaysFrom(inserted: string): RawBuilder<unknown> {
  return sql`(select pg_notify(${sql.lit(outboxChannel)}, '') from ${sql.table(inserted)} where claimed_until is null limit 1)`;
}

/** Writes the entries in the caller's transaction in one statement, waking the relays at commit for the rows they are to publish. */
export function eventsStatement(entries: readonly OutboxEntry[]): RawBuilder<unknown> {
  return sql`with recorded as (${insertEvents(entries)}) select ${wakeUpRelaysFrom('recorded')}`;
}

/** Records an event in the caller's transaction, for the relay to publish after the commit. */
export async function enqueueEvent<T extends EventType>(
  trx: Kysely<any>, // eslint-disable-line @typescript-eslint/no-explicit-any -- any service database with the messaging tables
  type: T,
  data: EventData[T],
  headers: Record<string, string> = {},
): Promise<EventEnvelope<EventData[T]>> {
  const entry = outboxEntry(type, data, { headers });
  await eventsStatement([entry]).execute(trx);
  return entry.envelope;
}
