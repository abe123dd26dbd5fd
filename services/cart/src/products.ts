import { HttpError, upstreamUnavailable, type ServiceClient, type ServiceResponse } from '@scaleshop/platform';

/** What the cart needs of a product; the product service's answer carries more. */
export interface ProductInfo {
  id: number;
  name: string;
  price: string;
  stock: number;
}

export interface Products {
  /** undefined when the catalog has no such product. */
  getProduct(id: number, requestId: string): Promise<ProductInfo | undefined>;
  /** The products that exist among `ids`, by id. */
  getProducts(ids: readonly number[], requestId: string): Promise<Map<number, ProductInfo>>;
}

/** The most ids the product service accepts in one `GET /products?ids=`. */
const maxIdsPerCall = 100;

export function createProducts(client: ServiceClient): Products {
  return {
    async getProduct(id, requestId) {
      const response = await client.request<ProductInfo | { error?: { code?: string } }>({
        path: `/products/${id}`,
        headers: { 'x-request-id': requestId },
      });
      // A 404 from a route the product service lacks (a wrong PRODUCT_URL) must not read as "no such product".
      if (response.status === 404 && (response.body as { error?: { code?: string } } | undefined)?.error?.code === 'PRODUCT_NOT_FOUND') {
        return undefined;
      }
      return expectOk(response) as ProductInfo;
    },

    async getProducts(ids, requestId) {
      const unique = [...new Set(ids)];
      const batches: number[][] = [];
      for (let start = 0; start < unique.length; start += maxIdsPerCall) batches.push(unique.slice(start, start + maxIdsPerCall));
      const pages = await Promise.all(
        batches.map(async (batch) => {
          const response = await client.request<{ items: ProductInfo[] }>({
            path: '/products',
            query: { ids: batch.join(','), limit: maxIdsPerCall },
            headers: { 'x-request-id': requestId },
          });
          return expectOk(response).items;
        }),
      );
      return new Map(pages.flat().map((product) => [product.id, product]));
    },
  };
}

/**
 * The client retries 502-504 and then hands back the last answer; every unexpected status
 * becomes an error of ours, so the caller never sees a body it did not ask for.
 */
function expectOk<T>(response: ServiceResponse<T>): T {
  if (response.status === 200) return response.body;
  if (response.status === 502 || response.status === 503 || response.status === 504) {
    throw upstreamUnavailable(`product is unavailable: it answered ${response.status}`);
  }
  throw new HttpError(502, 'BAD_GATEWAY', `product answered ${response.status}`);
}
