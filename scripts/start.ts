/**
 * `npm start`: the whole shop on this machine. Builds the storefront when its build is missing or stale, finds a Postgres or starts
 * the embedded one, creates the databases when missing, migrates and seeds them (services do that themselves at start), starts
 * without a broker when none answers (saying so), and stops everything on Ctrl-C.
 *   npm start -- --scale product=2,payment=3   that many processes of those services (default 1)
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { brokerAnswers, brokerMissingNotice, redactUrl } from '@scaleshop/platform';
import { askReplicaControl, parseReplicaCounts, UsageError } from './replicas.ts';
import { controlSocketPath, defaultPostgresUrl, defaultRabbitMqUrl, localTokenKeys, mailCatcherPorts, repositoryRoot, serviceNames, startShop, type Shop } from './local-shop.ts';
import { answers, choosePostgres, describePostgres, type EmbeddedPostgres } from './local-postgres.ts';
import { ensureStorefrontBuild } from '../services/storefront/src/build.ts';

function usage(message: string): never {
  process.stderr.write(`npm start: ${message}\nusage: npm start [-- --scale <service>=<replicas>[,...]]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const specs: string[] = [];
for (let index = 0; index < args.length; index++) {
  if (args[index] === '--scale' && args[index + 1] !== undefined) specs.push(args[++index]!);
  else if (args[index]!.startsWith('--scale=')) specs.push(args[index]!.slice('--scale='.length));
  else usage(`unknown argument ${args[index]}`);
}
let replicas: Record<string, number>;
try {
  replicas = parseReplicaCounts(specs, serviceNames);
} catch (error) {
  if (error instanceof UsageError) usage(error.message);
  throw error;
}

const controlSocket = controlSocketPath(repositoryRoot);
// The services share their ports with their own replicas (SO_REUSEPORT), so a second shop would not fail to bind: it is refused here.
const alreadyRunning = await askReplicaControl(controlSocket, 'GET').then(
  () => true,
  () => false,
);
if (alreadyRunning) {
  process.stderr.write('scaleshop is already running on this machine (npm run scale shows it); stop it first with Ctrl-C in its terminal.\n');
  process.exit(1);
}

let shop: Shop | undefined;
let embedded: EmbeddedPostgres | undefined;
let starting: Promise<unknown> = Promise.resolve();
let stopping = false;
/** Services first, then the Postgres they use. */
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  // After a hangup the terminal is gone and every write fails: that must not end the launcher before it has stopped what it started.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  process.stdout.write(`\n${signal}: stopping every service…\n`);
  await starting.catch(() => {});
  await shop?.stop();
  if (embedded) {
    process.stdout.write('stopping the embedded Postgres…\n');
    await embedded.stop().catch((error: unknown) => process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`));
  }
  process.stdout.write('stopped.\n');
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
// The terminal closed: stop as for Ctrl-C, rather than leave the services and the embedded Postgres running.
process.on('SIGHUP', () => void stop('SIGHUP'));

const fail = async (error: unknown): Promise<never> => {
  process.stderr.write(`\nscaleshop could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  if (embedded) await embedded.stop().catch(() => {});
  process.exit(1);
};

process.stdout.write('checking the storefront build…\n');
if (await ensureStorefrontBuild()) process.stdout.write('built the storefront\n');

process.stdout.write('looking for Postgres…\n');
// Known as soon as it runs, so that a Ctrl-C from now on stops it too.
const choosing = choosePostgres({ configuredUrl: process.env.POSTGRES_URL, defaultUrl: defaultPostgresUrl, directory: join(repositoryRoot, '.local', 'postgres') }).then((choice) => {
  if (choice.kind === 'embedded') embedded = choice.server;
  return choice;
});
starting = choosing;
const postgres = await choosing.catch(fail);
const postgresLine = describePostgres(postgres, redactUrl);
process.stdout.write(`postgres: ${postgresLine}\n`);

const rabbitMqUrl = process.env.RABBITMQ_URL ?? defaultRabbitMqUrl;
const brokerThere = await brokerAnswers(rabbitMqUrl);
// A server already on the catcher's SMTP port (compose.yaml's Mailpit, say) is used rather than the catcher failing to bind it.
const smtpServerFound = !process.env.SMTP_URL && (await answers('127.0.0.1', mailCatcherPorts.smtp));
// Ctrl-C came while Postgres was starting: stop() takes it from here.
if (stopping) await new Promise(() => {});

const launching = startShop({
  postgresUrl: postgres.url,
  rabbitMqUrl,
  ...(smtpServerFound ? { smtpUrl: `smtp://127.0.0.1:${mailCatcherPorts.smtp}` } : {}),
  tokenKeys: localTokenKeys(),
  restartOnCrash: true,
  output: process.env.LOG_FORMAT === 'json' ? 'json' : 'pretty',
  replicas,
  controlSocket,
});
starting = launching;
shop = await launching.catch(fail);

const gateway = shop.gatewayUrl.replace('127.0.0.1', 'localhost');
process.stdout.write(`
scaleshop is running
  shop       ${gateway}            (the storefront, in a browser)
  API        ${gateway}/api       (e.g. curl ${gateway}/api/products)
  API docs   ${gateway}/docs
  health     ${gateway}/health
  services   ${Object.values(shop.services)
    .filter((service) => service.name !== 'gateway')
    .map((service) => `${service.name} :${service.port}`)
    .join(', ')}   (each replica's /metrics: npm run scale)
  metrics    ${shop.gatewayMetricsUrl.replace('127.0.0.1', 'localhost')}   (the gateway's, off its public port)
  mail       ${shop.mailCatcher ? `${shop.mailCatcher.url.replace('127.0.0.1', 'localhost')}   (caught by the local SMTP catcher on :${shop.mailCatcher.smtpPort})` : `sent to ${shop.smtpUrl}${smtpServerFound ? `   (the server answering there, such as compose.yaml's Mailpit: http://localhost:${mailCatcherPorts.http})` : ''}`}
  postgres   ${postgresLine}
  broker     ${redactUrl(rabbitMqUrl)}   (${brokerThere ? 'connected' : 'NOT REACHABLE: see below'})
  replicas   ${Object.entries(shop.replicaState())
    .filter(([, state]) => state.replicas !== 1)
    .map(([service, state]) => `${service} ×${state.replicas}`)
    .join(', ') || 'one of each'}   (npm run scale -- <service>=<n> changes them; npm run scale lists them)
  dead letters  npm run dlq
  log in as  paintest@example.com / password123  or  admin@example.com / admin123
Press Ctrl-C to stop.

`);

if (!brokerThere) {
  const rule = '─'.repeat(78);
  process.stdout.write(`${rule}\nNothing answers at ${redactUrl(rabbitMqUrl)}.\n${brokerMissingNotice}\n${rule}\n\n`);
  // Say so when one appears: the services reconnect by themselves, and the held orders go on.
  while (!stopping && !(await brokerAnswers(rabbitMqUrl))) await sleep(3_000);
  if (!stopping) process.stdout.write(`\nThe message broker answers now at ${redactUrl(rabbitMqUrl)}: the services connect to it, and pending orders go on.\n\n`);
}
