import { createLogger, loadConfig, runService, startMain } from '@scaleshop/platform';
import { createEmailService } from './app.ts';
import { emailConfig } from './config.ts';

startMain('email', async () => {
  const config = loadConfig(emailConfig);
  const logger = createLogger({ service: 'email', level: config.LOG_LEVEL });
  const app = await createEmailService(config, logger);
  await runService({ app, host: config.HOST, port: config.PORT, reusePort: config.REUSE_PORT, logger });
});
