import { conflict, notFound, money, type Kysely } from '@scaleshop/platform';
import * as repository from './repository.ts';
import type { NewProduct, Product, ProductQuery } from './repository.ts';
import type { ProductDatabase } from './schema.ts';

/**
 * The catalog is read far more often than written, so reads are served from memory.
 * Every replica drops its cache when Postgres notifies a product change, and entries also
 * expire after `cacheTtlMs` as a bound on staleness should a notification be missed.
 */
export interface Catalog {
  getProduct(id: number): Promise<Product>;
  listProducts(query: ProductQuery): Promise<{ items: Product[]; total: number }>;
  createProduct(product: NewProduct): Promise<Product>;
  setStock(id: number, stock: number): Promise<Product>;
  /** Forgets one product (and every list, as any may show it), or everything when no id is given. */
  invalidate(productId?: number): void;
}

const maxCachedLists = 1_000;

export function createCatalog(db: Kysely<ProductDatabase>, options: { cacheTtlMs: number }): Catalog {
  const products = new Map<number, { value: Product | undefined; expires: number }>();
  const lists = new Map<string, { value: { items: Product[]; total: number }; expires: number }>();
  // Bumped on every invalidation so that a read begun before a change cannot store its stale
  // result after it; kept per product, so a change to one does not keep the others uncached.
  let generation = 0;
  let everythingChangedAt = 0;
  const productChangedAt = new Map<number, number>();
  const unchangedSince = (id: number, readGeneration: number) => everythingChangedAt <= readGeneration && (productChangedAt.get(id) ?? 0) <= readGeneration;

  const invalidate = (productId?: number) => {
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
  };

  /** Cached products as they are (an id found missing is cached too), the rest read in one query; no count, as the ids bound the result. */
  const lookUp = async (ids: readonly number[], page: { limit: number; offset: number }): Promise<{ items: Product[]; total: number }> => {
    const now = performance.now();
    const found = new Map<number, Product>();
    const missing: number[] = [];
    for (const id of ids) {
      const cached = products.get(id);
      if (!cached || cached.expires <= now) missing.push(id);
      else if (cached.value) found.set(id, cached.value);
    }
    if (missing.length > 0) {
      const readGeneration = generation;
      const read = new Map((await repository.findProducts(db, missing)).map((product) => [product.id, product]));
      for (const id of missing) {
        const product = read.get(id);
        if (product) found.set(id, product);
        if (unchangedSince(id, readGeneration) && options.cacheTtlMs > 0) products.set(id, { value: product, expires: performance.now() + options.cacheTtlMs });
      }
    }
    const items = ids.flatMap((id) => found.get(id) ?? []);
    return { items: items.slice(page.offset, page.offset + page.limit), total: items.length };
  };

  return {
    invalidate,

    async getProduct(id) {
      const [product] = (await lookUp([id], { limit: 1, offset: 0 })).items;
      if (!product) throw notFound(`product ${id} not found`, 'PRODUCT_NOT_FOUND');
      return product;
    },

    async listProducts(query) {
      // A lookup by ids (the cart pricing its lines) is served product by product, so that a
      // change to one product, such as each reservation's stock, does not send it to Postgres.
      if (query.ids !== undefined && query.category === undefined) return lookUp([...new Set(query.ids)].sort((a, b) => a - b), query);
      const key = JSON.stringify([query.category?.toLowerCase(), query.ids, query.limit, query.offset]);
      const cached = lists.get(key);
      if (cached && cached.expires > performance.now()) return cached.value;
      const readGeneration = generation;
      const result = await repository.listProducts(db, query);
      if (readGeneration === generation && options.cacheTtlMs > 0) {
        if (lists.size >= maxCachedLists) lists.clear();
        lists.set(key, { value: result, expires: performance.now() + options.cacheTtlMs });
      }
      return result;
    },

    async createProduct(product) {
      const created = await repository.insertProduct(db, { ...product, price: money.normalize(product.price) });
      invalidate(created?.id);
      if (!created) throw conflict(`a product named "${product.name}" already exists`, 'PRODUCT_EXISTS');
      return created;
    },

    async setStock(id, stock) {
      const updated = await repository.updateStock(db, id, stock);
      invalidate(id);
      if (!updated) throw notFound(`product ${id} not found`, 'PRODUCT_NOT_FOUND');
      return updated;
    },
  };
}
