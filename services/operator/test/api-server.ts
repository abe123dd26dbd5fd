/**
 * A stand-in for the Kubernetes API server, over HTTP, for the verbs the operator uses, as the
 * API documents them: list with a resourceVersion; watch from one, with 410 Gone (as an ERROR
 * event) for one older than the history kept; server-side apply (application/apply-patch+yaml,
 * fieldManager required, force) that creates a missing object and answers 409 when another
 * manager owns a field it sets without force (tracked for spec.replicas, the field at stake);
 * merge patch of /status; delete; owner references collected like the garbage collector; events;
 * discovery. Every request is recorded with the RBAC verb and resource it needs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ownedKinds } from '../src/kinds.ts';

export interface RecordedRequest {
  /** When it arrived (Date.now()). */
  at: number;
  /** The bearer token it came with: whose request it is. */
  token?: string;
  method: string;
  path: string;
  /** What RBAC authorizes it as. */
  verb: string;
  apiGroup: string;
  resource: string;
  /** The object's name, for a request on one object (what a Role's resourceNames restrict). */
  name?: string;
  namespace?: string;
  contentType?: string;
  query: Record<string, string>;
}

interface Stored {
  object: Record<string, any>;
  /** Who set spec.replicas last. */
  replicasManager?: string;
}

interface Fault {
  match: (request: RecordedRequest) => boolean;
  status: number;
  headers?: Record<string, string>;
}

/**
 * The kinds this stand-in serves, for discovery (what kubectl and client-node ask first): those a
 * Shop owns, Shops themselves, Events, and a ScalingExperiment's kinds. Which requests are
 * allowed is not taken from here but from the chart's Roles (the RBAC tests).
 */
const catalogue = [
  ...ownedKinds.map((kind) => ({ groupVersion: kind.apiVersion, kind: kind.kind, plural: kind.plural })),
  { groupVersion: 'scaleshop.dev/v1alpha1', kind: 'Shop', plural: 'shops' },
  { groupVersion: 'v1', kind: 'Event', plural: 'events' },
  { groupVersion: 'v1', kind: 'Secret', plural: 'secrets' },
  // What a ScalingExperiment reads and makes.
  { groupVersion: 'scaleshop.dev/v1alpha1', kind: 'ScalingExperiment', plural: 'scalingexperiments' },
  { groupVersion: 'batch/v1', kind: 'Job', plural: 'jobs' },
  { groupVersion: 'v1', kind: 'Pod', plural: 'pods' },
];

const pathPattern = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+)(?:\/(status|scale|log))?)?$/;

export class ApiServerStandIn {
  readonly requests: RecordedRequest[] = [];
  private readonly store = new Map<string, Stored>();
  private readonly history: { rv: number; collection: string; type: string; object: Record<string, any> }[] = [];
  private readonly watchers = new Set<{ collection: string; selector?: string; response: ServerResponse }>();
  private readonly faults: Fault[] = [];
  private rv = 1;
  /** Events before this resourceVersion are compacted away: a watch from before gets 410. */
  private compactedBefore = 0;
  private server: Server | undefined;
  private readonly kinds: Record<string, string> = {};
  kedaInstalled = false;

  /** Its address, once started. */
  url = '';

