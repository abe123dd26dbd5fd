/**
 * The open-loop engine, for `npm run load` and the benchmarks alike: iteration i is due at
 * start + i/rate whether or not earlier ones have finished, and starts no earlier than that. A
 * closed loop (each worker waiting for its answer before the next request) slows down with the
 * server and hides the queueing; here an iteration that starts late because the generator fell
 * behind still counts from when it was due, so the delay shows in its latency (no coordinated
 * omission). Past `maxInFlight` an iteration is not started but counted as dropped, as k6 does
 * when no VU is free.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Trend } from './metrics.ts';

export interface ScheduledIteration {
  /** 0, 1, 2… over the warm-up and the measured window together. */
  index: number;
  /** performance.now() at which it was due. */
  dueAt: number;
  /** False during the warm-up: nothing it does is recorded. */
  counted: boolean;
}

export interface OpenLoopOptions {
  /** Iterations per second. */
  rate: number;
  durationMs: number;
  /**
   * Run at the same rate right before the measured window, and not counted: the load does not
   * stop between the two, so the window measures the steady state, not the climb from idle
   * (a fresh JIT, pools still growing, consumers not yet batching).
   */
  warmupMs?: number;
  maxInFlight: number;
  iteration: (scheduled: ScheduledIteration) => Promise<void>;
  /** Called as the measured window begins, e.g. to take a CPU snapshot. */
  onMeasuring?: () => void;
  /** Stops scheduling (Ctrl-C); iterations in flight still finish. */
  signal?: AbortSignal;
}

export interface OpenLoopProgress {
  due: number;
  started: number;
  finished: number;
  inFlight: number;
  dropped: number;
  /** Iterations that threw, with the first few errors. */
  failed: number;
  firstErrors: unknown[];
}

export interface OpenLoopResult extends OpenLoopProgress {
  /** How late counted iterations started (ms): the generator's own health, 0 when it keeps up. */
  startLag: Trend;
  /** From the first counted iteration's due time to the last one's end. */
  measuredMs: number;
}

export class OpenLoop {
  readonly progress: OpenLoopProgress = { due: 0, started: 0, finished: 0, inFlight: 0, dropped: 0, failed: 0, firstErrors: [] };

  private readonly options: OpenLoopOptions;

  constructor(options: OpenLoopOptions) {
    this.options = options;
    if (!(options.rate > 0)) throw new RangeError(`rate must be positive, not ${options.rate}`);
  }

  async run(): Promise<OpenLoopResult> {
    const { rate, durationMs, maxInFlight, signal } = this.options;
    const warmup = Math.round((rate * (this.options.warmupMs ?? 0)) / 1000);
    const total = warmup + Math.round((rate * durationMs) / 1000);
    const interval = 1000 / rate;
    const startLag = new Trend();
    const progress = this.progress;
    let measuringSince = Number.NaN;
    let allFinished: (() => void) | undefined;
    let lastFinish = 0;

    const launch = (index: number, dueAt: number) => {
      const counted = index >= warmup;
      if (index === warmup) {
        measuringSince = dueAt;
        this.options.onMeasuring?.();
      }
      if (counted) progress.due++;
      if (progress.inFlight >= maxInFlight) {
        if (counted) progress.dropped++;
        return;
      }
      if (counted) startLag.add(performance.now() - dueAt);
      progress.started++;
      progress.inFlight++;
      const finish = () => {
        progress.inFlight--;
        progress.finished++;
        lastFinish = performance.now();
        if (progress.inFlight === 0) allFinished?.();
      };
      let running: Promise<void>;
      try {
        running = this.options.iteration({ index, dueAt, counted });
      } catch (error) {
        running = Promise.reject(error);
      }
      running.then(finish, (error: unknown) => {
        progress.failed++;
        if (progress.firstErrors.length < 5) progress.firstErrors.push(error);
        finish();
      });
    };

    const start = performance.now();
    let next = 0;
    while (next < total && !signal?.aborted) {
      // Everything due by now starts now, each still measured from its own due time.
      const now = performance.now();
      while (next < total && start + next * interval <= now) {
        launch(next, start + next * interval);
        next++;
      }
      if (next >= total) break;
      // Timers fire on whole milliseconds and may wake a little early or late; the loop above
      // never starts one early, and one started late counts its lateness. Waiting for the
      // sub-millisecond remainder by spinning (setImmediate) would hold a core the shop under
      // test needs on a shared machine, so iterations start up to about 1 ms late instead:
      // startLag reports it.
      const wait = start + next * interval - performance.now();
      await sleep(Math.max(1, Math.floor(wait)));
    }
    if (progress.inFlight > 0) await new Promise<void>((resolve) => (allFinished = resolve));
    return { ...progress, startLag, measuredMs: Number.isNaN(measuringSince) ? 0 : Math.max(0, lastFinish - measuringSince) };
  }
}
