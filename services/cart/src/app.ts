import {
  createHttpApp,
  createServiceClient,
  openDatabase,
  startMessaging,
  type App,
  type ConfigOf,
  type Logger,
} from '@scaleshop/platform';
import { createCart } from './cart.ts';
import type { cartConfig } from './config.ts';
import { orderHandlers } from './consumers.ts';
import { migrations } from './migrations.ts';
import { createProducts } from './products.ts';
import { registerRoutes } from './routes.ts';
import type { CartDatabase } from './schema.ts';

/** Wires the cart service: migrate, product client, saga consumer, routes. Returns the app unstarted. */
export async function createCartService(config: ConfigOf<typeof cartConfig>, logger: Logger): Promise<App> {
  const database = await openDatabase<CartDatabase>({ service: 'cart', config, logger, migrations });

  const productClient = createServiceClient({ service: 'product', baseUrl: config.PRODUCT_URL, timeoutMs: config.PRODUCT_TIMEOUT_MS, logger });
  const cart = createCart(database.db, createProducts(productClient));

  const messaging = startMessaging({ service: 'cart', config, logger, db: database.db });
  await messaging.consume('cart.orders', orderHandlers);

  // Neither the product service nor the broker is a readiness check: were the product service
  // down, every cart replica would leave the load balancer too, and callers would get no answer
  // instead of a clear 503; the cart's routes do not use the broker at all.
  const app = await createHttpApp({
    service: 'cart',
    logger,
    ...(config.METRICS_PORT === undefined ? {} : { metricsPort: config.METRICS_PORT }),
    readiness: { database: database.ping },
    optionalChecks: messaging.optionalChecks,
    openapi: { title: 'cart', description: 'Each user\'s shopping cart, priced from the catalog' },
    // Messaging first: the messages in flight finish while the database is still open.
    closeOnShutdown: [messaging, productClient, database],
  });
  registerRoutes(app, cart);
  return app;
}
