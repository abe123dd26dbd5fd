import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import pg from 'pg';
import { createDatabase, ensureDatabaseExists, type Database } from './database/index.ts';
import type { App } from './http-app.ts';
import { createLogger, type Logger } from './logger.ts';
import { connectTestBroker, type TestBroker } from './test-broker.ts';

/** The server tests create their databases on; each test file gets databases of its own. */
export const testPostgresUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Drops the database named in `url`, closing its connections; for tests and benchmarks, never services. */
export async function dropDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const url = new URL(testPostgresUrl);
  url.pathname = `/test_${label}_${randomBytes(5).toString('hex')}`;
  await ensureDatabaseExists(url.toString());
  return { url: url.toString(), drop: () => dropDatabase(url.toString()) };
}

/**
 * Cuts the databases named in `urls` off as a server restart would, and nobody else's: no one
 * may connect to them, and every open connection to them is terminated. Resolves to the
 * function that lets connections in again.
 */
export async function cutDatabasesOff(urls: readonly string[]): Promise<() => Promise<void>> {
  const names = urls.map((url) => decodeURIComponent(new URL(url).pathname.replace(/^\//, '')));
  const asAdmin = async (work: (client: pg.Client) => Promise<unknown>) => {
    const client = new pg.Client({ connectionString: testPostgresUrl });
    await client.connect();
    try {
      await work(client);
    } finally {
      await client.end();
    }
  };
  const allowConnections = (allow: boolean) => async (client: pg.Client) => {
    for (const name of names) await client.query(`alter database ${client.escapeIdentifier(name)} allow_connections ${allow}`);
  };
  await asAdmin(async (client) => {
    await allowConnections(false)(client);
    await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = any($1) and pid <> pg_backend_pid()', [names]);
  });
  return () => asAdmin(allowConnections(true));
}

export function testLogger(service = 'test'): Logger {
  return createLogger({ service, level: (process.env.TEST_LOG_LEVEL as 'silent' | undefined) ?? 'silent' });
}

/** The broker tests use; each test file gets a virtual host of its own. */
export const testRabbitMqUrl = process.env.TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export interface TestVhost {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createTestVhost(label: string): Promise<TestVhost> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const run = promisify(execFile);
  const name = `test_${label}_${randomBytes(5).toString('hex')}`;
  const user = decodeURIComponent(new URL(testRabbitMqUrl).username || 'guest');
  await run('rabbitmqctl', ['-q', 'add_vhost', name]);
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', name, user, '.*', '.*', '.*']);
  const url = new URL(testRabbitMqUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), name, drop: async () => void (await run('rabbitmqctl', ['-q', 'delete_vhost', name])) };
}
export * from './test-broker.ts';

export interface ServiceHarness<DB> {
  app: App;
  /** The service's database, for the test to look at what it wrote. */
  db: Database<DB>;
  broker: TestBroker;
  close(): Promise<void>;
}

/**
 * A saga service on a database and a broker virtual host of its own, consuming already.
 * `start` parses its config from the environment given (database, virtual host, short
 * retries, fast polling) plus its own settings; `observe` are the routing keys whose events
 * the test broker records, `consumes` the queue to wait for.
 */
export async function startServiceHarness<DB>(options: {
  label: string;
  start: (environment: Record<string, string>) => Promise<App>;
  observe: readonly string[];
  consumes: string;
}): Promise<ServiceHarness<DB>> {
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => {});
  };
  try {
    const database = await createTestDatabase(options.label);
    closers.push(() => database.drop());
    const vhost = await createTestVhost(options.label);
    closers.push(() => vhost.drop());
    const app = await options.start({
      DATABASE_URL: database.url,
      DATABASE_POOL_MAX: '3',
      RABBITMQ_URL: vhost.url,
      RETRY_DELAYS_MS: '50,100',
      OUTBOX_POLL_INTERVAL_MS: '50',
    });
    closers.push(() => app.close());
    const db = createDatabase<DB>({ url: database.url, poolMax: 1, logger: testLogger(options.label), applicationName: `${options.label}-test` });
    closers.push(() => db.close());
    const broker = await connectTestBroker(vhost.url, options.observe);
    closers.push(() => broker.close());
    await broker.waitForConsumer(options.consumes);
    return { app, db, broker, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** One span as an OTLP/HTTP JSON export carries it, with its service's resource attributes. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
  resource: Record<string, unknown>;
  serviceName: string;
  /** The instrumentation scope (library) that made the span. */
  scope: string;
}

export interface OtlpReceiver {
  /** The base endpoint: OTEL_EXPORTER_OTLP_ENDPOINT (exporters add /v1/traces). */
  url: string;
  spans(): ReceivedSpan[];
  /** Export requests received, whatever their encoding. */
  requests(): number;
  close(): Promise<void>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean; arrayValue?: { values?: OtlpValue[] } };
type OtlpKeyValue = { key: string; value?: OtlpValue };

function otlpValue(value: OtlpValue | undefined): unknown {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(otlpValue);
  return undefined;
}

const otlpAttributes = (list: OtlpKeyValue[] | undefined) => Object.fromEntries((list ?? []).map(({ key, value }) => [key, otlpValue(value)]));

/**
 * A stand-in OTLP/HTTP collector. JSON exports (OTEL_EXPORTER_OTLP_PROTOCOL=http/json) are
 * parsed and kept; other encodings are accepted and dropped.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const { createServer } = await import('node:http');
  const received: ReceivedSpan[] = [];
  let requests = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests++;
      const json = (request.headers['content-type'] ?? '').includes('json');
      if (json && request.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans?: Array<{ resource?: { attributes?: OtlpKeyValue[] }; scopeSpans?: Array<{ scope?: { name?: string }; spans?: Array<Record<string, unknown>> }> }>;
        };
        for (const resourceSpans of body.resourceSpans ?? []) {
          const resource = otlpAttributes(resourceSpans.resource?.attributes);
          for (const scope of resourceSpans.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) {
              received.push({
                traceId: String(span.traceId),
                spanId: String(span.spanId),
                parentSpanId: String(span.parentSpanId ?? ''),
                name: String(span.name),
                kind: Number(span.kind ?? 0),
                startTimeUnixNano: String(span.startTimeUnixNano),
                endTimeUnixNano: String(span.endTimeUnixNano),
                attributes: otlpAttributes(span.attributes as OtlpKeyValue[] | undefined),
                status: (span.status as ReceivedSpan['status'] | undefined) ?? {},
                resource,
                serviceName: String(resource['service.name']),
                scope: scope.scope?.name ?? '',
              });
            }
          }
        }
      }
      response.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      response.end(json ? '{}' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    spans: () => [...received],
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** From the first byte written to the connection's close. */
  elapsedMs: number;
}

/**
 * Writes an HTTP/1.1 request byte for byte and reads the answer until the server closes: no
 * client library normalises the target (fetch resolves `..` and turns `\` into `/`), so
 * tests can send what an attacker would. `chunks` after the first are written `chunkDelayMs` apart.
 */
export function sendRawRequest(port: number, chunks: readonly (string | Buffer)[], options: { chunkDelayMs?: number; timeoutMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let next = 0;
    let writer: NodeJS.Timeout | undefined;
    const writeNext = () => {
      if (next < chunks.length && !socket.destroyed) socket.write(chunks[next++]!);
      if (next < chunks.length) writer = setTimeout(writeNext, options.chunkDelayMs ?? 0);
    };
    const timeout = setTimeout(() => socket.destroy(new Error(`no answer within ${options.timeoutMs ?? 10_000} ms`)), options.timeoutMs ?? 10_000);
    socket.on('connect', writeNext);
    socket.on('data', (data) => received.push(data));
    socket.on('error', (error) => {
      if (received.length === 0) reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timeout);
      clearTimeout(writer);
      const text = Buffer.concat(received).toString('utf8');
      const headerEnd = text.indexOf('\r\n\r\n');
      if (headerEnd === -1) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine, ...headerLines] = text.slice(0, headerEnd).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const body = text.slice(headerEnd + 4);
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: headers['transfer-encoding'] === 'chunked' ? dechunk(body) : body, elapsedMs: Date.now() - started });
    });
  });
}

function dechunk(body: string): string {
  let result = '';
  let rest = body;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, lineEnd), 16);
    if (lineEnd === -1 || !(size > 0)) return result;
    result += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 4 + size);
  }
}

/** A request in the form `sendRawRequest` writes: `Connection: close`, so the answer ends with the connection. */
export function rawRequest(method: string, target: string, headers: Record<string, string> = {}, body = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  if (body !== '' || ['POST', 'PUT', 'PATCH'].includes(method)) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}
