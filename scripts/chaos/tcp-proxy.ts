/**
 * A TCP proxy the chaos run puts between one service and Postgres or RabbitMQ, to add latency to
 * that path or cut it, as Toxiproxy does. Toxiproxy itself is a Go server that neither npm nor
 * Debian 12 ships (npm has only its clients), and the npm TCP proxies forward bytes but have no
 * faults, so this one is a few lines over node:net.
 *
 * - `delay(ms)`: every chunk, in both directions, is held for `ms` before it is passed on (in
 *   order), as a slow network path would.
 * - `cut()`: every open connection is reset and new ones are reset as they arrive, as a
 *   partition would look to the service; `restore()` lets connections through again.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** The target's host and port. */
  target: { host: string; port: number };
  delay(ms: number): void;
  cut(): void;
  restore(): void;
  readonly mode: 'pass' | 'delay' | 'cut';
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, listenPort = 0): Promise<TcpProxy> {
  let delayMs = 0;
  let cut = false;
  const pairs = new Set<[Socket, Socket]>();

  /** Passes `from`'s bytes to `to`, each chunk after the current delay, never out of order. */
  const pipe = (from: Socket, to: Socket) => {
    let last = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (delayMs === 0) {
        // The chain may still hold delayed chunks: those go first.
        last = last.then(() => void (to.destroyed || to.write(chunk)));
        return;
      }
      // Due `delayMs` after it arrived: a latency, not a throttle, so chunks in a row wait together.
      const due = performance.now() + delayMs;
      last = last.then(() => new Promise<void>((resolve) => setTimeout(() => resolve(void (to.destroyed || to.write(chunk))), Math.max(0, due - performance.now()))));
    });
    from.on('end', () => void last.then(() => to.end()));
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    if (cut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    pipe(client, upstream);
    pipe(upstream, client);
    client.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });

  return {
    port: (server.address() as AddressInfo).port,
    target,
    get mode() {
      return cut ? 'cut' : delayMs > 0 ? 'delay' : 'pass';
    },
    delay(ms) {
      delayMs = ms;
    },
    cut() {
      cut = true;
      for (const [client, upstream] of pairs) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    restore() {
      cut = false;
      delayMs = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [client, upstream] of pairs) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
