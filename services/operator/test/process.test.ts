/**
 * The operator as the image runs it (src/main.ts), against the API server stand-in through a
 * kubeconfig: health, metrics, and a graceful shutdown, like every service.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiServerStandIn } from './api-server.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function poll(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('npm start of the operator: ready once its informers listed, reconciles, serves /metrics, stops gracefully on SIGTERM', async () => {
  const server = new ApiServerStandIn();
  const url = await server.start();
  server.write('scaleshop.dev/v1alpha1/scaleshop/shops', { apiVersion: 'scaleshop.dev/v1alpha1', kind: 'Shop', metadata: { name: 'demo', namespace: 'scaleshop' }, spec: {} }, 'kubectl');
  const dir = mkdtempSync(join(tmpdir(), 'operator-'));
  const kubeconfig = join(dir, 'kubeconfig.json');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stand-in', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'operator', user: { token: 'stand-in-token' } }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'operator' } }],
      'current-context': 'stand-in',
    }),
  );
  const port = await freePort();
  const child = spawn(process.execPath, ['services/operator/src/main.ts'], {
    env: { ...process.env, KUBECONFIG: kubeconfig, WATCH_NAMESPACE: 'scaleshop', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const base = `http://127.0.0.1:${port}`;
    await poll('ready', async () => (await fetch(`${base}/health/ready`)).status === 200);
    assert.equal((await fetch(`${base}/health/live`)).status, 200);
    await poll('the Deployments', async () => server.list('apps/v1/scaleshop/deployments').length === 10);
    await poll('a reconcile counted', async () => /operator_reconciles_total\{[^}]*outcome="success"[^}]*\} [1-9]/.test(await (await fetch(`${base}/metrics`)).text()));
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /operator_reconcile_duration_seconds_bucket/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
  } finally {
    child.kill('SIGKILL');
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
