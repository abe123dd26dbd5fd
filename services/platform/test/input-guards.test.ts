import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpApp, Type, type App } from '@scaleshop/platform';
import { rawRequest, sendRawRequest, testLogger } from '@scaleshop/platform/testing';
import { exceedsJsonNesting, originForm, requestTargetProblem } from '../src/http/input-guards.ts';

describe('request targets', () => {
  test('plain paths and any query data pass', () => {
    for (const target of ['/', '/api/products', '/api/products/1?x=1', '/api/products?category=../../etc&q=%2e%2e%2f', '/a/b.c/...d/%20e', '/api/orders?x=%25FF', '/api/x?q=a+b']) {
      assert.equal(requestTargetProblem(target), undefined, target);
    }
  });

  test('everything two parsers could read differently is refused', () => {
    const refused = [
      '/api/products/1\\..\\..\\metrics',
      '/api/products/1%5c..%5c..%5cmetrics',
      '/api/products/1%5C..',
      '/api/products/1/../../metrics',
      '/api/products/1/%2e%2e/%2E%2E/metrics',
      '/api/products/1/.%2e/metrics',
      '/api/products/./1',
      '/api/products/1/..',
      '/api/products/1%2f..%2fmetrics',
      '/api/products/1%2F..',
      '/api/products//1',
      '/api/products/%2f/1',
      '/api/products/%FF',
      '/api/products/%',
      '/api/products/%zz',
      '/api/products/1%00',
      '/api/products/1%23x',
      'http://x/api/orders',
      '*',
      '/api/products?category=%FF',
      '/api/products?category=%E2%82',
      '/api/products?x=%',
    ];
    for (const target of refused) assert.notEqual(requestTargetProblem(target), undefined, target);
  });

  test('the absolute-form becomes the origin-form before routing, and nothing else changes', () => {
    assert.equal(originForm('http://x/api/orders/x?y=1'), '/api/orders/x?y=1');
    assert.equal(originForm('HTTPS://user@host:8443/a'), '/a');
    assert.equal(originForm('http://x'), '/');
    assert.equal(originForm('http://x?y=1'), '/?y=1');
    assert.equal(originForm('/already/origin'), '/already/origin');
    assert.equal(originForm('*'), '*');
    assert.equal(originForm('http://x/api/products/1\\..\\metrics'), '/api/products/1\\..\\metrics');
  });

  test('JSON nesting is counted outside strings only', () => {
    assert.equal(exceedsJsonNesting('[[[1]]]', 3), false);
    assert.equal(exceedsJsonNesting('[[[[1]]]]', 3), true);
    assert.equal(exceedsJsonNesting('{"a":{"b":{"c":1}}}', 3), false);
    assert.equal(exceedsJsonNesting('{"a":"[[[[[[","b":"\\"[[[["}', 1), false);
    assert.equal(exceedsJsonNesting('[1],[2],[3],[4]', 1), false);
  });
});

describe('an HTTP app at its edge, over real connections', () => {
  let app: App;
  let port: number;

  before(async () => {
    app = await createHttpApp({ service: 'edge-test', logger: testLogger('edge') });
    app.get('/things/:id', { schema: { params: Type.Object({ id: Type.Integer() }) } }, async (request) => ({ id: request.params.id, query: request.query }));
    app.post('/things', { schema: { body: Type.Object({ name: Type.String() }) } }, async (request) => request.body);
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  after(() => app.close());

  const send = (method: string, target: string, headers: Record<string, string> = {}, body = '') => sendRawRequest(port, [rawRequest(method, target, headers, body)]);

  test('a backslash or dot-segment path never reaches /metrics or /health', async () => {
    for (const target of ['/things/1\\..\\..\\metrics', '/things/1/%2e%2e/%2e%2e/health/ready', '/things/1%2f..%2f..%2fmetrics', '/things/1/../../metrics']) {
      const response = await send('GET', target);
      assert.equal(response.status, 400, target);
      assert.equal(JSON.parse(response.body).error.code, 'BAD_REQUEST', target);
      assert.doesNotMatch(response.body, /# HELP|"checks"/, target);
    }
  });

  test('an absolute-form request is routed by its path', async () => {
    const response = await send('GET', 'http://elsewhere/things/7?a=1');
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { id: 7, query: { a: '1' } });
  });

  test('query data may hold any text, but not broken percent-encoding', async () => {
    const dots = await send('GET', '/things/1?path=../../etc/passwd');
    assert.equal(dots.status, 200);
    assert.equal(JSON.parse(dots.body).query.path, '../../etc/passwd');
    const broken = await send('GET', '/things/1?category=%FF');
    assert.equal(broken.status, 400);
    assert.equal(JSON.parse(broken.body).error.code, 'BAD_REQUEST');
    const brokenPath = await send('GET', '/things/%FF');
    assert.equal(brokenPath.status, 400);
    assert.equal(JSON.parse(brokenPath.body).error.code, 'BAD_REQUEST');
  });

  test("Node's own refusals come in the one error body", async () => {
    const malformed = await sendRawRequest(port, ['GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n']);
    assert.equal(malformed.status, 400);
    assert.deepEqual(JSON.parse(malformed.body), { error: { code: 'BAD_REQUEST', message: 'malformed HTTP request' } });
    const headersTooLarge = await send('GET', '/things/1', { 'x-large': 'a'.repeat(20_000) });
    assert.equal(headersTooLarge.status, 431);
    assert.equal(JSON.parse(headersTooLarge.body).error.code, 'HEADERS_TOO_LARGE');
    assert.equal(headersTooLarge.headers['x-content-type-options'], 'nosniff');
  });

  test('JSON nested past the limit is a 400, not a stack overflow', async () => {
    const deep = '['.repeat(5_000) + ']'.repeat(5_000);
    const response = await send('POST', '/things', { 'content-type': 'application/json' }, deep);
    assert.equal(response.status, 400);
    assert.equal(JSON.parse(response.body).error.code, 'VALIDATION_ERROR');
    const deepObject = `{"name":"x","extra":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`;
    assert.equal((await send('POST', '/things', { 'content-type': 'application/json' }, deepObject)).status, 400);
    const shallow = await send('POST', '/things', { 'content-type': 'application/json' }, '{"name":"[[[[[[[[[["}');
    assert.equal(shallow.status, 200);
  });

  test('a request id is taken only when short and plain', async () => {
    assert.equal((await send('GET', '/things/1', { 'x-request-id': 'trace-42.a:b_c' })).headers['x-request-id'], 'trace-42.a:b_c');
    for (const sent of ['a'.repeat(65), 'has space', '<script>', 'ünïcode']) {
      const echoed = (await send('GET', '/things/1', { 'x-request-id': sent })).headers['x-request-id'];
      assert.notEqual(echoed, sent);
      assert.match(echoed!, /^[0-9a-f-]{36}$/);
    }
  });

  test('every answer says nosniff: success, not found and errors', async () => {
    for (const target of ['/things/1', '/nothing', '/things/x', '/metrics']) {
      assert.equal((await send('GET', target)).headers['x-content-type-options'], 'nosniff', target);
    }
  });

  test('a body trickling in is cut off with 408 within 30 s', async () => {
    const head = 'POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{';
    const response = await sendRawRequest(port, [head, ...Array.from({ length: 40 }, () => ' ')], { chunkDelayMs: 1_000, timeoutMs: 40_000 });
    assert.equal(response.status, 408);
    assert.equal(JSON.parse(response.body).error.code, 'REQUEST_TIMEOUT');
    assert.ok(response.elapsedMs < 30_000, `cut after ${response.elapsedMs} ms`);
  });
});
