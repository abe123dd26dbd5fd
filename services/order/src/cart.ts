import { HttpError, identityHeadersFor, money, upstreamUnavailable, type Caller, type ServiceClient } from '@scaleshop/platform';

export interface CartLine {
  product_id: number;
  name: string;
  price: string;
  quantity: number;
}

export interface CartReader {
  /** The caller's cart as the cart service prices it now. */
  getCart(caller: Caller, requestId: string): Promise<CartLine[]>;
}

export function createCartReader(client: ServiceClient): CartReader {
  return {
    async getCart(caller, requestId) {
      const response = await client.request<unknown>({
        path: '/cart',
        headers: { ...identityHeadersFor(caller), 'x-request-id': requestId },
      });
      // The client retries 502-504 and then hands back the last answer.
      if (response.status === 502 || response.status === 503 || response.status === 504) {
        throw upstreamUnavailable(`cart is unavailable: it answered ${response.status}`);
      }
      if (response.status !== 200) throw new HttpError(502, 'BAD_GATEWAY', `cart answered ${response.status}`);
      return linesOf(response.body);
    },
  };
}

/**
 * What the cart answers becomes an order and an event other services act on,
 * so a malformed line is refused here rather than stored.
 */
function linesOf(body: unknown): CartLine[] {
  const items = (body as { items?: unknown } | undefined)?.items;
  if (!Array.isArray(items)) throw new HttpError(502, 'BAD_GATEWAY', 'cart answered without items');
  return items.map((item: Partial<CartLine> | null) => {
    if (
      typeof item !== 'object' ||
      item === null ||
      !Number.isSafeInteger(item.product_id) ||
      typeof item.name !== 'string' ||
      typeof item.price !== 'string' ||
      !money.isMoney(item.price) ||
      !Number.isSafeInteger(item.quantity) ||
      item.quantity! < 1
    ) {
      throw new HttpError(502, 'BAD_GATEWAY', 'cart answered with a malformed item');
    }
    return { product_id: item.product_id!, name: item.name, price: money.normalize(item.price), quantity: item.quantity! };
  });
}
