import { createLogger, loadConfig, runService, startMain } from '@scaleshop/platform';
import { createUserService } from './app.ts';
import { userConfig } from './config.ts';

startMain('user', async () => {
  const config = loadConfig(userConfig);
  const logger = createLogger({ service: 'user', level: config.LOG_LEVEL });
  const app = await createUserService(config, logger);
  await runService({ app, host: config.HOST, port: config.PORT, reusePort: config.REUSE_PORT, logger });
});
