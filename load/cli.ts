/**
 * `npm run load -- <scenario> [--rate R] [--duration 30s] [--out FILE] [--base-url URL] [--max-vus N]`
 * `npm run load -- --ceiling [--duration 5s]`
 *
 * Runs a shopper journey of loadtests/ against a shop, open loop, and judges it by the same
 * thresholds as the k6 scripts. Exit codes as k6's: 0 when every threshold holds, 99 when one
 * breaks, 2 for bad usage, 1 when the run itself failed (setup could not prepare it).
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { scenarios } from '../loadtests/journeys/index.ts';
import { defaultBaseUrl, parseDuration } from '../loadtests/lib/run.ts';
import { scenarioNames, type ScenarioName } from '../loadtests/lib/runtime.ts';
import { formatSummary } from '../loadtests/lib/summary.ts';
import { traceSamplingRatio } from '../loadtests/lib/traceparent.ts';
import { runLoad, type LoadRunResult } from './driver.ts';
import type { OpenLoopProgress } from './open-loop.ts';

const usage = `usage: npm run load -- <scenario> [--rate R] [--duration 30s] [--out FILE] [--base-url URL] [--max-vus N]
       npm run load -- --ceiling [--duration 5s]
scenarios: ${scenarioNames.join(', ')}
environment: BASE_URL, TRACE_SAMPLING, POLL_INTERVAL_MS, SAGA_TIMEOUT_MS, BUYER_USERS, HOT_STOCK, ADMIN_EMAIL, ADMIN_PASSWORD (docs/load.md)`;

class UsageError extends Error {}

interface Invocation {
  kind: 'scenario' | 'ceiling' | 'help';
  scenario?: ScenarioName;
  rate: number;
  durationSeconds: number;
  out?: string;
  baseUrl: string;
  maxInFlight?: number;
  traceSampling: number;
}

function parseInvocation(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Invocation {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        rate: { type: 'string' },
        duration: { type: 'string' },
        out: { type: 'string' },
        'base-url': { type: 'string' },
        'max-vus': { type: 'string' },
        ceiling: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const baseUrl = (values['base-url'] ?? env.BASE_URL ?? defaultBaseUrl).replace(/\/+$/, '');
  if (values.help) return { kind: 'help', rate: 0, durationSeconds: 0, baseUrl, traceSampling: 1 };

  const durationText = values.duration;
  const durationSeconds = durationText === undefined ? undefined : parseDuration(durationText);
  if (durationText !== undefined && durationSeconds === undefined) throw new UsageError(`--duration must be a duration such as 30s, 2m or 1m30s, not "${durationText}"`);

  if (values.ceiling) {
    if (positionals.length > 0 || values.rate !== undefined || values.out !== undefined) throw new UsageError('--ceiling takes no scenario, --rate or --out: it chooses its own rates against a hello-world');
    return { kind: 'ceiling', rate: 0, durationSeconds: durationSeconds ?? 5, baseUrl, traceSampling: 1 };
  }

  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'which scenario?' : `one scenario at a time, not ${positionals.join(' ')}`);
  const scenario = positionals[0]!;
  if (!(scenarioNames as readonly string[]).includes(scenario)) throw new UsageError(`unknown scenario "${scenario}"; the scenarios are ${scenarioNames.join(', ')}`);
  const defaults = scenarios[scenario as ScenarioName].defaults;

  const rate = values.rate === undefined ? defaults.rate : Number(values.rate);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 100_000) throw new UsageError(`--rate must be a number of iterations per second above 0 (at most 100000), not "${values.rate}"`);
  const maxInFlight = values['max-vus'] === undefined ? undefined : Number(values['max-vus']);
  if (maxInFlight !== undefined && !(Number.isInteger(maxInFlight) && maxInFlight >= 1)) throw new UsageError(`--max-vus must be a whole number of at least 1, not "${values['max-vus']}"`);
  try {
    new URL(baseUrl);
  } catch {
    throw new UsageError(`--base-url must be a URL such as http://localhost:9000, not "${baseUrl}"`);
  }
  if (!/^https?:/.test(baseUrl)) throw new UsageError(`--base-url must be an http(s) URL, not "${baseUrl}"`);
  if (values.out !== undefined) {
    const folder = dirname(resolve(values.out));
    if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UsageError(`--out ${values.out}: the folder ${folder} does not exist`);
  }
  let traceSampling: number;
  try {
    traceSampling = traceSamplingRatio(env);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    kind: 'scenario',
    traceSampling,
    scenario: scenario as ScenarioName,
    rate,
    durationSeconds: durationSeconds ?? parseDuration(defaults.duration)!,
    baseUrl,
    ...(values.out === undefined ? {} : { out: values.out }),
    ...(maxInFlight === undefined ? {} : { maxInFlight }),
  };
}

function progressLine(invocation: Invocation, progress: OpenLoopProgress, startedAt: number): string {
  const elapsed = Math.min((performance.now() - startedAt) / 1000, invocation.durationSeconds);
  return `${invocation.scenario} ${elapsed.toFixed(0)}/${invocation.durationSeconds} s  due ${progress.due}  in flight ${progress.inFlight}  done ${progress.finished}  dropped ${progress.dropped}`;
}

function report(result: LoadRunResult): string {
  const lines = [formatSummary(result.summary).trimEnd()];
  const statuses = [...result.statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status === 0 ? 'no answer' : status} ×${count}`);
  lines.push(`answers: ${statuses.join(', ') || 'none'}`);
  lines.push(`driver: iterations started p99 ${result.startLag.percentile(99).toFixed(1)} ms late (max ${result.startLag.max.toFixed(1)} ms)${result.startLag.percentile(99) > 10 ? ': the generator fell behind, so the latencies include its own delay' : ''}`);
  if (result.slowest.length > 0) {
    lines.push('slowest requests (trace id, to look up in Jaeger):');
    for (const slow of result.slowest) lines.push(`  ${slow.ms.toFixed(0).padStart(6)} ms  ${slow.name} → ${slow.status || 'no answer'}  ${slow.traceId ?? '(not sampled)'}`);
  }
  if (result.iterationsThatThrew > 0) {
    lines.push(`iterations that threw: ${result.iterationsThatThrew}`);
    for (const error of result.firstErrors) lines.push(`  ${error instanceof Error ? error.message : String(error)}`);
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parseInvocation(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`load: ${error.message}\n${usage}\n`);
    return 2;
  }
  if (invocation.kind === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (invocation.kind === 'ceiling') {
    console.log(`the driver's ceiling against a bare fastify hello-world, ${invocation.durationSeconds} s per step, Node ${process.version}`);
    // Loaded only here: it brings the benchmarks' server helpers and autocannon along.
    const { measureCeiling } = await import('./ceiling.ts');
    const { ceiling, closedLoopRate } = await measureCeiling({ secondsPerStep: invocation.durationSeconds, log: (line) => console.log(line) });
    console.log(`\nceiling: ${ceiling}/s open loop; autocannon, closed loop with 64 connections, gets ${closedLoopRate.toFixed(0)}/s from the same server`);
    return 0;
  }

  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  let progressTimer: NodeJS.Timeout | undefined;
  const tty = process.stderr.isTTY;
  process.stderr.write(`${invocation.scenario} at ${invocation.rate}/s for ${invocation.durationSeconds} s against ${invocation.baseUrl}: preparing…\n`);
  let result: LoadRunResult;
  try {
    result = await runLoad({
      scenario: scenarios[invocation.scenario!],
      baseUrl: invocation.baseUrl,
      rate: invocation.rate,
      durationSeconds: invocation.durationSeconds,
      env: process.env,
      traceSampling: invocation.traceSampling,
      signal: stop.signal,
      ...(invocation.maxInFlight === undefined ? {} : { maxInFlight: invocation.maxInFlight }),
      log: (message) => process.stderr.write(`${tty ? '\r\x1b[2K' : ''}${message}\n`),
      onIterationsStarted: (progress, startedAt) => {
        if (!tty) return;
        progressTimer = setInterval(() => process.stderr.write(`\r\x1b[2K${progressLine(invocation, progress, startedAt)}`), 250);
      },
    });
  } catch (error) {
    process.stderr.write(`${tty ? '\r\x1b[2K' : ''}load: the run failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    clearInterval(progressTimer);
    if (tty) process.stderr.write('\r\x1b[2K');
  }
  process.stdout.write(report(result));
  if (invocation.out) writeFileSync(invocation.out, `${JSON.stringify(result.summary, null, 2)}\n`);
  return result.summary.thresholds_ok ? 0 : 99;
}

process.exitCode = await main();
