import { createHttpApp, faultKnobs, openDatabase, registerKnobRoutes, startMessaging, startRuntimeKnobs, type App, type ConfigOf, type Logger } from '@scaleshop/platform';
import type { emailConfig } from './config.ts';
import { createMailer } from './mailer.ts';
import { migrations } from './migrations.ts';
import { createNotifications } from './notifications.ts';
import { registerRoutes } from './routes.ts';
import type { EmailDatabase } from './schema.ts';

/** Wires the email service: migrate, SMTP transport, consumer, routes. Returns the app unstarted. */
export async function createEmailService(config: ConfigOf<typeof emailConfig>, logger: Logger): Promise<App> {
  const database = await openDatabase<EmailDatabase>({ service: 'email', config, logger, migrations });
  const mailer = createMailer(config.SMTP_URL);
  const knobs = startRuntimeKnobs({
    db: database.db,
    databaseUrl: config.DATABASE_URL,
    logger,
    defaults: { latency_ms: config.EMAIL_LATENCY_MS },
    ...(config.FAULT_KNOBS_FILE ? { specFile: { path: config.FAULT_KNOBS_FILE, specs: faultKnobs.email } } : {}),
  });
  await knobs.ready;
  const notifications = createNotifications({
    db: database.db,
    mailer,
    from: config.EMAIL_FROM,
    get latencyMs() {
      return knobs.current().latency_ms;
    },
  });

  // Neither the broker nor the SMTP server is a readiness check (unsent emails wait in the
  // queues until they are back); the consumer's subscription is, unless turned off (local mode):
  // email serves no traffic of the shop, only its consumer does the work.
  const messaging = startMessaging({ service: 'email', config, logger, db: database.db });
  try {
    await messaging.consume(
      'email.notifications',
      { 'payment.processed': notifications.record, 'inventory.rejected': notifications.record, 'payment.failed': notifications.record },
      { prepare: notifications.send, settled: notifications.settle },
    );
    const app = await createHttpApp({
      service: 'email',
      logger,
      ...(config.METRICS_PORT === undefined ? {} : { metricsPort: config.METRICS_PORT }),
      readiness: { database: database.ping, ...(config.READINESS_WAITS_FOR_CONSUMERS ? { consumers: messaging.consumersAttached } : {}) },
      optionalChecks: messaging.optionalChecks,
      // Messaging first: its consumers finish the emails in flight, which need SMTP and the database.
      closeOnShutdown: [messaging, mailer, knobs, database],
    });
    registerRoutes(app, notifications);
    registerKnobRoutes(app, knobs, faultKnobs.email);
    return app;
  } catch (error) {
    await messaging.close();
    await mailer.close();
    await knobs.close();
    await database.close();
    throw error;
  }
}
