import { createLogger, loadConfig, runService, startMain } from '@scaleshop/platform';
import { createGateway } from './app.ts';
import { gatewayConfig } from './config.ts';

startMain('gateway', async () => {
  const config = loadConfig(gatewayConfig);
  const logger = createLogger({ service: 'gateway', level: config.LOG_LEVEL });
  const app = await createGateway(config, logger);
  await runService({ app, host: config.HOST, port: config.PORT, reusePort: config.REUSE_PORT, logger });
});
