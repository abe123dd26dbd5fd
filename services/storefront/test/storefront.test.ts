import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { loadConfig, type App } from '@scaleshop/platform';
import { testLogger } from '@scaleshop/platform/testing';
import { contentSecurityPolicy, createStorefront, defaultBuildDirectory } from '../src/app.ts';
import { generatedApiTypes, generatedTypesPath, openApiSnapshotPath } from '../src/api-types.ts';
import { ensureStorefrontBuild } from '../src/build.ts';
import { storefrontConfig } from '../src/config.ts';

const repositoryRoot = join(import.meta.dirname, '..', '..', '..');
const config = loadConfig(storefrontConfig, {});

describe('the storefront server', () => {
  let directory: string;
  let app: App;
  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'storefront-'));
    mkdirSync(join(directory, 'assets'));
    writeFileSync(join(directory, 'index.html'), '<!doctype html><html><head></head><body><script type="module" src="/assets/index-Ab12.js"></script>');
    writeFileSync(join(directory, 'assets', 'index-Ab12.js'), 'console.log(1)');
    app = await createStorefront(config, testLogger('storefront'), directory);
  });
  after(async () => {
    await app.close();
    rmSync(directory, { recursive: true });
  });

  test('serves index.html uncached, with the Content-Security-Policy, for the root and every page of the app', async () => {
    for (const url of ['/', '/products?category=Books&page=2', '/orders/0b7c', '/login']) {
      const page = await app.inject({ url });
      assert.equal(page.statusCode, 200, url);
      assert.match(page.headers['content-type'] as string, /^text\/html/);
      assert.equal(page.headers['cache-control'], 'no-cache');
      assert.equal(page.headers['content-security-policy'], contentSecurityPolicy);
      assert.match(page.body, /index-Ab12\.js/);
    }
    assert.doesNotMatch(contentSecurityPolicy, /unsafe-inline|unsafe-eval/);
  });

  test('caches hashed assets for a year, and a missing file is a 404, not the page', async () => {
    const asset = await app.inject({ url: '/assets/index-Ab12.js' });
    assert.equal(asset.statusCode, 200);
    assert.match(asset.headers['cache-control'] as string, /max-age=31536000.*immutable/);
    for (const url of ['/assets/index-old.js', '/favicon.ico']) assert.equal((await app.inject({ url })).statusCode, 404, url);
  });

  test('has health, metrics and refuses writes like every service', async () => {
    assert.equal((await app.inject({ url: '/health/ready' })).statusCode, 200);
    assert.match((await app.inject({ url: '/metrics' })).body, /http_server_request_duration_seconds/);
    assert.equal((await app.inject({ method: 'POST', url: '/products', payload: {} })).statusCode, 404);
  });

  test('tells the page where Jaeger is when the shop is configured with it', async () => {
    const linked = await createStorefront(loadConfig(storefrontConfig, { JAEGER_UI_URL: 'http://localhost:16686/' }), testLogger('storefront'), directory);
    assert.match((await linked.inject({ url: '/orders/1' })).body, /<meta name="scaleshop-jaeger-ui" content="http:\/\/localhost:16686">/);
    await linked.close();
    assert.doesNotMatch((await app.inject({ url: '/' })).body, /scaleshop-jaeger-ui/);
  });

  test('serves a build made while it runs from the next page load, without a restart (as live update rebuilds it)', async () => {
    const rebuilt = mkdtempSync(join(tmpdir(), 'storefront-rebuilt-'));
    const build = (asset: string) => {
      mkdirSync(join(rebuilt, 'assets'), { recursive: true });
      writeFileSync(join(rebuilt, 'index.html'), `<!doctype html><html><head></head><body><script type="module" src="/assets/${asset}"></script>`);
      writeFileSync(join(rebuilt, 'assets', asset), `console.log('${asset}')`);
    };
    build('index-Old1.js');
    const running = await createStorefront(config, testLogger('storefront'), rebuilt);
    try {
      assert.match((await running.inject({ url: '/orders/1' })).body, /index-Old1\.js/);
      // Vite empties the folder first: a page asked for then is a short 503, not an error page.
      rmSync(join(rebuilt, 'index.html'));
      const between = await running.inject({ url: '/' });
      assert.equal(between.statusCode, 503);
      assert.equal(between.headers['retry-after'], '1');
      build('index-New2.js');
      const page = await running.inject({ url: '/orders/1' });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /index-New2\.js/);
      assert.equal((await running.inject({ url: '/assets/index-New2.js' })).body, "console.log('index-New2.js')");
    } finally {
      await running.close();
      rmSync(rebuilt, { recursive: true });
    }
  });

  test('without a build it starts and says what is missing', async () => {
    const unbuilt = await createStorefront(config, testLogger('storefront'), join(directory, 'nothing'));
    const page = await unbuilt.inject({ url: '/' });
    assert.equal(page.statusCode, 503);
    assert.match(page.json().error.message, /npm run build -w services\/storefront/);
    assert.equal((await unbuilt.inject({ url: '/health/ready' })).statusCode, 200);
    await unbuilt.close();
  });
});

describe('the storefront build', () => {
  test('the API types are generated from the committed OpenAPI snapshot (npm run api -w services/storefront renews both)', async () => {
    const snapshot = JSON.parse(readFileSync(join(repositoryRoot, openApiSnapshotPath), 'utf8'));
    assert.ok((await generatedApiTypes(snapshot)) === readFileSync(join(repositoryRoot, generatedTypesPath), 'utf8'), `${generatedTypesPath} is stale`);
  });

  test('the JavaScript of a first visit is at most 150 KiB gzipped', async () => {
    await ensureStorefrontBuild({ quiet: true });
    const html = readFileSync(join(defaultBuildDirectory, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((match) => match[1]!);
    assert.ok(scripts.length > 0);
    const bytes = scripts.reduce((sum, file) => sum + gzipSync(readFileSync(join(defaultBuildDirectory, file))).length, 0);
    assert.ok(bytes <= 150 * 1024, `${(bytes / 1024).toFixed(1)} KiB`);
  });
});
