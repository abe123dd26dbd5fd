import { sql, type Kysely } from '@scaleshop/platform';
import type { CartDatabase } from './schema.ts';

export interface CartItem {
  product_id: number;
  quantity: number;
}

type Db = Kysely<CartDatabase>;

/** The user's items in the order they were first added; product_id breaks ties within one transaction. */
export async function listItems(db: Db, userId: string): Promise<CartItem[]> {
  return db
    .selectFrom('cart_items')
    .select(['product_id', 'quantity'])
    .where('user_id', '=', userId)
    .orderBy('added_at')
    .orderBy('product_id')
    .execute();
}

export async function findItem(db: Db, userId: string, productId: number): Promise<CartItem | undefined> {
  return db
    .selectFrom('cart_items')
    .select(['product_id', 'quantity'])
    .where('user_id', '=', userId)
    .where('product_id', '=', productId)
    .executeTakeFirst();
}

/**
 * Adds `quantity` to the item, creating it if needed, unless the result would exceed
 * `maxQuantity` (the stock, or the line's cap). One statement, so two concurrent adds cannot
 * both pass the check on the same old quantity. The caller has checked `quantity <= maxQuantity`,
 * which covers the first insert; an update past it matches no row and returns undefined.
 */
export async function addItem(db: Db, item: { userId: string; productId: number; quantity: number; maxQuantity: number }): Promise<CartItem | undefined> {
  return db
    .insertInto('cart_items')
    .values({ user_id: item.userId, product_id: item.productId, quantity: item.quantity })
    .onConflict((oc) =>
      oc
        .columns(['user_id', 'product_id'])
        .doUpdateSet((eb) => ({
          quantity: eb('cart_items.quantity', '+', eb.ref('excluded.quantity')),
          updated_at: sql<Date>`now()`,
        }))
        .where((eb) => eb(eb('cart_items.quantity', '+', eb.ref('excluded.quantity')), '<=', item.maxQuantity)),
    )
    .returning(['product_id', 'quantity'])
    .executeTakeFirst();
}

/** Returns false when the user has no such item. */
export async function setQuantity(db: Db, userId: string, productId: number, quantity: number): Promise<boolean> {
  const updated = await db
    .updateTable('cart_items')
    .set({ quantity, updated_at: sql<Date>`now()` })
    .where('user_id', '=', userId)
    .where('product_id', '=', productId)
    .executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}

/** Returns false when the user has no such item. */
export async function removeItem(db: Db, userId: string, productId: number): Promise<boolean> {
  const deleted = await db
    .deleteFrom('cart_items')
    .where('user_id', '=', userId)
    .where('product_id', '=', productId)
    .executeTakeFirst();
  return deleted.numDeletedRows > 0n;
}

/** Returns how many of the user's items were removed; products not in the cart are skipped. */
export async function removeItems(db: Db, userId: string, productIds: readonly number[]): Promise<number> {
  if (productIds.length === 0) return 0;
  const deleted = await db
    .deleteFrom('cart_items')
    .where('user_id', '=', userId)
    .where('product_id', 'in', [...productIds])
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
