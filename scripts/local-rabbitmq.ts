/**
 * A RabbitMQ node of one's own, beside the machine's: started from the installed rabbitmq-server
 * with a node name, ports, data, logs, Erlang cookie and (empty) plugin list of its own, so that
 * stopping it, or its app, touches nobody else's broker. The chaos run uses it for `broker-stop`
 * (docs/chaos.md); it is thrown away afterwards, data and all.
 *
 * The variables are the ones rabbitmq-server(8) and rabbitmq-env.conf(5) document; an
 * environment variable wins over the machine's rabbitmq-env.conf, which is not read at all here
 * (RABBITMQ_CONF_ENV_FILE points into the node's own directory) so that its NODENAME and
 * listeners stay the machine node's.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { answers } from './local-postgres.ts';
import { freePort } from './local-shop.ts';

const run = promisify(execFile);

export interface LocalBroker {
  /** amqp://guest:guest@127.0.0.1:<port>, the node's default virtual host: it is new, so it is empty. */
  url: string;
  port: number;
  nodeName: string;
  /** The node's data, logs and cookie; removed by `stop()`. */
  directory: string;
  logFile: string;
  /**
   * Resolves once the node accepts AMQP connections; rejects (and stops it) if it exits first or
   * takes longer than the start's timeout. Its URL is known before: clients that retry, as the
   * services do, may be started meanwhile.
   */
  ready(): Promise<void>;
  /** `rabbitmqctl stop_app` on this node: the RabbitMQ application stops, every connection drops, the Erlang node stays up. */
  stopApp(): Promise<void>;
  /** `rabbitmqctl start_app`: the application starts again; resolves once it has. */
  startApp(): Promise<void>;
  /** Kills the node and removes its directory. */
  stop(): Promise<void>;
  /** The same without waiting: for an `exit` handler. */
  stopNow(): void;
}

/**
 * Debian and Ubuntu put the real scripts in /usr/lib/rabbitmq/bin; the ones in /usr/sbin switch to
 * the `rabbitmq` user and its home (the machine node's cookie and startup log), which is what a
 * node of one's own must not share. Elsewhere (Homebrew, the generic Unix package) the scripts on
 * the PATH are the real ones.
 */
function script(name: 'rabbitmq-server' | 'rabbitmqctl'): string {
  const debian = join('/usr/lib/rabbitmq/bin', name);
  return existsSync(debian) ? debian : name;
}

/**
 * Erlang's erl_call (erl_interface), where the Erlang package ships it. rabbitmqctl's stop_app
 * and start_app are one remote call each, `rabbit:stop()` and `rabbit:start()` (the CLI's
 * StopAppCommand and StartAppCommand); erl_call makes that call from a small C program, where
 * rabbitmqctl first boots an Erlang VM and the CLI: 0.25 and 2.4 s against 6.5 and 6.8 s on this
 * busy machine, most of a short broker stop.
 */
const erlCall = ['/usr/lib/erlang/bin/erl_call', '/usr/local/lib/erlang/bin/erl_call'].find((path) => existsSync(path));

/** Starts the node and resolves without waiting for it to boot (see `ready`). */
export async function startLocalBroker(options: { timeoutMs?: number } = {}): Promise<LocalBroker> {
  const directory = mkdtempSync(join(tmpdir(), 'scaleshop-rabbitmq-'));
  const remove = () => rmSync(directory, { recursive: true, force: true });
  try {
    const [port, distPort] = [await freePort(), await freePort()];
    const nodeName = `chaos-${randomBytes(4).toString('hex')}@localhost`;
    const home = join(directory, 'home');
    mkdirSync(home);
    // The cookie is written before the node starts, so that rabbitmqctl never races the node to create it.
    writeFileSync(join(home, '.erlang.cookie'), randomBytes(16).toString('hex').toUpperCase(), { mode: 0o400 });
    writeFileSync(join(directory, 'enabled_plugins'), '[].\n');
    writeFileSync(join(directory, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${port}\n`);
    const logFile = join(directory, 'server.log');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home,
      RABBITMQ_NODENAME: nodeName,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_CONFIG_FILE: join(directory, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(directory, 'advanced.config'),
      RABBITMQ_CONF_ENV_FILE: join(directory, 'rabbitmq-env.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(directory, 'enabled_plugins'),
      RABBITMQ_MNESIA_BASE: join(directory, 'mnesia'),
      RABBITMQ_LOG_BASE: join(directory, 'log'),
      // Distribution on the loopback only, as for the machine's node.
      ERL_EPMD_ADDRESS: '127.0.0.1',
      ERL_FLAGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
    const output = openSync(logFile, 'a');
    // A process group of its own, so that the whole node (the script, erl, beam) is ended at once.
    const node = spawn(script('rabbitmq-server'), [], { cwd: directory, env, detached: true, stdio: ['ignore', output, output] });
    closeSync(output);
    let exited: string | undefined;
    node.once('exit', (code, signal) => (exited = `exited (${signal ?? code})`));
    node.once('error', (error) => (exited = `could not start: ${error.message}`));
    const stopNow = () => {
      if (node.pid !== undefined && exited === undefined) try { process.kill(-node.pid, 'SIGKILL'); } catch { /* gone already */ }
      remove();
    };
    const application = async (verb: 'stop' | 'start') => {
      if (!erlCall) {
        await run(script('rabbitmqctl'), ['-q', '-n', nodeName, `${verb}_app`], { env, timeout: 60_000 });
        return;
      }
      // The cookie comes from $HOME/.erlang.cookie, as for rabbitmqctl: not on a command line others can read.
      const { stdout } = await run(erlCall, ['-sname', nodeName, '-a', `rabbit ${verb}`], { env, timeout: 60_000 });
      if (stdout.trim() !== 'ok') throw new Error(`rabbit:${verb}() on ${nodeName} answered ${stdout.trim()}`);
    };
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    let booted: Promise<void> | undefined;
    // The AMQP listener opens last in the node's boot: once it accepts, clients can connect.
    const boot = async () => {
      while (!(await answers('127.0.0.1', port))) {
        if (exited !== undefined || Date.now() > deadline) {
          const tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
          stopNow();
          throw new Error(`the RabbitMQ node ${nodeName} ${exited ?? `did not listen on ${port} within ${(options.timeoutMs ?? 120_000) / 1000} s`}; its output:\n${tail}`);
        }
        await sleep(250);
      }
    };
    return {
      url: `amqp://guest:guest@127.0.0.1:${port}`,
      port,
      nodeName,
      directory,
      logFile,
      ready: () => (booted ??= boot()),
      stopApp: () => application('stop'),
      startApp: () => application('start'),
      async stop() {
        if (node.pid !== undefined && exited === undefined) {
          const gone = new Promise((resolve) => node.once('exit', resolve));
          try {
            process.kill(-node.pid, 'SIGKILL');
            await gone;
          } catch {
            // Gone already.
          }
        }
        remove();
      },
      stopNow,
    };
  } catch (error) {
    remove();
    throw error;
  }
}
