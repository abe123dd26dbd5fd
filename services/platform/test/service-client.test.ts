import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServiceClient, HttpError } from '@scaleshop/platform';

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

test('reports an unreachable service with 503 naming it', async () => {
  const client = createServiceClient({ service: 'nowhere', baseUrl: 'http://127.0.0.1:1', retries: 1, retryBaseDelayMs: 1 });
  await assert.rejects(client.request({ path: '/' }), (error: unknown) => error instanceof HttpError && error.statusCode === 503 && /nowhere/.test(error.message));
  await client.close();
});
