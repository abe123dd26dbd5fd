import { createLogger, loadConfig, runService, startMain } from '@scaleshop/platform';
import { createOrderService } from './app.ts';
import { orderConfig } from './config.ts';

startMain('order', async () => {
  const config = loadConfig(orderConfig);
  const logger = createLogger({ service: 'order', level: config.LOG_LEVEL });
  const app = await createOrderService(config, logger);
  await runService({ app, host: config.HOST, port: config.PORT, reusePort: config.REUSE_PORT, logger });
});