  async start(): Promise<string> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const watcher of this.watchers) watcher.response.end();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** The next request that matches answers with this status (once). */
  failNext(match: (request: RecordedRequest) => boolean, status: number, headers?: Record<string, string>): void {
    this.faults.push({ match, status, ...(headers ? { headers } : {}) });
  }

  /** Ends every open watch, as an API server does when its watch times out or restarts. */
  dropWatches(): void {
    for (const watcher of this.watchers) watcher.response.destroy();
    this.watchers.clear();
  }

  /** Forgets the event history: a watch resumed from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedBefore = this.rv;
    this.history.length = 0;
  }

  get(collection: string, name: string): Record<string, any> | undefined {
    return this.store.get(`${collection}/${name}`)?.object;
  }

  list(collection: string): Record<string, any>[] {
    return [...this.store.entries()].filter(([key]) => key.startsWith(`${collection}/`)).map(([, stored]) => stored.object);
  }

  /** A write by someone else (kubectl, a controller): creates or replaces fields, as that manager. */
  write(collection: string, object: Record<string, any>, manager: string): void {
    const key = `${collection}/${object.metadata.name}`;
    const existing = this.store.get(key);
    const merged = existing ? deepMerge(existing.object, object) : { ...object, metadata: { ...object.metadata, uid: crypto.randomUUID(), generation: 1 } };
    // metadata.generation counts changes of the spec, as the API server's does.
    if (existing && object.spec !== undefined && JSON.stringify(merged.spec) !== JSON.stringify(existing.object.spec)) merged.metadata.generation = (existing.object.metadata.generation ?? 1) + 1;
    const replicasManager = object.spec?.replicas !== undefined ? manager : existing?.replicasManager;
    this.save(collection, key, merged, existing ? 'MODIFIED' : 'ADDED', replicasManager);
  }

  /** Deletes an object, and what it owns (the garbage collector's part). */
  remove(collection: string, name: string): void {
    const key = `${collection}/${name}`;
    const stored = this.store.get(key);
    if (!stored) return;
    this.store.delete(key);
    this.emit(collection, 'DELETED', { ...stored.object, metadata: { ...stored.object.metadata, resourceVersion: String(++this.rv) } });
    const uid = stored.object.metadata.uid;
    for (const [otherKey, other] of [...this.store.entries()]) {
      if (other.object.metadata.ownerReferences?.some((reference: { uid: string }) => reference.uid === uid)) {
        const slash = otherKey.lastIndexOf('/');
        this.remove(otherKey.slice(0, slash), otherKey.slice(slash + 1));
      }
    }
  }

  private save(collection: string, key: string, object: Record<string, any>, type: string, replicasManager?: string): void {
    object.metadata.resourceVersion = String(++this.rv);
    this.store.set(key, { object, ...(replicasManager ? { replicasManager } : {}) });
    this.emit(collection, type, object);
  }

  private emit(collection: string, type: string, object: Record<string, any>): void {
    this.history.push({ rv: Number(object.metadata.resourceVersion), collection, type, object: structuredClone(object) });
    for (const watcher of this.watchers) {
      if (watcher.collection === collection && matchesSelector(object, watcher.selector)) watcher.response.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://stand-in');
    const query = Object.fromEntries(url.searchParams.entries());
    const body = await readBody(request);
    const match = pathPattern.exec(url.pathname);
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const recorded: RecordedRequest = { at: Date.now(), ...(token ? { token } : {}), method: request.method ?? '', path: url.pathname, verb: '', apiGroup: '', resource: '', query, ...(request.headers['content-type'] ? { contentType: request.headers['content-type'] } : {}) };
    if (!match) {
      recorded.verb = 'get';
      this.requests.push(recorded);
      const served = catalogue.filter((entry) => this.kedaInstalled || !entry.groupVersion.startsWith('keda.sh/'));
      if (url.pathname === '/apis') {
        const groupVersions = [...new Set(served.map((entry) => entry.groupVersion).filter((groupVersion) => groupVersion !== 'v1'))];
        return json(response, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: groupVersions.map((groupVersion) => ({ name: groupVersion.split('/')[0], versions: [{ groupVersion, version: groupVersion.split('/')[1] }] })) });
      }
      const groupVersion = url.pathname === '/api/v1' ? 'v1' : url.pathname.replace(/^\/apis\//, '');
      const resources = served.filter((entry) => entry.groupVersion === groupVersion);
      if (resources.length > 0) {
        return json(response, 200, {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion,
          resources: resources.map((entry) => ({ name: entry.plural, singularName: '', namespaced: true, kind: entry.kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'] })),
        });
      }
      return json(response, 404, status(404, 'NotFound', url.pathname));
    }
    const [, core, group, version, namespace, resource, name, subresource] = match as unknown as (string | undefined)[];
    if (!namespace || !resource) return json(response, 404, status(404, 'NotFound', url.pathname));
    const apiVersion = core ?? `${group}/${version}`;
    const collection = `${apiVersion}/${namespace}/${resource}`;
    recorded.apiGroup = group ?? '';
    recorded.resource = subresource ? `${resource}/${subresource}` : resource;
    recorded.namespace = namespace;
    if (name) recorded.name = name;
    // A patch of a subresource never creates: it is authorized as patch, and answers 404 if the object is gone.
    recorded.verb = verbOf(request.method ?? '', name, query, subresource !== undefined || this.store.has(`${collection}/${name}`));
    this.requests.push(recorded);
    const fault = this.faults.findIndex((candidate) => candidate.match(recorded));
    if (fault >= 0) {
      const [{ status: code, headers }] = this.faults.splice(fault, 1) as [Fault];
      response.writeHead(code, { 'content-type': 'application/json', ...headers });
      return void response.end(JSON.stringify(status(code, code === 429 ? 'TooManyRequests' : 'InternalError', 'injected')));
    }
    if (!this.kedaInstalled && group === 'keda.sh') return json(response, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const key = `${collection}/${name}`;
    if (subresource === 'scale' || subresource === 'log') return this.subresource(request, subresource, collection, key, body, query, response);
    switch (request.method) {
      case 'GET': {
        if (name) {
          const stored = this.store.get(key);
          return stored ? json(response, 200, stored.object) : json(response, 404, status(404, 'NotFound', key));
        }
        if (query.watch === 'true') return this.watch(response, collection, query);
        const items = this.list(collection).filter((object) => matchesSelector(object, query.labelSelector));
        return json(response, 200, { apiVersion, kind: 'List', metadata: { resourceVersion: String(this.rv) }, items });
      }
      case 'PATCH': {
        if (!name) return json(response, 405, status(405, 'MethodNotAllowed', 'patch a collection'));
        const contentType = request.headers['content-type'] ?? '';
        if (subresource === 'status') {
          const stored = this.store.get(key);
          if (!stored) return json(response, 404, status(404, 'NotFound', key));
          if (contentType !== 'application/merge-patch+json') return json(response, 415, status(415, 'UnsupportedMediaType', contentType));
          const patch = JSON.parse(body);
          // The status subresource changes status only.
          const updated = { ...stored.object, status: deepMerge(stored.object.status ?? {}, patch.status ?? {}) };
          this.save(collection, key, updated, 'MODIFIED', stored.replicasManager);
          return json(response, 200, updated);
        }
        if (contentType === 'application/merge-patch+json') {
          const stored = this.store.get(key);
          if (!stored) return json(response, 404, status(404, 'NotFound', key));
          const patch = JSON.parse(body);
          // A merge patch of the object leaves its status alone (that is the subresource's).
          const updated = deepMerge(stored.object, { ...patch, status: undefined });
          if (stored.object.status !== undefined) updated.status = stored.object.status;
          else delete updated.status;
          // An object being deleted goes once its last finalizer is removed.
          if (updated.metadata.deletionTimestamp && (updated.metadata.finalizers ?? []).length === 0) {
            this.store.set(key, { ...stored, object: updated });
            this.remove(collection, name);
            return json(response, 200, updated);
          }
          this.save(collection, key, updated, 'MODIFIED', stored.replicasManager);
          return json(response, 200, updated);
        }
        if (contentType !== 'application/apply-patch+yaml') return json(response, 415, status(415, 'UnsupportedMediaType', contentType));
        if (!query.fieldManager) return json(response, 422, status(422, 'Invalid', 'fieldManager is required for apply requests'));
        const applied = JSON.parse(body);
        if (applied.metadata?.name !== name) return json(response, 400, status(400, 'BadRequest', 'the name in the body does not match the path'));
        const stored = this.store.get(key);
        const setsReplicas = applied.spec?.replicas !== undefined;
        if (stored && setsReplicas && stored.replicasManager && stored.replicasManager !== query.fieldManager && query.force !== 'true') {
          return json(response, 409, status(409, 'Conflict', `Apply failed with 1 conflict: conflict with "${stored.replicasManager}": .spec.replicas`));
        }
        this.kinds[collection] = applied.kind;
        // Fields this manager no longer sets are dropped; others' (spec.replicas of kubectl scale) stay.
        const object = stored
          ? { ...applied, metadata: { ...applied.metadata, uid: stored.object.metadata.uid, generation: stored.object.metadata.generation }, status: stored.object.status, spec: { ...applied.spec, ...(setsReplicas ? {} : stored.object.spec?.replicas !== undefined && stored.replicasManager !== query.fieldManager ? { replicas: stored.object.spec.replicas } : {}) } }
          : { ...applied, metadata: { ...applied.metadata, uid: crypto.randomUUID(), generation: 1 } };
        if (object.spec && Object.keys(object.spec).length === 0 && !applied.spec) delete object.spec;
        this.save(collection, key, object, stored ? 'MODIFIED' : 'ADDED', setsReplicas ? query.fieldManager : stored?.replicasManager);
        return json(response, stored ? 200 : 201, object);
      }
      case 'DELETE': {
        const stored = this.store.get(key);
        if (!stored) return json(response, 404, status(404, 'NotFound', key));
        // With finalizers, a delete only marks the object; its controllers remove them.
        if ((stored.object.metadata.finalizers ?? []).length > 0) {
          if (!stored.object.metadata.deletionTimestamp) this.save(collection, key, { ...stored.object, metadata: { ...stored.object.metadata, deletionTimestamp: new Date().toISOString() } }, 'MODIFIED', stored.replicasManager);
          return json(response, 200, this.store.get(key)!.object);
        }
        this.remove(collection, name!);
        return json(response, 200, status(200, 'Success', 'deleted'));
      }
      case 'POST': {
        const object = JSON.parse(body);
        object.metadata.name ??= `${object.metadata.generateName ?? 'object.'}${this.rv}`;
        if (this.store.has(`${collection}/${object.metadata.name}`)) return json(response, 409, { ...status(409, 'AlreadyExists', `${resource} "${object.metadata.name}" already exists`), details: { name: object.metadata.name, kind: resource } });
        object.metadata.uid ??= crypto.randomUUID();
        this.save(collection, `${collection}/${object.metadata.name}`, object, 'ADDED');
        return json(response, 201, object);
      }
      default:
        return json(response, 405, status(405, 'MethodNotAllowed', request.method ?? ''));
    }
  }

  /** The log of a pod, as a test's fake k6 wrote it: `${collection}/${pod}` → text. */
  readonly podLogs = new Map<string, string>();

  /**
   * The scale subresource of a Deployment (autoscaling/v1 Scale over its spec.replicas, which a
   * patch sets as the request's fieldManager), and a pod's log.
   */
  private subresource(request: IncomingMessage, subresource: 'scale' | 'log', collection: string, key: string, body: string, query: Record<string, string>, response: ServerResponse): void {
    const stored = this.store.get(key);
    if (!stored) return json(response, 404, status(404, 'NotFound', key));
    if (subresource === 'log') {
      if (request.method !== 'GET') return json(response, 405, status(405, 'MethodNotAllowed', request.method ?? ''));
      response.writeHead(200, { 'content-type': 'text/plain' });
      return void response.end(this.podLogs.get(key) ?? '');
    }
    const scaleOf = (object: Record<string, any>) => ({
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name: object.metadata.name, namespace: object.metadata.namespace, resourceVersion: object.metadata.resourceVersion },
      spec: { replicas: object.spec?.replicas ?? 1 },
      status: { replicas: object.status?.replicas ?? 0 },
    });
    if (request.method === 'GET') return json(response, 200, scaleOf(stored.object));
    if (request.method !== 'PATCH') return json(response, 405, status(405, 'MethodNotAllowed', request.method ?? ''));
    if (request.headers['content-type'] !== 'application/merge-patch+json') return json(response, 415, status(415, 'UnsupportedMediaType', request.headers['content-type'] ?? ''));
    const replicas = JSON.parse(body).spec?.replicas;
    if (!Number.isInteger(replicas) || replicas < 0) return json(response, 422, status(422, 'Invalid', 'spec.replicas must be a non-negative integer'));
    const updated = { ...stored.object, spec: { ...stored.object.spec, replicas }, metadata: { ...stored.object.metadata, generation: (stored.object.metadata.generation ?? 1) + (replicas === stored.object.spec?.replicas ? 0 : 1) } };
    this.save(collection, key, updated, 'MODIFIED', query.fieldManager ?? stored.replicasManager);
    return json(response, 200, scaleOf(updated));
  }

  /** Who set a workload's spec.replicas last. */
  replicasManagerOf(collection: string, name: string): string | undefined {
    return this.store.get(`${collection}/${name}`)?.replicasManager;
  }

  private watch(response: ServerResponse, collection: string, query: Record<string, string>): void {
    response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // Headers go out now, as the API server's do: a quiet watch has no event to carry them.
    response.flushHeaders();
    const from = Number(query.resourceVersion || '0');
    if (from > 0 && from < this.compactedBefore) {
      response.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${this.compactedBefore})`) })}\n`);
      return;
    }
    for (const event of this.history) {
      if (event.collection === collection && event.rv > from && matchesSelector(event.object, query.labelSelector)) response.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
    }
    const watcher = { collection, ...(query.labelSelector ? { selector: query.labelSelector } : {}), response };
    this.watchers.add(watcher);
    response.on('close', () => this.watchers.delete(watcher));
  }
}

function verbOf(method: string, name: string | undefined, query: Record<string, string>, exists: boolean): string {
  switch (method) {
    case 'GET':
      return name ? 'get' : query.watch === 'true' ? 'watch' : 'list';
    // An apply that finds no object creates it, which RBAC authorizes as create.
    case 'PATCH':
      return exists ? 'patch' : 'create';
    case 'POST':
      return 'create';
    case 'DELETE':
      return 'delete';
    default:
      return method.toLowerCase();
  }
}

function matchesSelector(object: Record<string, any>, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    return value === undefined ? object.metadata?.labels?.[key!] !== undefined : object.metadata?.labels?.[key!] === value;
  });
}

function deepMerge(base: Record<string, any>, patch: Record<string, any>): Record<string, any> {
  const result: Record<string, any> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else if (typeof value === 'object' && !Array.isArray(value) && typeof base[key] === 'object' && base[key] !== null) result[key] = deepMerge(base[key], value);
    else result[key] = value;
  }
  return result;
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 400 ? 'Success' : 'Failure', message, reason, code };
}

function json(response: ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
