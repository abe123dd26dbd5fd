/**
 * The reconcile loop. Informers (list, then watch from the list's resourceVersion; a 410 Gone
 * relists) keep a cache of the Shops of one namespace and of every object they own. A change
 * to either queues the Shop; a reconcile compares what the Shop wants with the cache and writes
 * only what differs: server-side apply of a missing or changed object (or of one whose fields
 * were edited by hand), delete of one no longer wanted, and the status when it changed. A quiet
 * cluster sees no writes.
 */
import * as k8s from '@kubernetes/client-node';
import { pausedAnnotation } from '@scaleshop/cdk8s/src/crd.ts';
import { autoscalerKind } from '@scaleshop/cdk8s/src/autoscaling.ts';
import { shopGroup, shopPlural, shopVersion, type Condition, type ShopStatus } from '@scaleshop/cdk8s/src/shop-spec.ts';
import { appServiceNames } from '@scaleshop/cdk8s/src/topology.ts';
import type { Logger } from '@scaleshop/platform';
import { appliedHashAnnotation, configOf, desiredObjects, shopLabel, shopProblems, type KubeObject, type Shop } from './desired.ts';
import { holdsDesired } from './drift.ts';
import { restartingInformer, toModel, toWire, type Informer } from './informer.ts';
import { SecretMaker } from './secrets.ts';
import { collectionPath, kedaGroupVersion, kindKey, ownedKinds } from './kinds.ts';
import { WorkQueue, type BackoffOptions } from './work-queue.ts';

export const fieldManager = 'scaleshop-operator';

export interface ReconcileMetrics {
  reconciled(outcome: 'success' | 'error', seconds: number): void;
}

export interface OperatorOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly namespace: string;
  readonly logger: Logger;
  readonly metrics?: ReconcileMetrics;
  readonly backoff?: BackoffOptions;
  /** How long to wait before restarting an informer that stopped on an error. */
  readonly informerRestartMs?: number;
  /**
   * Every Shop is reconciled this often even without a change (from the caches: no request, and
   * no write where nothing differs), so that a status or a decision that a missed event left
   * stale is corrected.
   */
  readonly resyncMs?: number;
}

interface WorkloadLike extends KubeObject {
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; replicas?: number };
}

export class Operator {
  private readonly options: OperatorOptions;
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly customObjects: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly secrets: SecretMaker;
  private readonly informers = new Map<string, Informer>();
  private shops!: Informer;
  private keda = false;
  private readonly queue: WorkQueue;
  private stopped = false;
  private synced = false;
  private resync: NodeJS.Timeout | undefined;

  constructor(options: OperatorOptions) {
    this.options = options;
    this.objects = k8s.KubernetesObjectApi.makeApiClient(options.kubeConfig);
    this.customObjects = options.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.secrets = new SecretMaker(options.kubeConfig);
    this.queue = new WorkQueue(options.backoff ?? { baseMs: 1000, maxMs: 5 * 60_000 }, (key) => this.reconcileKey(key), (key, error, retryInMs) =>
      options.logger.warn({ shop: key, err: error, retry_in_ms: retryInMs }, 'reconcile failed'),
    );
  }

  /** True once every informer has listed: before, the caches cannot tell missing from unknown. */
  get ready(): boolean {
    return this.synced && !this.stopped;
  }

