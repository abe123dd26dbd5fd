/**
 * The Node load driver without a shop: its open loop measures from when a request was due (a
 * server's pause shows in the latency of every request due during it), never sends early,
 * evaluates k6's thresholds, and its command line exits 0, 99 or 2 as k6 does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Metrics, Trend } from '../load/metrics.ts';
import { NodeHttp } from '../load/node-runtime.ts';
import { OpenLoop } from '../load/open-loop.ts';
import { holds, parseThreshold } from '../load/thresholds.ts';
import { freePort } from '../scripts/local-shop.ts';
import type { LoadSummary } from '../loadtests/lib/summary.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** The load CLI as a user runs it; resolves with its exit code and output, whatever the code. */
async function load(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(root, 'load/cli.ts'), ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('the open loop', () => {
  test('counts a server\'s 1 s pause in every request due during it: the p99 of those is the pause', async () => {
    // In a process of its own, so that its pause does not also stop the generator.
    const port = await freePort();
    const pauseAt = Date.now() + 1_500;
    const server: ChildProcess = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createServer } from 'node:http';
         let paused = false;
         createServer((request, response) => {
           if (!paused && Date.now() >= ${pauseAt}) {
             paused = true;
             const until = Date.now() + 1000;
             while (Date.now() < until);
           }
           response.end('ok');
         }).listen(${port}, '127.0.0.1', () => console.log('ready'));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise((resolve) => server.stdout!.once('data', resolve));
      const metrics = new Metrics();
      const http = new NodeHttp(`http://127.0.0.1:${port}`, metrics, { connections: 64, traceSampling: null });
      // Named by whether the request was due while the server was paused (a margin each side for
      // the two processes' clocks and the first request reaching the server).
      const epochOf = (dueAt: number) => performance.timeOrigin + dueAt;
      const loop = new OpenLoop({
        rate: 100,
        durationMs: 3_000 + (pauseAt - Date.now()),
        maxInFlight: 1_000,
        iteration: async ({ dueAt }) => {
          const due = epochOf(dueAt);
          const name = due >= pauseAt + 50 && due <= pauseAt + 950 ? 'during' : due < pauseAt ? 'before' : 'after';
          await http.client(dueAt).request({ method: 'GET', path: '/', name });
        },
      });
      const result = await loop.run();
      await http.close();
      assert.equal(result.dropped, 0);
      const during = metrics.trends.get('http_req_duration{name:during}')!;
      const before = metrics.trends.get('http_req_duration{name:before}')!;
      assert.ok(during.count >= 80, `requests due during the pause: ${during.count}`);
      // Due 50–950 ms into a 1000 ms pause, each waited for the rest of it: 50 ms to 950 ms.
      assert.ok(during.percentile(99) >= 900, `p99 of the requests due during the pause: ${during.percentile(99)} ms`);
      assert.ok(during.percentile(50) >= 300, `p50 of the requests due during the pause: ${during.percentile(50)} ms`);
      // Against those due before it, not an absolute bound: a busy machine slows both groups alike,
      // and the pause is what tells them apart (a median of ~500 ms still to wait).
      const addedByPause = during.percentile(50) - before.percentile(50);
      assert.ok(addedByPause >= 300, `the pause added ${addedByPause} ms to the median (before ${before.percentile(50)} ms, during ${during.percentile(50)} ms)`);
      assert.ok(metrics.trends.get('http_req_duration')!.percentile(99) >= 900, 'and the whole run\'s p99 shows it');
    } finally {
      server.kill();
    }
  });

  test('never sends a request before it is due, so no latency can be negative', async () => {
    const { server, url } = await listen((_request, response) => response.end('{}'));
    try {
      const metrics = new Metrics();
      let sends = 0;
      let earliest = Number.POSITIVE_INFINITY;
      const http = new NodeHttp(url, metrics, {
        connections: 32,
        traceSampling: null,
        onSend: (dueAt, sentAt) => {
          sends++;
          earliest = Math.min(earliest, sentAt - dueAt);
        },
      });
      let lateStarts = 0;
      const loop = new OpenLoop({
        rate: 1_000,
        durationMs: 1_500,
        maxInFlight: 1_000,
        iteration: async ({ dueAt }) => {
          if (performance.now() < dueAt) lateStarts--;
          await http.client(dueAt).request({ method: 'GET', path: '/', name: 'hello' });
        },
      });
      await loop.run();
      await http.close();
      assert.equal(lateStarts, 0, 'no iteration started before it was due');
      assert.equal(sends, 1_500);
      assert.ok(earliest >= 0, `a request was sent ${-earliest} ms before it was due`);
      const latency = metrics.trends.get('http_req_duration')!;
      assert.equal(latency.count, 1_500);
      assert.ok(latency.min >= 0 && latency.percentile(1) >= 0);
    } finally {
      server.close();
    }
  });

  test('keeps a sample of the traced requests per name, with their latencies, to pick a median and the slowest from', async () => {
    // The server answers each request after the delay its path names, so every latency is known.
    // A timer counts from the event loop's clock, read in whole milliseconds at the start of the
    // loop's turn, so it may fire up to 1 ms early by a precise clock (24.8 ms for 25 once in CI):
    // one more millisecond makes each answer take at least its delay.
    const { server, url } = await listen((request, response) => {
      setTimeout(() => response.end('{}'), Number(request.url!.slice(1)) + 1);
    });
    try {
      const http = new NodeHttp(url, new Metrics(), { connections: 16, traceSampling: 1 });
      const delays = [45, 5, 400, 10, 15, 200, 20, 25, 30, 35, 40];
      for (const delay of delays) await http.client(undefined).request({ method: 'GET', path: `/${delay}`, name: 'slow' });
      await http.client(undefined).request({ method: 'GET', path: '/1', name: 'other' });
      await http.close();
      const slow = http.traced().get('slow')!;
      assert.equal(slow.length, delays.length);
      // Fastest first, and no request answers before its delay.
      assert.deepEqual(slow.map((request) => request.ms).toSorted((a, b) => a - b), slow.map((request) => request.ms));
      const sortedDelays = delays.toSorted((a, b) => a - b);
      slow.forEach((request, index) => assert.ok(request.ms >= sortedDelays[index]!, `${request.ms} ms for a ${sortedDelays[index]} ms answer`));
      assert.ok(slow.every((request) => /^[0-9a-f]{32}$/.test(request.traceId!)));
      assert.equal(new Set(slow.map((request) => request.traceId)).size, delays.length, 'a trace id each');
      assert.equal(http.traced().get('other')?.length, 1);
    } finally {
      server.close();
    }
  });

  test('a trend refuses a negative or NaN duration instead of hiding it', () => {
    const trend = new Trend();
    assert.throws(() => trend.add(-0.13), RangeError);
    assert.throws(() => trend.add(Number.NaN), RangeError);
    trend.add(0);
    trend.add(1.5);
    assert.equal(trend.count, 2);
    assert.equal(trend.min, 0);
  });
});

