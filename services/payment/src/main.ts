import { createLogger, loadConfig, runService, startMain } from '@scaleshop/platform';
import { createPaymentService } from './app.ts';
import { paymentConfig } from './config.ts';

startMain('payment', async () => {
  const config = loadConfig(paymentConfig);
  const logger = createLogger({ service: 'payment', level: config.LOG_LEVEL });
  const app = await createPaymentService(config, logger);
  await runService({ app, host: config.HOST, port: config.PORT, reusePort: config.REUSE_PORT, logger });
});