  async start(): Promise<void> {
    const { namespace } = this.options;
    this.keda = await this.kedaInstalled();
    this.options.logger.info({ namespace, keda: this.keda }, 'starting informers');
    const kinds = ownedKinds.filter((kind) => !kind.keda || this.keda);
    for (const kind of kinds) {
      const path = collectionPath(kind.apiVersion, kind.plural, namespace);
      const informer = this.informer(path, shopLabel, (object) => {
        const owner = object.metadata.labels?.[shopLabel];
        if (owner) this.queue.add(`${namespace}/${owner}`);
      });
      this.informers.set(kindKey(kind.apiVersion, kind.kind), informer);
    }
    this.shops = this.informer(collectionPath(`${shopGroup}/${shopVersion}`, shopPlural, namespace), undefined, (shop) => this.queue.add(`${namespace}/${shop.metadata.name}`));
    await Promise.all([...this.informers.values(), this.shops].map((informer) => informer.start()));
    this.synced = true;
    const queueAll = () => {
      for (const shop of this.shops.list(namespace)) this.queue.add(`${namespace}/${shop.metadata.name}`);
    };
    queueAll();
    this.resync = setInterval(queueAll, this.options.resyncMs ?? 10 * 60_000);
    this.resync.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resync);
    await this.queue.stop();
    await Promise.all([...this.informers.values(), this.shops].filter(Boolean).map((informer) => informer.stop()));
  }

  private informer(path: string, labelSelector: string | undefined, changed: (object: KubeObject) => void): Informer {
    const list = async () => {
      const listed = (await this.objects.list(...listArguments(path, labelSelector))) as unknown as k8s.KubernetesListObject<KubeObject>;
      return { ...listed, items: listed.items.map(toWire) };
    };
    return restartingInformer({ kubeConfig: this.options.kubeConfig, path, list, labelSelector, changed, logger: this.options.logger, restartMs: this.options.informerRestartMs ?? 5000, stopped: () => this.stopped });
  }

  /** Discovery (GET /apis), which every authenticated user may read. */
  private async kedaInstalled(): Promise<boolean> {
    const groups = await this.options.kubeConfig.makeApiClient(k8s.ApisApi).getAPIVersions();
    return groups.groups.some((group) => group.versions.some((version) => version.groupVersion === kedaGroupVersion));
  }

  private async reconcileKey(key: string): Promise<void> {
    const started = performance.now();
    try {
      await this.reconcile(key);
      this.options.metrics?.reconciled('success', (performance.now() - started) / 1000);
    } catch (error) {
      this.options.metrics?.reconciled('error', (performance.now() - started) / 1000);
      throw error;
    }
  }

  private async reconcile(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const shop = this.shops.get(name, namespace);
    // Gone: the garbage collector deletes what it owned, through the owner references.
    if (!shop || shop.metadata.deletionTimestamp) return;
    if (shop.metadata.annotations?.[pausedAnnotation] === 'true') {
      this.options.logger.debug({ shop: key }, 'paused: nothing applied');
      return;
    }
    const problems = shopProblems(shop);
    if (problems.length > 0) {
      const message = problems.join('; ');
      await this.writeStatus(shop, { ready: false, reason: 'InvalidSpec', message, degraded: { reason: 'InvalidSpec', message } });
      return;
    }
    const desired = desiredObjects(shop, { keda: this.keda });
    const failures: string[] = [];
    let firstError: unknown;
    // Before the workloads that read them: a pod whose Secret is missing does not start.
    try {
      const made = await this.secrets.ensure(shop, configOf(shop));
      if (made.length > 0) this.options.logger.info({ shop: key, secrets: made }, 'made the missing Secrets');
    } catch (error) {
      firstError = error;
      failures.push(`Secrets: ${describe(error)}`);
      await this.event(shop, 'SecretFailed', describe(error));
    }
    for (const object of desired) {
      const live = this.informers.get(kindKey(object.apiVersion, object.kind))?.get(object.metadata.name, namespace);
      const model = toModel(object);
      // Unchanged since it was applied, and no hand edit of a field the operator set: no write.
      // Compared as sent, that is as the model of its kind serializes it.
      if (live && live.metadata.annotations?.[appliedHashAnnotation] === object.metadata.annotations?.[appliedHashAnnotation] && holdsDesired(live, toWire(model))) continue;
      try {
        await this.objects.patch(model, undefined, undefined, fieldManager, true, k8s.PatchStrategy.ServerSideApply);
      } catch (error) {
        firstError ??= error;
        failures.push(`${object.kind}/${object.metadata.name}: ${describe(error)}`);
        await this.event(shop, 'ApplyFailed', `${object.kind}/${object.metadata.name}: ${describe(error)}`);
      }
    }
    const wanted = new Set(desired.map((object) => `${object.apiVersion} ${object.kind} ${object.metadata.name}`));
    for (const informer of this.informers.values()) {
      for (const live of informer.list(namespace)) {
        const owned = live.metadata.ownerReferences?.some((reference) => reference.uid === shop.metadata.uid);
        if (!owned || wanted.has(`${live.apiVersion} ${live.kind} ${live.metadata.name}`)) continue;
        try {
          await this.objects.delete(live);
        } catch (error) {
          if ((error as { code?: number }).code !== 404) {
            firstError ??= error;
            failures.push(`deleting ${live.kind}/${live.metadata.name}: ${describe(error)}`);
          }
        }
      }
    }
    await this.writeStatus(shop, this.health(shop, failures));
    if (firstError) throw firstError;
  }

  /** What the caches say of the Shop's workloads, and why it is not Ready when it is not. */
  private health(shop: Shop, failures: string[]): StatusInput {
    const namespace = shop.metadata.namespace ?? '';
    const config = configOf(shop);
    const services: NonNullable<ShopStatus['services']> = {};
    const waiting: string[] = [];
    for (const service of appServiceNames) {
      const deployment = this.informers.get(kindKey('apps/v1', 'Deployment'))?.get(service, namespace) as WorkloadLike | undefined;
      const desiredReplicas = deployment?.spec?.replicas ?? 1;
      const readyReplicas = deployment?.status?.readyReplicas ?? 0;
      services[service] = { readyReplicas, desiredReplicas };
      if (readyReplicas < desiredReplicas) waiting.push(service);
    }
    for (const statefulSet of this.informers.get(kindKey('apps/v1', 'StatefulSet'))?.list(namespace) ?? []) {
      const workload = statefulSet as WorkloadLike;
      if ((workload.status?.readyReplicas ?? 0) < (workload.spec?.replicas ?? 1)) waiting.push(workload.metadata.name);
    }
    const withoutKeda = this.keda ? [] : appServiceNames.filter((service) => config.services[service].autoscaling?.enabled && autoscalerKind(service) === 'keda');
    const servicesReady = `${appServiceNames.length - waiting.filter((name) => (appServiceNames as readonly string[]).includes(name)).length}/${appServiceNames.length}`;
    if (failures.length > 0) return { ready: false, reason: 'ApplyFailed', message: failures.join('; '), degraded: { reason: 'ApplyFailed', message: failures.join('; ') }, services, servicesReady };
    const degraded =
      withoutKeda.length > 0
        ? { reason: 'KedaNotInstalled', message: `KEDA is not installed (no API ${kedaGroupVersion}): ${withoutKeda.join(', ')} cannot autoscale on queue length` }
        : undefined;
    if (waiting.length > 0) return { ready: false, reason: 'WorkloadsNotReady', message: `waiting for ${waiting.join(', ')}`, ...(degraded ? { degraded } : {}), services, servicesReady };
    return { ready: true, reason: 'AllReady', message: 'every object is applied and every workload is ready', ...(degraded ? { degraded } : {}), services, servicesReady };
  }

  private async writeStatus(shop: Shop, input: StatusInput): Promise<void> {
    const status = statusOf(shop, input);
    const { conditions: _old, ...current } = shop.status ?? {};
    const { conditions: _new, ...next } = status;
    if (JSON.stringify(current) === JSON.stringify(next) && sameConditions(shop.status?.conditions ?? [], status.conditions ?? [])) return;
    await this.customObjects.patchNamespacedCustomObjectStatus(
      { group: shopGroup, version: shopVersion, namespace: shop.metadata.namespace ?? '', plural: shopPlural, name: shop.metadata.name, body: { status } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  private async event(shop: Shop, reason: string, message: string): Promise<void> {
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace: shop.metadata.namespace ?? '',
        body: {
          metadata: { generateName: `${shop.metadata.name}.`, namespace: shop.metadata.namespace ?? '' },
          involvedObject: { apiVersion: shop.apiVersion, kind: shop.kind, name: shop.metadata.name, namespace: shop.metadata.namespace ?? '', uid: shop.metadata.uid ?? '' },
          reason,
          message: message.slice(0, 1024),
          type: 'Warning',
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          source: { component: fieldManager },
        },
      });
    } catch (error) {
      this.options.logger.warn({ err: error, reason }, 'could not record an event');
    }
  }
}

