import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleAll, IsolatedCircuitError, type CircuitBreakerPolicy } from 'cockatiel';
import { upstreamUnavailable } from './errors.ts';
import { recordBreakerState } from './metrics.ts';

/**
 * A circuit breaker on the calls to one dependency (cockatiel's): after `failures` calls in a
 * row that failed or timed out it opens, and every call fails at once with 503 and Retry-After
 * instead of waiting out its deadline against a dependency that is dead or hanging. After
 * `halfOpenAfterMs` it lets one call through as a probe: success closes it, failure opens it
 * again. Each change of state is a log line and the `circuit_breaker_state` gauge.
 */
export interface BreakerOptions {
  /** The dependency's name, in the metric, the log line and the 503's message. */
  dependency: string;
  /** Consecutive failures that open it (default 5). */
  failures?: number;
  /** How long it stays open before a probe (default 2 s). */
  halfOpenAfterMs?: number;
  /** Whether an answer counts as a failure (an error thrown always does). */
  isFailure?: (result: unknown) => boolean;
  /** A pino logger (a service's, or a fastify app's). */
  logger?: { warn(fields: object, message: string): void; info(fields: object, message: string): void };
}

export interface Breaker {
  execute<T>(work: () => Promise<T>): Promise<T>;
  readonly state: 'closed' | 'open' | 'half_open';
}

const stateNames = { [CircuitState.Closed]: 'closed', [CircuitState.Open]: 'open', [CircuitState.HalfOpen]: 'half_open', [CircuitState.Isolated]: 'open' } as const;

export function createBreaker(options: BreakerOptions): Breaker {
  const halfOpenAfterMs = options.halfOpenAfterMs ?? 2_000;
  const handled = options.isFailure ? handleAll.orWhenResult(options.isFailure) : handleAll;
  const policy: CircuitBreakerPolicy = circuitBreaker(handled, { halfOpenAfter: halfOpenAfterMs, breaker: new ConsecutiveBreaker(options.failures ?? 5) });
  recordBreakerState(options.dependency, 'closed');
  policy.onStateChange((state) => {
    const name = stateNames[state];
    recordBreakerState(options.dependency, name);
    const fields = { dependency: options.dependency, breaker_state: name };
    if (name === 'open') options.logger?.warn({ ...fields, reason: describe(policy.lastFailure) }, `circuit breaker to ${options.dependency} opened: calls fail fast for ${halfOpenAfterMs} ms`);
    else options.logger?.info(fields, `circuit breaker to ${options.dependency} ${name === 'closed' ? 'closed: calls go through again' : 'half-open: letting a probe through'}`);
  });
  const retryAfterSeconds = Math.max(1, Math.ceil(halfOpenAfterMs / 1000));
  return {
    get state() {
      return stateNames[policy.state];
    },
    async execute(work) {
      try {
        return await policy.execute(() => work());
      } catch (error) {
        if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
          throw upstreamUnavailable(`${options.dependency} is unavailable (circuit open after repeated failures)`, retryAfterSeconds);
        }
        throw error;
      }
    },
  };
}

function describe(failure: CircuitBreakerPolicy['lastFailure']): string | undefined {
  if (!failure) return undefined;
  if ('error' in failure) return (failure.error as Error | undefined)?.message ?? String(failure.error);
  const value = (failure as { value?: { status?: number } }).value;
  return value?.status === undefined ? 'a failed answer' : `answered ${value.status}`;
}
