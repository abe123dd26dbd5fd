/** The chaos run's fault schedule: drawn from the seed alone, every kind asked for, quiet at both ends. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { faultKinds } from '../scripts/chaos/history.ts';
import { planFaults, proxiedPaths, ScheduleError, type ScheduleOptions } from '../scripts/chaos/schedule.ts';

const options = (overrides: Partial<ScheduleOptions> = {}): ScheduleOptions => ({
  seed: 42,
  durationMs: 120_000,
  kinds: faultKinds,
  processServices: ['gateway', 'order', 'payment'],
  databaseServices: ['order', 'payment'],
  brokerServices: ['order', 'payment', 'email'],
  ...overrides,
});

describe('chaos schedule', () => {
  it('is the same for the same seed, and another for another seed', () => {
    assert.deepEqual(planFaults(options()), planFaults(options()));
    assert.notDeepEqual(planFaults(options()), planFaults(options({ seed: 43 })));
  });

  it('brings every kind once before any twice, in order, inside the quiet head and tail', () => {
    for (let seed = 0; seed < 20; seed++) {
      const plan = planFaults(options({ seed, durationMs: 200_000 }));
      const first = plan.slice(0, faultKinds.length).map((fault) => fault.kind);
      assert.deepEqual([...first].sort(), [...faultKinds].sort(), `seed ${seed}`);
      assert.ok(plan[0]!.at >= 20_000, 'a tenth of the run is quiet first');
      for (const [index, fault] of plan.entries()) {
        if (index > 0) assert.ok(fault.at > plan[index - 1]!.at + plan[index - 1]!.durationMs, 'faults do not overlap');
        assert.ok(fault.at + fault.durationMs <= 180_000, 'a tenth of the run is quiet last');
      }
    }
  });

  it('targets only what each kind can hit', () => {
    for (const fault of planFaults(options({ durationMs: 600_000 }))) {
      if (fault.kind === 'kill' || fault.kind === 'term') assert.ok(['gateway', 'order', 'payment'].includes(fault.service!) && fault.pick! >= 0 && fault.pick! < 1);
      if (fault.kind === 'db-cut') assert.ok(['order', 'payment'].includes(fault.service!));
      if (fault.kind === 'net-cut' || fault.kind === 'net-delay') {
        const paths = fault.dependency === 'postgres' ? ['order', 'payment'] : ['order', 'payment', 'email'];
        assert.ok(paths.includes(fault.service!), JSON.stringify(fault));
      }
      if (fault.kind === 'net-delay') assert.ok(fault.delayMs! >= 100 && fault.delayMs! <= 800);
    }
  });

  it('proxies only the paths it disturbs', () => {
    const plan = planFaults(options({ kinds: ['kill', 'net-cut'] }));
    const cut = plan.filter((fault) => fault.kind === 'net-cut').map((fault) => `${fault.service}/${fault.dependency}`);
    assert.deepEqual(proxiedPaths(plan).map((path) => `${path.service}/${path.dependency}`).sort(), [...new Set(cut)].sort());
  });

  it('refuses a run too short for every kind asked for', () => {
    assert.throws(() => planFaults(options({ durationMs: 20_000 })), (error: unknown) => error instanceof ScheduleError && /no room for/.test(error.message));
    assert.deepEqual(planFaults(options({ kinds: [] })), []);
  });
});
