import {
  createHttpApp,
  listenForNotifications,
  openDatabase,
  startMessaging,
  type App,
  type ConfigOf,
  type Logger,
} from '@scaleshop/platform';
import { localCache, noCache, redisCache, type CatalogCache } from './cache.ts';
import { createCatalog } from './catalog.ts';
import type { productConfig } from './config.ts';
import { orderHandlers } from './consumers.ts';
import { migrations } from './migrations.ts';
import { registerRoutes } from './routes.ts';
import type { ProductDatabase } from './schema.ts';
import { seedCatalog } from './seed.ts';

/** Wires the product service: migrate, seed, cache, saga consumers, routes. Returns the app unstarted. */
export async function createProductService(config: ConfigOf<typeof productConfig>, logger: Logger): Promise<App> {
  const database = await openDatabase<ProductDatabase>({
    service: 'product',
    config,
    logger,
    migrations,
    ...(config.SEED_CATALOG ? { seed: (db) => seedCatalog(db, logger) } : {}),
  });

  const cache = catalogCache(config, logger);
  const catalog = createCatalog(database.db, cache);
  const changes = listenForNotifications({
    url: config.DATABASE_URL,
    channel: 'product_changed',
    logger,
    // The trigger sends the changed product's id.
    onNotification: (payload) => void catalog.invalidate(Number(payload)),
    // Changes made while disconnected were not heard: forget everything.
    onReconnect: () => void catalog.invalidate(),
  });
  await changes.ready;

  // Readiness stays the database's alone: the outbox holds events while the broker is away,
  // and HTTP reads have no need of it.
  const messaging = startMessaging({ service: 'product', config, logger, db: database.db });
  await messaging.consume('product.orders', orderHandlers);

  const app = await createHttpApp({
    service: 'product',
    logger,
    ...(config.METRICS_PORT === undefined ? {} : { metricsPort: config.METRICS_PORT }),
    readiness: { database: database.ping },
    optionalChecks: messaging.optionalChecks,
    openapi: { title: 'product', description: 'The catalog: categories, prices and stock' },
    // Messaging first: the messages in flight finish while the database is still open.
    closeOnShutdown: [messaging, changes, cache, database],
  });
  registerRoutes(app, catalog);
  return app;
}

function catalogCache(config: ConfigOf<typeof productConfig>, logger: Logger): CatalogCache {
  switch (config.PRODUCT_CACHE) {
    case 'local':
      return localCache({ ttlMs: config.PRODUCT_CACHE_TTL_MS });
    case 'redis':
      return redisCache({ url: config.REDIS_URL, logger });
    case 'off':
      return noCache();
  }
}
