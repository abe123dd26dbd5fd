import { conflict, money, notFound, type Kysely } from '@scaleshop/platform';
import type { ProductInfo, Products } from './products.ts';
import * as repository from './repository.ts';
import type { CartDatabase } from './schema.ts';

export interface CartLine {
  product_id: number;
  name: string;
  price: string;
  quantity: number;
  line_total: string;
}

/** Units one cart line may hold, however they were added. */
export const maxLineQuantity = 1_000;

export interface CartView {
  items: CartLine[];
  total: string;
}

/**
 * The cart stores only product ids and quantities; names and prices are read from the
 * catalog on every view, so a cart always shows what checkout would charge now.
 * Every operation answers with the whole cart, as the client redraws it anyway.
 */
export interface Cart {
  view(userId: string, requestId: string): Promise<CartView>;
  addItem(userId: string, productId: number, quantity: number, requestId: string): Promise<CartView>;
  setQuantity(userId: string, productId: number, quantity: number, requestId: string): Promise<CartView>;
  removeItem(userId: string, productId: number, requestId: string): Promise<CartView>;
}

export function createCart(db: Kysely<CartDatabase>, products: Products): Cart {
  const view = async (userId: string, requestId: string): Promise<CartView> => {
    const items = await repository.listItems(db, userId);
    if (items.length === 0) return { items: [], total: money.sum([]) };
    const current = await products.getProducts(items.map((item) => item.product_id), requestId);
    const lines = items.flatMap((item): CartLine[] => {
      const product = current.get(item.product_id);
      // Gone from the catalog: nothing can be bought, so it is not shown, but the row is
      // kept in case the product comes back.
      if (!product) return [];
      const price = money.normalize(product.price);
      return [{ product_id: item.product_id, name: product.name, price, quantity: item.quantity, line_total: money.multiply(price, item.quantity) }];
    });
    return { items: lines, total: money.sum(lines.map((line) => line.line_total)) };
  };

  // Stock is checked here as a courtesy; it is reserved only when an order is placed.
  const getProduct = async (productId: number, requestId: string): Promise<ProductInfo> => {
    const product = await products.getProduct(productId, requestId);
    if (!product) throw notFound(`product ${productId} not found`, 'PRODUCT_NOT_FOUND');
    return product;
  };

  const insufficientStock = (product: ProductInfo) => conflict(`only ${product.stock} of ${product.name} in stock`, 'INSUFFICIENT_STOCK');

  const lineLimit = (inCart: number) =>
    conflict(`a cart line holds at most ${maxLineQuantity} units; this one has ${inCart}`, 'LINE_LIMIT_EXCEEDED');

  const itemNotInCart = (productId: number) => notFound(`product ${productId} is not in the cart`, 'ITEM_NOT_IN_CART');

  return {
    view,

    async addItem(userId, productId, quantity, requestId) {
      const product = await getProduct(productId, requestId);
      if (quantity > product.stock) throw insufficientStock(product);
      const added = await repository.addItem(db, { userId, productId, quantity, maxQuantity: Math.min(product.stock, maxLineQuantity) });
      if (!added) {
        const inCart = (await repository.findItem(db, userId, productId))?.quantity ?? 0;
        if (inCart + quantity > maxLineQuantity) throw lineLimit(inCart);
        throw insufficientStock(product);
      }
      return view(userId, requestId);
    },

    async setQuantity(userId, productId, quantity, requestId) {
      // Checked before asking the catalog, so a wrong id costs no call to another service.
      if (!(await repository.findItem(db, userId, productId))) throw itemNotInCart(productId);
      const product = await getProduct(productId, requestId);
      if (quantity > product.stock) throw insufficientStock(product);
      if (!(await repository.setQuantity(db, userId, productId, quantity))) throw itemNotInCart(productId);
      return view(userId, requestId);
    },

    async removeItem(userId, productId, requestId) {
      if (!(await repository.removeItem(db, userId, productId))) throw itemNotInCart(productId);
      return view(userId, requestId);
    },
  };
}
