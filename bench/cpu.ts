/**
 * CPU time by process, read from /proc: the shop's services, Postgres, RabbitMQ and this
 * process (the load generator, and the mail catcher when local mode started one here).
 * On a machine where everything shares the same cores, this says where an order's cost goes.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Shop } from '../scripts/local-shop.ts';

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** user + system CPU of one process, in ms; NaN when it cannot be read (no /proc, process gone). */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return Number.NaN;
  }
}

/** The CPU all of the shop's services have used so far, in ms; NaN when one cannot be read. */
export function servicesCpuMs(shop: Shop): number {
  return Object.values(shop.services).reduce((sum, service) => sum + processCpuMs(service.process().pid), 0);
}

/** The summed CPU of every process whose command name is one of `names` (e.g. all Postgres backends). */
function cpuOfCommands(names: readonly string[]): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return Number.NaN;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (names.includes(command)) total += processCpuMs(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

export type CpuSnapshot = Record<string, number>;

/** Postgres backends that exited between two snapshots are not counted: keep pools open while measuring. */
export function cpuSnapshot(shop: Shop): CpuSnapshot {
  const snapshot: CpuSnapshot = {};
  for (const [name, service] of Object.entries(shop.services)) snapshot[name] = processCpuMs(service.process().pid);
  snapshot.postgres = cpuOfCommands(['postgres']);
  snapshot.rabbitmq = cpuOfCommands(['beam.smp', 'erl_child_setup', 'inet_gethost', 'epmd']);
  const self = process.cpuUsage();
  snapshot['load generator + mail catcher'] = (self.user + self.system) / 1000;
  return snapshot;
}

/** CPU ms per unit of work between two snapshots, by process, with the total. */
export function cpuPerUnit(before: CpuSnapshot, after: CpuSnapshot, units: number): Array<[string, number]> {
  const rows = Object.keys(after).map((name): [string, number] => [name, (after[name]! - (before[name] ?? 0)) / units]);
  rows.sort((a, b) => b[1] - a[1]);
  rows.push(['total', rows.reduce((sum, [, ms]) => sum + ms, 0)]);
  return rows;
}

export const formatCpu = (rows: Array<[string, number]>, unit: string) =>
  rows.map(([name, ms]) => `   ${name.padEnd(30)} ${ms.toFixed(2)} ms CPU per ${unit}`).join('\n');

/** Busy and total jiffies of all cores so far, from /proc/stat; undefined without /proc. */
function machineJiffies(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3]! + (fields[4] ?? 0);
    const total = fields.reduce((sum, value) => sum + value, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * Waits until the whole machine is nearly idle (below `threshold` of its cores for a second),
 * at most `timeoutMs`: work an earlier phase left behind (RabbitMQ deleting the queues of a
 * dropped virtual host, Postgres checkpointing) must not land in the next measurement.
 */
export async function settle(options: { threshold?: number; timeoutMs?: number } = {}): Promise<void> {
  const threshold = options.threshold ?? 0.1;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let last = machineJiffies();
  if (!last) return;
  let busy = 1;
  while (Date.now() < deadline) {
    await sleep(1_000);
    const now = machineJiffies()!;
    busy = (now.busy - last.busy) / Math.max(1, now.total - last.total);
    last = now;
    if (busy < threshold) return;
  }
  console.warn(`(the machine was still ${(busy * 100).toFixed(0)}% busy when the measurement began)`);
}
