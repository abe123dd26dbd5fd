import { createHttpApp, faultKnobs, openDatabase, registerKnobRoutes, startMessaging, startRuntimeKnobs, type App, type ConfigOf, type Logger } from '@scaleshop/platform';
import type { paymentConfig } from './config.ts';
import { migrations } from './migrations.ts';
import { createPayments } from './payments.ts';
import { createProvider } from './provider.ts';
import { registerRoutes } from './routes.ts';
import type { PaymentDatabase } from './schema.ts';

export interface PaymentServiceOptions {
  /** The provider's dice; tests pass their own. */
  random?: () => number;
}

/** Wires the payment service: migrate, provider, consumer, routes. Returns the app unstarted. */
export async function createPaymentService(config: ConfigOf<typeof paymentConfig>, logger: Logger, options: PaymentServiceOptions = {}): Promise<App> {
  const database = await openDatabase<PaymentDatabase>({ service: 'payment', config, logger, migrations });
  const knobs = startRuntimeKnobs({
    db: database.db,
    databaseUrl: config.DATABASE_URL,
    logger,
    defaults: { failure_rate: config.PAYMENT_FAILURE_RATE, latency_ms: config.PAYMENT_LATENCY_MS },
    ...(config.FAULT_KNOBS_FILE ? { specFile: { path: config.FAULT_KNOBS_FILE, specs: faultKnobs.payment } } : {}),
  });
  await knobs.ready;
  // The provider reads these at every charge: a knob turned at run time applies to the next one.
  const provider = createProvider({
    get latencyMs() {
      return knobs.current().latency_ms;
    },
    declineOver: config.PAYMENT_DECLINE_OVER,
    get failureRate() {
      return knobs.current().failure_rate;
    },
    ...(options.random ? { random: options.random } : {}),
  });
  const payments = createPayments(database.db, provider);

  // The broker itself is not a readiness check; the consumer's subscription is, unless turned
  // off (local mode): payment serves no traffic of the shop, only its consumer does the work.
  const messaging = startMessaging({ service: 'payment', config, logger, db: database.db });
  try {
    await messaging.consume('payment.inventory', { 'inventory.reserved': payments.recordCharge }, { prepare: payments.charge });
    const app = await createHttpApp({
      service: 'payment',
      logger,
      ...(config.METRICS_PORT === undefined ? {} : { metricsPort: config.METRICS_PORT }),
      readiness: { database: database.ping, ...(config.READINESS_WAITS_FOR_CONSUMERS ? { consumers: messaging.consumersAttached } : {}) },
      optionalChecks: messaging.optionalChecks,
      // Messaging first: its consumers finish the messages in flight, which need the database.
      closeOnShutdown: [messaging, knobs, database],
    });
    registerRoutes(app, payments);
    registerKnobRoutes(app, knobs, faultKnobs.payment);
    return app;
  } catch (error) {
    await messaging.close();
    await knobs.close();
    await database.close();
    throw error;
  }
}
