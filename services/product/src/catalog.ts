import { conflict, notFound, money, type Kysely } from '@scaleshop/platform';
import * as repository from './repository.ts';
import type { NewProduct, Product, ProductQuery } from './repository.ts';
import type { ProductDatabase } from './schema.ts';
import type { CatalogCache } from './cache.ts';

/**
 * The catalog is read far more often than written, so reads go through a cache (PRODUCT_CACHE:
 * local, redis or off, see cache.ts). Every replica invalidates it when Postgres notifies a
 * product change.
 */
export interface Catalog {
  getProduct(id: number): Promise<Product>;
  listProducts(query: ProductQuery): Promise<{ items: Product[]; total: number }>;
  createProduct(product: NewProduct): Promise<Product>;
  setStock(id: number, stock: number): Promise<Product>;
  /** Forgets one product (and every list, as any may show it), or everything when no id is given. */
  invalidate(productId?: number): Promise<void>;
}

export function createCatalog(db: Kysely<ProductDatabase>, cache: CatalogCache): Catalog {
  /** Cached products as they are (an id found missing is cached too), the rest read in one query; no count, as the ids bound the result. */
  const lookUp = async (ids: readonly number[], page: { limit: number; offset: number }): Promise<{ items: Product[]; total: number }> => {
    const cached = await cache.getProducts(ids);
    const found = new Map<number, Product>();
    const missing: number[] = [];
    for (const id of ids) {
      const hit = cached.get(id);
      if (hit === undefined) missing.push(id);
      else if (hit.product) found.set(id, hit.product);
    }
    if (missing.length > 0) {
      const read = cache.readBegins();
      const fromDatabase = new Map((await repository.findProducts(db, missing)).map((product) => [product.id, product]));
      for (const product of fromDatabase.values()) found.set(product.id, product);
      await cache.storeProducts(read, new Map(missing.map((id) => [id, fromDatabase.get(id)])));
    }
    const items = ids.flatMap((id) => found.get(id) ?? []);
    return { items: items.slice(page.offset, page.offset + page.limit), total: items.length };
  };

  const invalidate = (productId?: number) => cache.invalidate(productId);

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
      const cached = await cache.getList(key);
      if (cached) return cached;
      const read = cache.readBegins();
      const result = await repository.listProducts(db, query);
      await cache.storeList(read, key, result);
      return result;
    },

    async createProduct(product) {
      const created = await repository.insertProduct(db, { ...product, price: money.normalize(product.price) });
      await invalidate(created?.id);
      if (!created) throw conflict(`a product named "${product.name}" already exists`, 'PRODUCT_EXISTS');
      return created;
    },

    async setStock(id, stock) {
      const updated = await repository.updateStock(db, id, stock);
      await invalidate(id);
      if (!updated) throw notFound(`product ${id} not found`, 'PRODUCT_NOT_FOUND');
      return updated;
    },
  };
}
