import {
  createDatabase,
  createHttpApp,
  listenForNotifications,
  migrateToLatest,
  type App,
  type ConfigOf,
  type Logger,
} from '@scaleshop/platform';
import { createCatalog } from './catalog.ts';
import type { productConfig } from './config.ts';
import { migrations } from './migrations.ts';
import { registerRoutes } from './routes.ts';
import type { ProductDatabase } from './schema.ts';
import { seedCatalog } from './seed.ts';

/** Wires the product service: migrate, seed, cache, routes. Returns the app unstarted. */
export async function createProductService(config: ConfigOf<typeof productConfig>, logger: Logger): Promise<App> {
  const database = createDatabase<ProductDatabase>({ url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, logger, applicationName: 'product' });
  try {
    await migrateToLatest(database.db, migrations, logger);
    if (config.SEED_CATALOG) await seedCatalog(database.db, logger);
  } catch (error) {
    await database.close();
    throw error;
  }

  const catalog = createCatalog(database.db, { cacheTtlMs: config.PRODUCT_CACHE_TTL_MS });
  const changes = listenForNotifications({
    url: config.DATABASE_URL,
    channel: 'product_changed',
    logger,
    onNotification: catalog.invalidate,
    onReconnect: catalog.invalidate,
  });
  await changes.ready;

  const app = await createHttpApp({
    service: 'product',
    logger,
    readiness: { database: database.ping },
    openapi: { title: 'product', description: 'The catalog: categories, prices and stock' },
  });
  registerRoutes(app, catalog);
  app.addHook('onClose', async () => {
    await changes.close();
    await database.close();
  });
  return app;
}
