import { createHttpApp, openDatabase, startMessaging, type App, type ConfigOf, type Logger } from '@scaleshop/platform';
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
  const provider = createProvider({
    latencyMs: config.PAYMENT_LATENCY_MS,
    declineOver: config.PAYMENT_DECLINE_OVER,
    failureRate: config.PAYMENT_FAILURE_RATE,
    ...(options.random ? { random: options.random } : {}),
  });
  const payments = createPayments(database.db, provider);

  // The broker is not a readiness check: without it the HTTP side still answers, and the
  // consumer and the outbox catch up by themselves once it is back.
  const messaging = startMessaging({ service: 'payment', config, logger, db: database.db });
  try {
    await messaging.consume('payment.inventory', { 'inventory.reserved': payments.recordCharge }, { prepare: payments.charge });
    const app = await createHttpApp({
      service: 'payment',
      logger,
      ...(config.METRICS_PORT === undefined ? {} : { metricsPort: config.METRICS_PORT }),
      readiness: { database: database.ping },
      optionalChecks: messaging.optionalChecks,
      // Messaging first: its consumers finish the messages in flight, which need the database.
      closeOnShutdown: [messaging, database],
    });
    registerRoutes(app, payments);
    return app;
  } catch (error) {
    await messaging.close();
    await database.close();
    throw error;
  }
}
