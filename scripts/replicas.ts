/**
 * Replica counts of a running local shop, as `kubectl scale` changes a Deployment's: the
 * launcher (`npm start`) serves its counts on a Unix socket under .local/, and `npm run scale`
 * reads and changes them through it.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { dirname } from 'node:path';

export const maxReplicas = 32;

export interface ReplicaState {
  replicas: number;
  pids: number[];
  /** Each replica's own /metrics: replicas share the service's port, so each also has one of its own. */
  metrics: string[];
}

export type ReplicaCounts = Record<string, number>;

export class UsageError extends Error {}

/**
 * `product=2,payment=3` (or the same as separate arguments) as counts per service. Every
 * problem is found before anything changes: an unknown service (the message lists the valid
 * ones), a count that is not a whole number from 0 to 32, a service named twice.
 */
export function parseReplicaCounts(specs: readonly string[], services: readonly string[]): ReplicaCounts {
  const counts: ReplicaCounts = {};
  const problems: string[] = [];
  for (const spec of specs.flatMap((text) => text.split(',')).map((text) => text.trim()).filter(Boolean)) {
    const match = /^([^=]+)=(.*)$/.exec(spec);
    if (!match) {
      problems.push(`"${spec}" is not <service>=<replicas>`);
      continue;
    }
    const [, service, count] = match as unknown as [string, string, string];
    if (!services.includes(service)) problems.push(`unknown service "${service}"; the services are ${services.join(', ')}`);
    else if (service in counts) problems.push(`${service} is named twice`);
    if (!/^\d+$/.test(count) || Number(count) > maxReplicas) problems.push(`the replicas of ${service} must be a whole number from 0 to ${maxReplicas}, got "${count}"`);
    else counts[service] = Number(count);
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return counts;
}

export interface ReplicaControl {
  state(): Record<string, ReplicaState>;
  scale(counts: ReplicaCounts): Promise<void>;
  services: readonly string[];
}

/** Serves the launcher's replica counts on `socketPath`: GET /replicas, PUT /replicas {"payment": 3}. */
export async function serveReplicaControl(socketPath: string, control: ReplicaControl): Promise<{ close(): Promise<void> }> {
  mkdirSync(dirname(socketPath), { recursive: true });
  // A socket file left by a launcher that was killed; a live one answers, and the caller refused to start.
  if (existsSync(socketPath)) rmSync(socketPath);
  let queue: Promise<unknown> = Promise.resolve();
  const server: Server = createServer(async (req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.url !== '/replicas') return answer(404, { error: 'only /replicas is served' });
      if (req.method === 'GET') return answer(200, control.state());
      if (req.method !== 'PUT') return answer(405, { error: 'GET or PUT /replicas' });
      const body = JSON.parse(await readBody(req)) as unknown;
      if (typeof body !== 'object' || body === null) return answer(400, { error: 'the body is {"<service>": <replicas>}' });
      const counts = parseReplicaCounts(Object.entries(body).map(([service, count]) => `${service}=${String(count)}`), control.services);
      // One change at a time, as a controller reconciles one spec after the other.
      const done = queue.then(() => control.scale(counts));
      queue = done.catch(() => {});
      await done;
      return answer(200, control.state());
    } catch (error) {
      return answer(error instanceof UsageError || error instanceof SyntaxError ? 400 : 500, { error: (error as Error).message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Asks the launcher listening on `socketPath`; a missing or dead socket means no local shop is running. */
export function askReplicaControl(socketPath: string, method: 'GET' | 'PUT', body?: ReplicaCounts): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/replicas', method, headers: { 'content-type': 'application/json' } }, async (res) => {
      try {
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(await readBody(res)) });
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      reject(['ENOENT', 'ECONNREFUSED'].includes(error.code ?? '') ? new UsageError('no local shop is running (start one with npm start)') : error),
    );
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function readBody(stream: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
