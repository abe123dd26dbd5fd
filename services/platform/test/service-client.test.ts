import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, createServiceClient, HttpError, metricsRegistry } from '@scaleshop/platform';

let server: Server;
let baseUrl: string;
const calls = new Map<string, number>();

before(async () => {
  server = createServer((request, response) => {
    const key = `${request.method} ${request.url}`;
    const count = (calls.get(key) ?? 0) + 1;
    calls.set(key, count);
    if (request.url === '/flaky' && count < 3) return response.writeHead(503).end('{}');
    if (request.url === '/slow') return setTimeout(() => response.end('{}'), 500);
    if (request.url === '/missing') return response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"x"}}');
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: request.headers['x-request-id'] ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  baseUrl = `http://127.0.0.1:${address.port}`;
});
after(() => server.close());

test('retries an idempotent call on 503 and succeeds', async () => {
  const client = createServiceClient({ service: 'flaky', baseUrl, retries: 2, retryBaseDelayMs: 1 });
  const response = await client.request({ path: '/flaky' });
  assert.equal(response.status, 200);
  assert.equal(calls.get('GET /flaky'), 3);
  await client.close();
});

test('never retries a POST', async () => {
  const client = createServiceClient({ service: 'flaky', baseUrl, retries: 5, retryBaseDelayMs: 1 });
  calls.delete('POST /flaky');
  const response = await client.request({ method: 'POST', path: '/flaky', body: {} });
  assert.equal(response.status, 503);
  assert.equal(calls.get('POST /flaky'), 1);
  await client.close();
});

test('passes 4xx answers back to the caller and forwards headers', async () => {
  const client = createServiceClient({ service: 'x', baseUrl });
  assert.equal((await client.request({ path: '/missing' })).status, 404);
  assert.deepEqual((await client.request<{ id: string }>({ path: '/ok', headers: { 'x-request-id': 'abc' } })).body, { id: 'abc' });
  await client.close();
});

test('gives up after its deadline with 504', async () => {
  const client = createServiceClient({ service: 'slow', baseUrl, timeoutMs: 100, retries: 1, retryBaseDelayMs: 1 });
  await assert.rejects(client.request({ path: '/slow' }), (error: unknown) => error instanceof HttpError && error.statusCode === 504 && /slow/.test(error.message));
  await client.close();
});

test('reports an unreachable service with 503 naming it, and when to try again', async () => {
  const client = createServiceClient({ service: 'nowhere', baseUrl: 'http://127.0.0.1:1', retries: 1, retryBaseDelayMs: 1 });
  await assert.rejects(client.request({ path: '/' }), (error: unknown) => error instanceof HttpError && error.statusCode === 503 && /nowhere/.test(error.message) && error.headers['retry-after'] === '1');
  await client.close();
});

test('a hanging dependency: the breaker opens after consecutive timeouts, callers get a fast 503, and a probe closes it again', async () => {
  let hanging = true;
  const held: Array<() => void> = [];
  const dependency = createServer((request, response) => {
    if (hanging) return void held.push(() => response.destroy());
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => dependency.listen(0, '127.0.0.1', resolve));
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service: 'caller', level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  const client = createServiceClient({
    service: 'hanging',
    baseUrl: `http://127.0.0.1:${(dependency.address() as AddressInfo).port}`,
    timeoutMs: 100,
    retries: 0,
    breaker: { failures: 3, halfOpenAfterMs: 400 },
    logger,
  });
  const state = async () => (await metricsRegistry.getSingleMetricAsString('circuit_breaker_state')).split('\n').find((line) => line.includes('dependency="hanging"'))?.split(' ').at(-1);
  try {
    assert.equal(await state(), '0');
    for (let call = 0; call < 3; call++) {
      await assert.rejects(client.request({ path: '/' }), (error: unknown) => error instanceof HttpError && error.statusCode === 504);
    }
    assert.equal(await state(), '1');
    const opened = lines.find((line) => line.breaker_state === 'open');
    assert.ok(opened, 'no log line for the breaker opening');
    assert.equal(opened.dependency, 'hanging');
    assert.equal(opened.level, 'warn');

    // Open: the call fails at once, well under its 100 ms deadline, and says when to come back.
    const started = performance.now();
    await assert.rejects(client.request({ path: '/' }), (error: unknown) => error instanceof HttpError && error.statusCode === 503 && error.code === 'UPSTREAM_UNAVAILABLE' && error.headers['retry-after'] === '1');
    assert.ok(performance.now() - started < 50, `an open breaker took ${performance.now() - started} ms`);
    assert.equal(held.length, 3, 'the open breaker still sent the call');

    hanging = false;
    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.equal((await client.request<{ ok: boolean }>({ path: '/' })).body.ok, true);
    assert.equal(await state(), '0');
    assert.deepEqual(
      lines.map((line) => line.breaker_state),
      ['open', 'half_open', 'closed'],
    );
  } finally {
    for (const release of held) release();
    await client.close();
    await new Promise<void>((resolve) => dependency.close(() => resolve()));
  }
});

test('a dependency answering 503 opens the breaker too; 4xx answers do not count', async () => {
  const client = createServiceClient({ service: 'flaky-breaker', baseUrl, retries: 0, breaker: { failures: 2, halfOpenAfterMs: 60_000 } });
  for (let call = 0; call < 5; call++) assert.equal((await client.request({ path: '/missing' })).status, 404);
  calls.delete('GET /flaky');
  assert.equal((await client.request({ path: '/flaky' })).status, 503);
  assert.equal((await client.request({ path: '/flaky' })).status, 503);
  await assert.rejects(client.request({ path: '/flaky' }), (error: unknown) => error instanceof HttpError && error.statusCode === 503 && /circuit open/.test(error.message));
  assert.equal(calls.get('GET /flaky'), 2);
  await client.close();
});
