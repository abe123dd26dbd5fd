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
  // Bumped on every invalidation so that a read begun before a change cannot store its stale result after it.
  let generation = 0;

  const invalidate = (productId?: number) => {
    generation++;
    if (productId === undefined || !Number.isInteger(productId)) products.clear();
    else products.delete(productId);
    lists.clear();
  };

  return {
    invalidate,

    async getProduct(id) {
      const cached = products.get(id);
      let product: Product | undefined;
      if (cached && cached.expires > performance.now()) {
        product = cached.value;
      } else {
        const readGeneration = generation;
        product = await repository.findProduct(db, id);
        if (readGeneration === generation && options.cacheTtlMs > 0) {
          products.set(id, { value: product, expires: performance.now() + options.cacheTtlMs });
        }
      }
      if (!product) throw notFound(`product ${id} not found`, 'PRODUCT_NOT_FOUND');
      return product;
    },

    async listProducts(query) {
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
