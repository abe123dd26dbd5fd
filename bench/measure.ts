/** Shared by the benchmarks: drive a URL with autocannon, read a process's memory, percentiles of small samples. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { repositoryRoot, serviceNodeArguments, serviceRuntimeEnvironment } from '../scripts/local-shop.ts';

export interface Measurement {
  label: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export async function load(options: { label: string; url: string; connections: number; seconds: number; warmupSeconds?: number; headers?: Record<string, string> }): Promise<Measurement> {
  const run = (duration: number) =>
    autocannon({ url: options.url, connections: options.connections, duration, headers: options.headers ?? {} });
  if (options.warmupSeconds) await run(options.warmupSeconds);
  const result = await run(options.seconds);
  return {
    label: options.label,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** The nearest-rank percentile of an ascending array (small samples: a few sync checkouts, one run's sagas). */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}

/** A process's resident set, and how much of it is anonymous memory (heap, JIT code, buffers) rather than mapped files. */
export interface ProcessMemory {
  rssMiB: number;
  anonMiB: number;
}

export function processMemory(pid: number | undefined): ProcessMemory | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
    return { rssMiB: kib('VmRSS') / 1024, anonMiB: kib('RssAnon') / 1024 };
  } catch {
    return undefined;
  }
}

export function residentMemoryMiB(pid: number | undefined): number | undefined {
  const rss = processMemory(pid)?.rssMiB;
  return rss === undefined || Number.isNaN(rss) ? undefined : rss;
}

export async function startServer(script: string, environment: Record<string, string>, readyUrl: string, nodeArguments: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArguments, script], { env: { ...process.env, ...environment }, stdio: 'ignore' });
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      if ((await fetch(readyUrl)).ok) return child;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  child.kill();
  throw new Error(`${script} did not start`);
}

/**
 * One of bench/servers' baselines, started as the services are (the same node flags, compile
 * cache and telemetry entry point), so that what it is compared with differs only in the work.
 */
export function startBaselineServer(server: 'hello' | 'proxy' | 'checkout-chain', environment: Record<string, string>, readyUrl: string): Promise<ChildProcess> {
  return startServer(join(repositoryRoot, 'bench/servers', `${server}.ts`), { ...serviceRuntimeEnvironment(), ...environment }, readyUrl, serviceNodeArguments);
}

export function stopServer(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export function printTable(rows: readonly Measurement[]): void {
  const header = ['target', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx'];
  const lines = rows.map((row) => [row.label, row.requestsPerSecond.toFixed(0), row.p50.toFixed(2), row.p99.toFixed(2), String(row.errors), String(row.non2xx)]);
  const widths = header.map((title, index) => Math.max(title.length, ...lines.map((line) => line[index]!.length)));
  for (const line of [header, ...lines]) console.log(line.map((cell, index) => (index === 0 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!))).join('  '));
}
