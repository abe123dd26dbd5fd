import { createLogger, loadConfig, runService, startMain } from '@scaleshop/platform';
import { createCartService } from './app.ts';
import { cartConfig } from './config.ts';

startMain('cart', async () => {
  const config = loadConfig(cartConfig);
  const logger = createLogger({ service: 'cart', level: config.LOG_LEVEL });
  const app = await createCartService(config, logger);
  await runService({ app, host: config.HOST, port: config.PORT, reusePort: config.REUSE_PORT, logger });
});
