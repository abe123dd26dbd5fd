/**
 * `npm run experiment` end to end, short: it starts a shop of its own, measures two replica
 * counts for a few seconds each, and leaves files whose figures agree with each other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inconsistencies, type ExperimentResults } from '../scripts/scaling/results.ts';

const run = promisify(execFile);

test('a short experiment writes results.json, report.md and two charts that agree with each other', { timeout: 300_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'experiment-'));
  await run(process.execPath, ['scripts/experiment.ts', '--service', 'product', '--replicas', '1,2,3', '--scenario', 'browse', '--duration', '2s', '--warmup', '1s', '--out', out], {
    // A socket nobody serves: the experiment starts its own shop rather than use one a developer runs.
    env: { ...process.env, SCALESHOP_CONTROL_SOCKET: join(out, 'none.sock') },
    maxBuffer: 10_000_000,
  });
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ExperimentResults;
  assert.deepEqual(results.points.map((point) => point.replicas), [1, 2, 3]);
  assert.equal(results.points[0]!.throughput_unit, 'requests/s');
  assert.ok(results.points.every((point) => point.runs.length === 1 && point.runs[0]!.replica_shares.length === point.replicas));
  assert.ok(results.points[0]!.throughput > 0, 'one replica served something');
  const traces = results.points.flatMap((point) => point.runs.flatMap((run) => run.slowest_traces));
  assert.ok(traces.every((trace) => /^[0-9a-f]{32}$/.test(trace.trace_id) && trace.ms >= 0), JSON.stringify(traces));
  assert.deepEqual(inconsistencies(results), []);
  assert.equal(results.conditions.cores > 0, true);
  const report = readFileSync(join(out, 'report.md'), 'utf8');
  assert.match(report, /\| 3 \| [\d.]+ \| [\d.]+ \|/);
  for (const run of results.points.flatMap((point) => point.runs)) {
    if (run.median_trace === undefined) continue;
    assert.match(run.median_trace.trace_id, /^[0-9a-f]{32}$/);
    assert.ok(run.median_trace.ms <= run.slowest_traces[0]!.ms, 'a median is no slower than the slowest');
  }
  assert.ok(results.points.some((point) => point.runs.some((run) => run.median_trace !== undefined)), 'some run traced a median request');
  assert.match(report, /## A median and the slowest requests, to look up in Jaeger\n\n- N=1: median /);
  for (const chart of ['throughput.svg', 'latency.svg']) assert.match(readFileSync(join(out, chart), 'utf8'), /^<svg /, chart);
  assert.ok(existsSync(join(out, 'report.md')));
});

test('bad input exits 2 with a message and starts nothing', async () => {
  for (const [args, message] of [
    [['--service', 'nope'], /--service must be one of/],
    [['--service', 'payment', '--replicas', '2,4'], /must include 1/],
    [['--service', 'payment', '--replicas', '1,40'], /from 1 to 32/],
    [['--service', 'payment', '--slo', 'fast'], /--slo takes the form/],
    [['--service', 'payment', '--duration', 'long'], /--duration takes a duration/],
  ] as const) {
    const result = await run(process.execPath, ['scripts/experiment.ts', ...args]).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(result.code, 2, args.join(' '));
    assert.match(result.stderr, message, args.join(' '));
  }
});
