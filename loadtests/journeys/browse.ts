/**
 * browse: a visitor lists the catalog (the first page mostly, sometimes a category or a later
 * page) and opens one to three products. Which products are opened follows Zipf's law over the
 * catalog's order, so the product service's cache sees a few hot entries and a long tail.
 */
import { pickDistinct, randomInt, zipfSampler } from '../lib/random.ts';
import type { LoadRuntime, Scenario } from '../lib/runtime.ts';
import { isMoney, isObject, listCatalog, type Product } from '../lib/shop.ts';

export interface BrowseData {
  productIds: number[];
  categories: string[];
  total: number;
}

const pageSize = 20;
/** Shares of the listing requests: the rest is the first page of everything. */
const categoryShare = 0.3;
const laterPageShare = 0.2;

let popularity: { size: number; rank: () => number } | undefined;

export async function prepareBrowsing(runtime: LoadRuntime): Promise<BrowseData> {
  const catalog = await listCatalog(runtime);
  if (catalog.length === 0) throw new Error('the catalog is empty: browse needs products');
  return {
    productIds: catalog.map((product) => product.id),
    categories: [...new Set(catalog.map((product) => product.category))],
    total: catalog.length,
  };
}

export async function browseOnce(runtime: LoadRuntime, data: BrowseData): Promise<void> {
  const draw = Math.random();
  let query = `limit=${pageSize}`;
  let category: string | undefined;
  if (draw < categoryShare) {
    category = pickDistinct(data.categories, 1)[0]!;
    query += `&category=${encodeURIComponent(category)}`;
  } else if (draw < categoryShare + laterPageShare && data.total > pageSize) {
    query += `&offset=${pageSize * randomInt(1, Math.ceil(data.total / pageSize) - 1)}`;
  }
  const listing = await runtime.http.request({ method: 'GET', path: `/api/products?${query}`, name: 'GET /api/products' });
  const items = isObject(listing.json) && Array.isArray(listing.json.items) ? (listing.json.items as Product[]) : undefined;
  runtime.check(listing, {
    'catalog: 200': (r) => r.status === 200,
    'catalog: a page of products and the total': () => items !== undefined && items.length <= pageSize && isObject(listing.json) && typeof listing.json.total === 'number',
    'catalog: only the category asked for': () => category === undefined || (items ?? []).every((item) => item.category === category),
  });

  if (popularity?.size !== data.productIds.length) popularity = { size: data.productIds.length, rank: zipfSampler(data.productIds.length) };
  const opened = randomInt(1, 3);
  for (let view = 0; view < opened; view++) {
    const id = data.productIds[popularity.rank() - 1]!;
    const response = await runtime.http.request({ method: 'GET', path: `/api/products/${id}`, name: 'GET /api/products/:id' });
    const product = isObject(response.json) ? (response.json as unknown as Product) : undefined;
    runtime.check(response, {
      'product: 200': (r) => r.status === 200,
      'product: the one asked for, with a price and stock': () => product?.id === id && isMoney(product.price) && typeof product.stock === 'number' && typeof product.name === 'string',
    });
  }
}

export const browse: Scenario<BrowseData> = {
  name: 'browse',
  description: 'lists the catalog (by category and page at times) and opens 1–3 products, Zipf-distributed',
  defaults: { rate: 50, duration: '30s' },
  typicalIterationSeconds: 0.05,
  requestNames: ['GET /api/products', 'GET /api/products/:id'],
  measuresSaga: false,
  setup: (runtime) => prepareBrowsing(runtime),
  iteration: (runtime, data) => browseOnce(runtime, data),
};
