import { Redis } from 'ioredis';
import type { ConfigOf, Logger } from '@scaleshop/platform';
import type { productConfig } from './config.ts';
import type { Product } from './repository.ts';

export type ProductList = { items: Product[]; total: number };

/** A read from the cache: the product, or that the product does not exist, or nothing known. */
export type CachedProduct = { product: Product | undefined } | undefined;

/**
 * Where catalog reads are kept between requests (PRODUCT_CACHE):
 * - `local`: in each replica's memory, dropped by every replica when Postgres NOTIFYs a change;
 * - `redis`: one cache shared by the replicas, with TTLs and invalidation on every change, as
 *   the Python version had; when Redis cannot be reached, reads go to Postgres instead;
 * - `off`: every read goes to Postgres.
 *
 * A read that began before a change must not store what it read after the change's
 * invalidation: `readBegins()` returns a mark that `store*` checks.
 */
export interface CatalogCache {
  readonly mode: CacheMode;
  readBegins(): ReadMark;
  getProducts(ids: readonly number[]): Promise<Map<number, CachedProduct>>;
  storeProducts(read: ReadMark, products: ReadonlyMap<number, Product | undefined>): Promise<void>;
  getList(key: string): Promise<ProductList | undefined>;
  storeList(read: ReadMark, key: string, list: ProductList): Promise<void>;
  /** Forgets one product (and every list, as any may show it), or everything when no id is given. */
  invalidate(productId?: number): Promise<void>;
  close(): Promise<void>;
}

export type CacheMode = ConfigOf<typeof productConfig>['PRODUCT_CACHE'];

export interface ReadMark {
  generation: number;
  /** The shared cache's list version when the read began. */
  listVersion?: string;
}

const maxCachedLists = 1_000;

/**
 * Every replica's own cache. A generation counter, bumped on every invalidation, keeps a read
 * begun before a change from storing its stale result after it; kept per product, so a change
 * to one does not keep the others uncached.
 */
export function localCache(options: { ttlMs: number }): CatalogCache {
  const products = new Map<number, { value: Product | undefined; expires: number }>();
  const lists = new Map<string, { value: ProductList; expires: number }>();
  let generation = 0;
  let everythingChangedAt = 0;
  const productChangedAt = new Map<number, number>();
  const unchangedSince = (id: number, read: ReadMark) => everythingChangedAt <= read.generation && (productChangedAt.get(id) ?? 0) <= read.generation;

  return {
    mode: 'local',
    readBegins: () => ({ generation }),
    async getProducts(ids) {
      const now = performance.now();
      return new Map(
        ids.map((id) => {
          const cached = products.get(id);
          return [id, cached && cached.expires > now ? { product: cached.value } : undefined];
        }),
      );
    },
    async storeProducts(read, read_products) {
      if (options.ttlMs <= 0) return;
      for (const [id, product] of read_products) {
        if (unchangedSince(id, read)) products.set(id, { value: product, expires: performance.now() + options.ttlMs });
      }
    },
    async getList(key) {
      const cached = lists.get(key);
      return cached && cached.expires > performance.now() ? cached.value : undefined;
    },
    async storeList(read, key, list) {
      if (options.ttlMs <= 0 || read.generation !== generation) return;
      if (lists.size >= maxCachedLists) lists.clear();
      lists.set(key, { value: list, expires: performance.now() + options.ttlMs });
    },
    async invalidate(productId) {
      generation++;
      if (productId === undefined || !Number.isInteger(productId)) {
        products.clear();
        productChangedAt.clear();
        everythingChangedAt = generation;
      } else {
        products.delete(productId);
        productChangedAt.set(productId, generation);
      }
      lists.clear();
    },
    async close() {},
  };
}

export function noCache(): CatalogCache {
  return {
    mode: 'off',
    readBegins: () => ({ generation: 0 }),
    getProducts: async (ids) => new Map(ids.map((id) => [id, undefined])),
    storeProducts: async () => {},
    getList: async () => undefined,
    storeList: async () => {},
    invalidate: async () => {},
    close: async () => {},
  };
}

