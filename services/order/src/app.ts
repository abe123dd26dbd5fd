import {
  createHttpApp,
  createServiceClient,
  listenForNotifications,
  openDatabase,
  startMessaging,
  type App,
  type ConfigOf,
  type Logger,
} from '@scaleshop/platform';
import { createCartReader } from './cart.ts';
import type { orderConfig } from './config.ts';
import { migrations } from './migrations.ts';
import { createOrders } from './orders.ts';
import { orderStatusChannel } from './repository.ts';
import { registerRoutes } from './routes.ts';
import { createSagaHandlers } from './saga.ts';
import type { OrderDatabase } from './schema.ts';
import { createStatusWaiters } from './status-waiters.ts';

/** Wires the order service: migrate, messaging and the saga consumer, cart client, status listener, routes. Returns the app unstarted. */
export async function createOrderService(config: ConfigOf<typeof orderConfig>, logger: Logger): Promise<App> {
  const database = await openDatabase<OrderDatabase>({ service: 'order', config, logger, migrations });

  const messaging = startMessaging({ service: 'order', config, logger, db: database.db });
  await messaging.consume('order.saga', createSagaHandlers());

  const cartClient = createServiceClient({ service: 'cart', baseUrl: config.CART_URL, timeoutMs: config.CART_TIMEOUT_MS, logger });

  const waiters = createStatusWaiters();
  const statusListener = listenForNotifications({
    url: config.DATABASE_URL,
    channel: orderStatusChannel,
    logger,
    onNotification: waiters.wake,
    onReconnect: waiters.wakeAll,
  });
  await statusListener.ready;

  const orders = createOrders(database.db, createCartReader(cartClient), messaging.relay, waiters, { syncTimeoutMs: config.SYNC_CHECKOUT_TIMEOUT_MS });

  // Neither RabbitMQ nor the cart service is a readiness check: with the broker down, checkouts
  // still answer 202 and the outbox holds their events; with the cart down, callers get a clear 503.
  const app = await createHttpApp({
    service: 'order',
    logger,
    ...(config.METRICS_PORT === undefined ? {} : { metricsPort: config.METRICS_PORT }),
    readiness: { database: database.ping },
    optionalChecks: messaging.optionalChecks,
    openapi: { title: 'order', description: 'Checkout and orders: the checkout saga\'s coordinator' },
    // Messaging first, so messages in flight finish while the database is still open.
    closeOnShutdown: [messaging, statusListener, cartClient, database],
  });
  // A sync checkout may wait for half a minute; on shutdown it answers 202 with what it has instead.
  app.addHook('preClose', async () => {
    waiters.close();
  });
  registerRoutes(app, orders);
  return app;
}
