/**
 * The whole stack at default settings must fit a laptop: requests ≤ 2 CPU and ≤ 3 GiB,
 * counting every container (infrastructure included) times its replicas.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCpu, parseMemory, variants, workloads, type K8sObject, type Workload } from './manifests.ts';

const budget = { cpuMillis: 2000, memoryMiB: 3072 };

/** What the scheduler reserves for one pod: the sum of its containers, or its largest init container if that is more. */
function podRequests(workload: Workload): { cpuMillis: number; memoryMiB: number } {
  const spec = workload.spec.template.spec;
  const sum = (pick: (requests: Record<string, string>) => number) => spec.containers.reduce((total, container) => total + pick(container.resources?.requests ?? {}), 0);
  const maxInit = (pick: (requests: Record<string, string>) => number) => Math.max(0, ...(spec.initContainers ?? []).map((container) => pick(container.resources?.requests ?? {})));
  const cpu = (requests: Record<string, string>) => parseCpu(requests.cpu ?? '0');
  const memory = (requests: Record<string, string>) => parseMemory(requests.memory ?? '0');
  return { cpuMillis: Math.max(sum(cpu), maxInit(cpu)), memoryMiB: Math.max(sum(memory), maxInit(memory)) };
}

export function footprint(objects: readonly K8sObject[]): { cpuMillis: number; memoryMiB: number; pods: number; lines: string[] } {
  let cpuMillis = 0;
  let memoryMiB = 0;
  let pods = 0;
  const lines: string[] = [];
  for (const workload of workloads(objects)) {
    // An application Deployment has no replicas field: it starts with one.
    const replicas = workload.spec.replicas ?? 1;
    const requests = podRequests(workload);
    cpuMillis += replicas * requests.cpuMillis;
    memoryMiB += replicas * requests.memoryMiB;
    pods += replicas;
    lines.push(`${workload.kind}/${workload.metadata.name} ×${replicas}: ${requests.cpuMillis}m CPU, ${requests.memoryMiB} MiB`);
  }
  return { cpuMillis, memoryMiB, pods, lines };
}

describe('footprint', () => {
  for (const variant of variants()) {
    test(`${variant.name}: requests fit in ${budget.cpuMillis / 1000} CPU and ${budget.memoryMiB / 1024} GiB`, (t) => {
      const total = footprint(variant.objects);
      for (const line of total.lines) t.diagnostic(line);
      t.diagnostic(`total: ${total.pods} pods, ${total.cpuMillis}m CPU (${(total.cpuMillis / 1000).toFixed(2)} CPU), ${total.memoryMiB} MiB (${(total.memoryMiB / 1024).toFixed(2)} GiB) requested`);
      assert.ok(total.cpuMillis <= budget.cpuMillis, `${total.cpuMillis}m CPU requested`);
      assert.ok(total.memoryMiB <= budget.memoryMiB, `${total.memoryMiB} MiB requested`);
    });
  }

  test('the default totals, pinned so that a change to them is deliberate', () => {
    const total = footprint(variants()[0]!.objects);
    assert.deepEqual({ cpuMillis: total.cpuMillis, memoryMiB: total.memoryMiB, pods: total.pods }, { cpuMillis: 880, memoryMiB: 2496, pods: 17 });
  });
});
