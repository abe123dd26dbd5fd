/**
 * A work queue of Shop keys: a key is reconciled by one worker at a time (added again while it
 * runs, it runs once more after), and a failed key comes back after an exponential backoff of
 * its own, or after the Retry-After the API server asked for, and no sooner, even when a watch
 * event queues it meanwhile. A success forgets its failures.
 */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

export class WorkQueue {
  private readonly due = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  /** A failed key runs again no sooner than this, whatever queues it meanwhile. */
  private readonly notBefore = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly options: BackoffOptions;
  private readonly work: (key: string) => Promise<void>;
  private readonly onError: (key: string, error: unknown, retryInMs: number) => void;

  constructor(options: BackoffOptions, work: (key: string) => Promise<void>, onError: (key: string, error: unknown, retryInMs: number) => void) {
    this.options = options;
    this.work = work;
    this.onError = onError;
  }

  /** Reconcile the key as soon as the worker is free (or later, if it is already due later). */
  add(key: string, afterMs = 0): void {
    if (this.stopped) return;
    const at = Math.max(Date.now() + afterMs, this.notBefore.get(key) ?? 0);
    const current = this.due.get(key);
    if (current === undefined || at < current) this.due.set(key, at);
    this.schedule();
  }

  /** Waits for the reconcile in progress, and starts no other. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.idle;
  }

  private schedule(): void {
    if (this.running || this.stopped) return;
    clearTimeout(this.timer);
    const next = Math.min(...this.due.values());
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => void this.runNext(), Math.max(0, next - Date.now()));
  }

  private async runNext(): Promise<void> {
    const now = Date.now();
    const key = [...this.due.entries()].filter(([, at]) => at <= now).sort(([, a], [, b]) => a - b)[0]?.[0];
    if (key === undefined || this.running) return this.schedule();
    this.due.delete(key);
    this.running = true;
    let done!: () => void;
    this.idle = new Promise((resolve) => (done = resolve));
    try {
      await this.work(key);
      this.failures.delete(key);
      this.notBefore.delete(key);
    } catch (error) {
      const attempts = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempts);
      const backoff = Math.min(this.options.baseMs * 2 ** (attempts - 1), this.options.maxMs);
      const retryAfterMs = retryAfterOf(error);
      const retryInMs = Math.max(backoff, retryAfterMs ?? 0);
      this.onError(key, error, retryInMs);
      // Whatever queued the key while it ran waits too: the retry replaces an earlier due time.
      this.notBefore.set(key, Date.now() + retryInMs);
      this.due.set(key, Date.now() + retryInMs);
    } finally {
      this.running = false;
      done();
      this.schedule();
    }
  }
}

/** The Retry-After of a 429 or 503 the client threw, in milliseconds. */
export function retryAfterOf(error: unknown): number | undefined {
  const headers = (error as { headers?: Record<string, string> } | undefined)?.headers;
  const value = headers?.['retry-after'] ?? headers?.['Retry-After'];
  const seconds = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}
