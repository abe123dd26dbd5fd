import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { money } from '@scaleshop/platform';

export interface ChargeRequest {
  order_id: string;
  amount: string;
}

export type ChargeResult = { status: 'succeeded'; reference: string } | { status: 'declined'; reason: string };

export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<ChargeResult>;
}

/** Read at every charge (they may be getters over the run-time knobs). */
export interface ProviderOptions {
  latencyMs: number;
  /** Amounts above this are declined. */
  declineOver: string;
  /** Probability, 0 to 1, that a charge within the limit is declined anyway. */
  failureRate: number;
  /** Uniform in [0, 1); injectable so tests can decide the dice. */
  random?: () => number;
}

/**
 * Stands in for a card processor: answers after a delay, like a network call, and declines
 * what is over the limit and a chosen share of the rest. A real provider would be given
 * order_id as the idempotency key, so that a charge retried after our transaction failed
 * returns the first outcome instead of charging the card twice.
 */
export function createProvider(options: ProviderOptions): PaymentProvider {
  const random = options.random ?? Math.random;
  const limit = money.toCents(options.declineOver);
  return {
    async charge(request) {
      if (options.latencyMs > 0) await sleep(options.latencyMs);
      if (money.toCents(request.amount) > limit) {
        return { status: 'declined', reason: `amount exceeds the limit of ${money.normalize(options.declineOver)}` };
      }
      if (random() < options.failureRate) return { status: 'declined', reason: 'card declined by the issuer' };
      return { status: 'succeeded', reference: `sim_${randomUUID()}` };
    },
  };
}