describe('thresholds', () => {
  test('are read and judged as k6 does', () => {
    assert.equal(holds(parseThreshold('p(99)<250'), 249.9), true);
    assert.equal(holds(parseThreshold('p(99) < 250'), 250), false);
    assert.equal(holds(parseThreshold('rate>0.99'), 0.995), true);
    assert.equal(holds(parseThreshold('count<1'), 1), false);
    assert.deepEqual(parseThreshold('p(99.9)<=5').aggregation, { kind: 'percentile', percentile: 99.9 });
    assert.throws(() => parseThreshold('p99<250'), /not a threshold/);
  });

  test('are evaluated on the driver\'s metrics, per request name, and on metrics that never got a sample', () => {
    const metrics = new Metrics();
    for (let ms = 1; ms <= 100; ms++) metrics.trend('http_req_duration', ms, 'GET /a');
    metrics.rate('http_req_failed', false, 'GET /a');
    const data = metrics.endOfTestData(
      { 'http_req_duration{name:GET /a}': ['p(99)<99', 'p(99)<101'], http_req_failed: ['rate<0.01'], dropped_iterations: ['count<1'] },
      ['med', 'p(99)', 'count'],
      10_000,
    );
    assert.deepEqual(data.metrics['http_req_duration{name:GET /a}']!.thresholds, { 'p(99)<99': { ok: false }, 'p(99)<101': { ok: true } });
    assert.equal(data.metrics['http_req_duration{name:GET /a}']!.values.count, 100);
    assert.deepEqual(data.metrics.http_req_failed!.thresholds, { 'rate<0.01': { ok: true } });
    assert.deepEqual(data.metrics.dropped_iterations!.thresholds, { 'count<1': { ok: true } });
  });
});

