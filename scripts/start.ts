/**
 * `npm start`: the whole shop on this machine. Creates the databases when missing,
 * migrates and seeds them (services do that themselves at start), and stops everything on Ctrl-C.
 */
import { localTokenKeys, startShop } from './local-shop.ts';

const shop = await startShop({
  tokenKeys: localTokenKeys(),
  restartOnCrash: true,
  output: process.env.LOG_FORMAT === 'json' ? 'json' : 'pretty',
}).catch((error: unknown) => {
  process.stderr.write(`\nscaleshop could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

const gateway = shop.gatewayUrl.replace('127.0.0.1', 'localhost');
process.stdout.write(`
scaleshop is running
  API        ${gateway}/api       (e.g. curl ${gateway}/api/products)
  API docs   ${gateway}/docs
  health     ${gateway}/health
  services   ${Object.values(shop.services)
    .filter((service) => service.name !== 'gateway')
    .map((service) => `${service.name} :${service.port}`)
    .join(', ')}   (each serves its own /metrics)
  metrics    ${shop.gatewayMetricsUrl.replace('127.0.0.1', 'localhost')}   (the gateway's, off its public port)
  mail       ${shop.mailCatcher ? `${shop.mailCatcher.url.replace('127.0.0.1', 'localhost')}   (caught by the local SMTP catcher on :${shop.mailCatcher.smtpPort})` : `sent to ${shop.smtpUrl}`}
  dead letters  npm run dlq
  log in as  paintest@example.com / password123  or  admin@example.com / admin123
Press Ctrl-C to stop.

`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping every service…\n`);
  await shop.stop();
  process.stdout.write('stopped.\n');
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
