/**
 * `npm run chaos` refuses bad usage with exit 2 and a message before it starts anything, and its
 * help names the options that give the run servers of its own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const chaos = (...args: string[]) => spawnSync(process.execPath, ['scripts/chaos.ts', ...args], { encoding: 'utf8', timeout: 30_000 });

test('bad usage exits 2 with a message, before anything starts', () => {
  for (const [args, message] of [
    [['--own-postgres=yes'], /--own-postgres' does not take an argument/],
    [['--own-broker', '--faults', 'kill,flood'], /unknown fault kind\(s\) flood/],
    [['--duration', '5s'], /--duration takes a duration from 20s/],
    [['--no-such-option'], /Unknown option '--no-such-option'/],
  ] as const) {
    const run = chaos(...args);
    assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.match(run.stderr, /^usage: npm run chaos/m);
  }
});

test('--help names the servers of its own, and exits 0', () => {
  const run = chaos('--help');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /--own-postgres +start a PostgreSQL of the run's own/);
  assert.match(run.stdout, /--own-broker +start a RabbitMQ node of the run's own/);
});
