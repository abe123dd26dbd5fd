/**
 * Sync checkouts waiting for their order to change status, by order id. One LISTEN
 * connection per replica feeds `wake`; a waiter only learns "something changed" and
 * re-reads the order, so a missed or duplicate wake-up costs a read, never a wrong answer.
 */
export interface StatusWaiters {
  /** Settles when the order may have reached a final status (or on `wakeAll`/`close`); `cancel` when done waiting. */
  next(orderId: string): { changed: Promise<void>; cancel(): void };
  wake(orderId: string): void;
  /** After a lost LISTEN connection: notifications sent meanwhile are gone, so everyone re-reads. */
  wakeAll(): void;
  /** On shutdown: waiters answer with what they have instead of holding the server open. */
  close(): void;
  readonly closed: boolean;
}

export function createStatusWaiters(): StatusWaiters {
  const waiting = new Map<string, Set<() => void>>();
  let closed = false;

  const wakeAll = () => {
    const all = [...waiting.values()];
    waiting.clear();
    for (const resolvers of all) for (const resolve of resolvers) resolve();
  };

  return {
    next(orderId) {
      let resolve!: () => void;
      const changed = new Promise<void>((settle) => (resolve = settle));
      if (closed) {
        resolve();
        return { changed, cancel: () => {} };
      }
      let resolvers = waiting.get(orderId);
      if (!resolvers) waiting.set(orderId, (resolvers = new Set()));
      resolvers.add(resolve);
      return {
        changed,
        cancel() {
          const current = waiting.get(orderId);
          if (!current) return;
          current.delete(resolve);
          if (current.size === 0) waiting.delete(orderId);
        },
      };
    },
    wake(orderId) {
      const resolvers = waiting.get(orderId);
      if (!resolvers) return;
      waiting.delete(orderId);
      for (const resolve of resolvers) resolve();
    },
    wakeAll,
    close() {
      closed = true;
      wakeAll();
    },
    get closed() {
      return closed;
    },
  };
}
