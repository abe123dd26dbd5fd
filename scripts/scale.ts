/**
 * `npm run scale`: the replicas of a running local shop, as `kubectl scale` changes them.
 *   npm run scale                      each service's replicas and their process ids
 *   npm run scale -- --json            the same as {"<service>": {"replicas", "pids", "metrics"}}
 *   npm run scale -- payment=3         scale up or down (down: SIGTERM, so nothing held is lost)
 *   npm run scale -- product=2,cart=0  several at once
 * Exits 2, changing nothing, on bad input or when no local shop is running.
 */
import { join } from 'node:path';
import { askReplicaControl, parseReplicaCounts, UsageError, type ReplicaState } from './replicas.ts';
import { controlSocketPath, serviceNames } from './local-shop.ts';

function fail(message: string): never {
  process.stderr.write(`scale: ${message}\n`);
  process.exit(2);
}

function table(state: Record<string, ReplicaState>): string {
  const rows = Object.entries(state).map(([service, { replicas, pids, metrics }]) => [service, String(replicas), pids.join(' ') || '-', metrics.join(' ') || '-']);
  const header = ['service', 'replicas', 'pids', 'metrics'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

const args = process.argv.slice(2);
const json = args.includes('--json');
const specs = args.filter((arg) => arg !== '--json');
if (specs.some((arg) => arg.startsWith('-'))) fail(`unknown option ${specs.find((arg) => arg.startsWith('-'))}; usage: npm run scale [-- [--json] <service>=<replicas>[,...]]`);

try {
  const counts = parseReplicaCounts(specs, serviceNames);
  const socket = controlSocketPath(join(import.meta.dirname, '..'));
  const answer = specs.length === 0 ? await askReplicaControl(socket, 'GET') : await askReplicaControl(socket, 'PUT', counts);
  if (answer.status !== 200) fail((answer.body as { error?: string }).error ?? `the local shop answered ${answer.status}`);
  const state = answer.body as Record<string, ReplicaState>;
  process.stdout.write(json ? `${JSON.stringify(state)}\n` : `${table(state)}\n`);
} catch (error) {
  if (error instanceof UsageError) fail(error.message);
  throw error;
}