/** The Python version's TTLs: lists 60 s, items 300 s. */
export const redisTtlSeconds = { list: 60, item: 300 } as const;

const productKey = (id: number) => `scaleshop:product:${id}`;
const listVersionKey = 'scaleshop:products:list-version';
const listKey = (version: string, key: string) => `scaleshop:products:list:${version}:${key}`;

/**
 * The cache shared by every replica, in Redis. Items are deleted on every change; lists carry a
 * version in their key that every change increments, so all of them go with one command and
 * the old ones expire. Every replica hears every change (NOTIFY) and invalidates, so a read
 * that began in this replica before a change does not store after it. A read in another replica
 * racing the change can still store the old value: the TTLs bound how long it stays (the stock
 * a page shows; reservations are checked in Postgres, so this never oversells).
 *
 * When Redis fails, the call is answered from Postgres (a miss) and a warning is logged once per
 * outage; requests never fail because of the cache.
 */
export function redisCache(options: { url: string; logger: Logger; commandTimeoutMs?: number }): CatalogCache {
  const redis = new Redis(options.url, {
    // A command while disconnected fails at once instead of queueing: the read goes to Postgres.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 100,
    lazyConnect: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let failing = false;
  redis.on('error', () => {});
  redis.on('ready', () => {
    if (failing) options.logger.info('the Redis cache is reachable again');
    failing = false;
  });
  const degraded = <T>(fallback: T) => (error: unknown): T => {
    if (!failing) options.logger.warn({ err: error }, 'the Redis cache is unavailable; reading from Postgres until it is back');
    failing = true;
    return fallback;
  };
  // This replica's own invalidations, to keep its reads that began before them from storing.
  let generation = 0;

  return {
    mode: 'redis',
    readBegins() {
      return { generation };
    },
    async getProducts(ids) {
      if (ids.length === 0) return new Map();
      const values = await redis.mget(ids.map(productKey)).catch(degraded<(string | null)[]>(ids.map(() => null)));
      return new Map(ids.map((id, index) => [id, values[index] == null ? undefined : { product: (JSON.parse(values[index]!) as Product | null) ?? undefined }]));
    },
    async storeProducts(read, products) {
      if (read.generation !== generation || products.size === 0) return;
      const batch = redis.multi();
      for (const [id, product] of products) batch.set(productKey(id), JSON.stringify(product ?? null), 'EX', redisTtlSeconds.item);
      await batch.exec().catch(degraded(null));
    },
    async getList(key) {
      const version = (await redis.get(listVersionKey).catch(degraded<string | null>(null))) ?? '0';
      const value = await redis.get(listKey(version, key)).catch(degraded<string | null>(null));
      return value == null ? undefined : (JSON.parse(value) as ProductList);
    },
    async storeList(read, key, list) {
      if (read.generation !== generation) return;
      const version = (await redis.get(listVersionKey).catch(degraded<string | null>(null))) ?? '0';
      await redis.set(listKey(version, key), JSON.stringify(list), 'EX', redisTtlSeconds.list).catch(degraded(null));
    },
    async invalidate(productId) {
      generation++;
      if (productId === undefined || !Number.isInteger(productId)) {
        // Changes went unheard (a reconnection): drop every product; rare, so a scan is fine.
        await (async () => {
          for await (const keys of redis.scanStream({ match: productKey('*' as unknown as number), count: 500 }) as AsyncIterable<string[]>) {
            if (keys.length > 0) await redis.del(...keys);
          }
          await redis.incr(listVersionKey);
        })().catch(degraded(null));
        return;
      }
      await redis.multi().del(productKey(productId)).incr(listVersionKey).exec().catch(degraded(null));
    },
    async close() {
      redis.disconnect();
    },
  };
}
