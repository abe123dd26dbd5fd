import { createLogger, loadConfig, runService, startMain } from '@scaleshop/platform';
import { createStorefront } from './app.ts';
import { storefrontConfig } from './config.ts';

startMain('storefront', async () => {
  const config = loadConfig(storefrontConfig);
  const logger = createLogger({ service: 'storefront', level: config.LOG_LEVEL });
  const app = await createStorefront(config, logger);
  await runService({ app, host: config.HOST, port: config.PORT, reusePort: config.REUSE_PORT, logger });
});
