import { createLogger, loadConfig, runService, startMain } from '@scaleshop/platform';
import { createProductService } from './app.ts';
import { productConfig } from './config.ts';

startMain('product', async () => {
  const config = loadConfig(productConfig);
  const logger = createLogger({ service: 'product', level: config.LOG_LEVEL });
  const app = await createProductService(config, logger);
  await runService({ app, host: config.HOST, port: config.PORT, reusePort: config.REUSE_PORT, logger });
});