describe('npm run load', () => {
  let shop: { server: Server; url: string };
  let productDelayMs = 0;
  let folder: string;

  before(async () => {
    folder = mkdtempSync(join(tmpdir(), 'load-cli-'));
    const product = { id: 1, name: 'Pen', description: '', price: '1.00', stock: 5, category: 'Stationery' };
    // A stand-in for the shop's catalog: all the browse journey reads.
    shop = await listen((request, response) => {
      const reply = () => {
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify(request.url!.startsWith('/api/products/1') ? product : { items: [product], total: 1 }));
      };
      if (request.url!.startsWith('/api/products/1')) setTimeout(reply, productDelayMs);
      else reply();
    });
  });

  after(() => {
    shop.server.close();
    rmSync(folder, { recursive: true, force: true });
  });

  test('exits 0 when every threshold holds, and --out writes the summary k6\'s handleSummary writes', async () => {
    productDelayMs = 0;
    const out = join(folder, 'summary.json');
    const result = await load(['browse', '--rate', '20', '--duration', '2s', '--base-url', shop.url, '--out', out]);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /GET \/api\/products\/:id\s+\d+/);
    assert.match(result.stdout, /thresholds: all \d+ hold/);
    const summary = JSON.parse(readFileSync(out, 'utf8')) as LoadSummary;
    assert.deepEqual(Object.keys(summary), ['scenario', 'generator', 'base_url', 'rate', 'duration_s', 'elapsed_s', 'iterations', 'dropped_iterations', 'requests', 'saga_completion', 'checks', 'thresholds', 'thresholds_ok']);
    assert.equal(summary.generator, 'node');
    assert.equal(summary.iterations, 40);
    assert.deepEqual(Object.keys(summary.requests['GET /api/products/:id']!), ['count', 'rate', 'p50', 'p90', 'p99', 'max', 'errors']);
    assert.equal(summary.checks.failed, 0);
    assert.ok(summary.thresholds.some((threshold) => threshold.metric === 'http_req_duration{name:GET /api/products/:id}' && threshold.threshold === 'p(99)<250' && threshold.ok));
  });

  test('exits 99 when a threshold breaks, and names it; the summary counts the tail of slow iterations in elapsed_s', async () => {
    productDelayMs = 300;
    const out = join(folder, 'slow.json');
    const result = await load(['browse', '--rate', '10', '--duration', '1s', '--base-url', shop.url, '--out', out]);
    assert.equal(result.code, 99, result.stderr + result.stdout);
    assert.match(result.stdout, /✗ http_req_duration\{name:GET \/api\/products\/:id\}: p\(99\)<250/);
    // The last iteration is due at 0.9 s and waits 300 ms for a product: it ends at least 0.2 s
    // past the configured second, and that tail counts. Setup is left out.
    const summary = JSON.parse(readFileSync(out, 'utf8')) as LoadSummary;
    assert.equal(summary.duration_s, 1);
    assert.ok(summary.elapsed_s >= 1.2 && summary.elapsed_s < 5, `elapsed_s ${summary.elapsed_s}`);
  });

  test('exits 2 with a message for bad usage', async () => {
    const cases: Array<[string[], RegExp, Record<string, string>?]> = [
      [[], /which scenario/],
      [['checkout'], /unknown scenario "checkout"; the scenarios are browse, buyer, hot-item, mixed/],
      [['browse', 'buyer'], /one scenario at a time/],
      [['browse', '--rate', '0'], /--rate must be a number/],
      [['browse', '--rate', 'fast'], /--rate must be a number/],
      [['browse', '--rate'], /argument missing|--rate/],
      [['browse', '--duration', '30x'], /--duration must be a duration/],
      [['browse', '--max-vus', '1.5'], /--max-vus must be a whole number/],
      [['browse', '--base-url', 'ftp://shop'], /--base-url must be an http/],
      [['browse', '--out', '/no/such/folder/summary.json'], /the folder \/no\/such\/folder does not exist/],
      [['browse', '--speed', '3'], /Unknown option '--speed'/],
      [['--ceiling', 'browse'], /--ceiling takes no scenario/],
      [['browse'], /TRACE_SAMPLING must be a number from 0 to 1/, { TRACE_SAMPLING: '2' }],
    ];
    const results = await Promise.all(cases.map(([args, , env]) => load(args, env)));
    cases.forEach(([args, message], index) => {
      const result = results[index]!;
      assert.equal(result.code, 2, `load ${args.join(' ')}: exit ${result.code}`);
      assert.match(result.stderr, message, `load ${args.join(' ')}`);
      assert.match(result.stderr, /usage: npm run load/, `load ${args.join(' ')} shows the usage`);
    });
  });
});