interface StatusInput {
  ready: boolean;
  /** Why Ready is as it is. */
  reason: string;
  message: string;
  /** Something the operator cannot fix by waiting. */
  degraded?: { reason: string; message: string };
  services?: ShopStatus['services'];
  servicesReady?: string;
}

function statusOf(shop: Shop, input: StatusInput): ShopStatus {
  const generation = shop.metadata.generation ?? 0;
  const previous = new Map((shop.status?.conditions ?? []).map((condition) => [condition.type, condition]));
  const condition = (type: string, holds: boolean, reason: string, message: string): Condition => {
    const status = holds ? 'True' : 'False';
    const before = previous.get(type);
    // lastTransitionTime moves only when the status does.
    const lastTransitionTime = before && before.status === status ? before.lastTransitionTime : new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return { type, status, observedGeneration: generation, lastTransitionTime, reason, message };
  };
  return {
    observedGeneration: generation,
    conditions: [
      condition('Ready', input.ready, input.reason, input.message),
      condition('Progressing', !input.ready && input.reason === 'WorkloadsNotReady', input.ready ? 'AllReady' : input.reason, input.ready ? 'nothing left to do' : input.message),
      condition('Degraded', input.degraded !== undefined, input.degraded?.reason ?? 'AsExpected', input.degraded?.message ?? 'nothing is wrong'),
    ],
    ...(input.services ? { services: input.services } : {}),
    ...(input.servicesReady ? { servicesReady: input.servicesReady } : {}),
  };
}

function sameConditions(a: readonly Condition[], b: readonly Condition[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function describe(error: unknown): string {
  const apiError = error as { code?: number; body?: unknown; message?: string };
  if (typeof apiError.code === 'number') {
    const body = typeof apiError.body === 'string' ? apiError.body : JSON.stringify(apiError.body);
    return `HTTP ${apiError.code}${body ? ` ${body.slice(0, 300)}` : ''}`;
  }
  return apiError.message ?? String(error);
}

/** The arguments of KubernetesObjectApi.list for a collection path. */
function listArguments(path: string, labelSelector: string | undefined): Parameters<k8s.KubernetesObjectApi['list']> {
  const match = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))\/namespaces\/([^/]+)\/([^/]+)$/.exec(path);
  if (!match) throw new Error(`not a namespaced collection: ${path}`);
  const apiVersion = match[1] ?? match[2] ?? '';
  const kind = ownedKinds.find((candidate) => candidate.apiVersion === apiVersion && candidate.plural === match[4])?.kind ?? 'Shop';
  return [apiVersion, kind, match[3], undefined, undefined, undefined, undefined, labelSelector];
}

