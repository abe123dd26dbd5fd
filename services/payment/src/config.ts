import { ConfigError, env, money } from '@scaleshop/platform';

/**
 * An exact decimal amount such as "10000.00". The platform's own settings report their
 * problems through a class it does not export, so a bad value here fails on its own
 * instead of joining the list of every other bad variable.
 */
function amount(fallback: string): env.Setting<string> {
  const text = env.string(fallback);
  return {
    parse(raw, name) {
      const value = text.parse(raw, name).trim();
      if (!money.isMoney(value)) throw new ConfigError([`${name} must be an amount like "10000.00", got "${raw}"`]);
      return money.normalize(value);
    },
  };
}

export const paymentConfig = {
  ...env.serviceSettings(8002),
  ...env.databaseSettings(),
  ...env.messagingSettings(),
  /** How long the simulated provider takes to answer a charge. */
  PAYMENT_LATENCY_MS: env.integer({ default: 1_000, min: 0 }),
  /** Charges above this amount are declined, so the failure path can be tried on purpose. */
  PAYMENT_DECLINE_OVER: amount('10000.00'),
  /** Share of the remaining charges declined at random, 0 to 1. */
  PAYMENT_FAILURE_RATE: env.number({ default: 0, min: 0, max: 1 }),
};
