import { sql, type Kysely } from '@scaleshop/platform';
import type { ProductDatabase, StockLine } from './schema.ts';

export interface Product {
  id: number;
  name: string;
  description: string;
  price: string;
  stock: number;
  category: string;
}

export interface ProductQuery {
  category?: string;
  ids?: readonly number[];
  limit: number;
  offset: number;
}

export interface NewProduct {
  name: string;
  description: string;
  price: string;
  stock: number;
  category: string;
}

type Db = Kysely<ProductDatabase>;

function selectProducts(db: Db) {
  return db
    .selectFrom('products')
    .innerJoin('categories', 'categories.id', 'products.category_id')
    .select(['products.id', 'products.name', 'products.description', 'products.price', 'products.stock', 'categories.name as category']);
}

export async function findProduct(db: Db, id: number): Promise<Product | undefined> {
  return selectProducts(db).where('products.id', '=', id).executeTakeFirst();
}

/** The products among `ids` that exist, in id order. */
export async function findProducts(db: Db, ids: readonly number[]): Promise<Product[]> {
  if (ids.length === 0) return [];
  return selectProducts(db).where('products.id', 'in', [...ids]).orderBy('products.id').execute();
}

export async function listProducts(db: Db, query: ProductQuery): Promise<{ items: Product[]; total: number }> {
  let filtered = db.selectFrom('products').innerJoin('categories', 'categories.id', 'products.category_id');
  if (query.category !== undefined) filtered = filtered.where(sql`lower(categories.name)`, '=', query.category.toLowerCase());
  if (query.ids !== undefined) filtered = filtered.where('products.id', 'in', query.ids.length > 0 ? [...query.ids] : [-1]);
  const [items, count] = await Promise.all([
    filtered
      .select(['products.id', 'products.name', 'products.description', 'products.price', 'products.stock', 'categories.name as category'])
      .orderBy('products.id')
      .limit(query.limit)
      .offset(query.offset)
      .execute(),
    filtered.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { items, total: count.total };
}

/** Inserts a product, creating its category on first use; returns undefined when the name is taken. */
export async function insertProduct(db: Db, product: NewProduct): Promise<Product | undefined> {
  return db.transaction().execute(async (trx) => {
    const id = await insertProductRow(trx, product);
    if (id === undefined) return undefined;
    return selectProducts(trx).where('products.id', '=', id).executeTakeFirstOrThrow();
  });
}

async function insertProductRow(trx: Db, product: NewProduct): Promise<number | undefined> {
  const categoryId = await upsertCategory(trx, product.category);
  const inserted = await trx
    .insertInto('products')
    .values({ name: product.name, description: product.description, price: product.price, stock: product.stock, category_id: categoryId })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted?.id;
}

async function upsertCategory(db: Db, name: string): Promise<number> {
  const row = await db
    .insertInto('categories')
    .values({ name })
    .onConflict((oc) => oc.column('name').doUpdateSet({ name: (eb) => eb.ref('excluded.name') }))
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function updateStock(db: Db, id: number, stock: number): Promise<Product | undefined> {
  const updated = await db
    .updateTable('products')
    .set({ stock, updated_at: new Date() })
    .where('id', '=', id)
    .returning('id')
    .executeTakeFirst();
  return updated ? findProduct(db, id) : undefined;
}

/**
 * Inserts, in the order given, the products whose names are not taken. Replicas starting together
 * take turns on an advisory lock, and a product that is already there is not inserted at all: an
 * insert that conflicts has still drawn an id from the sequence, so ids would depend on which
 * replica won and on how often the service restarted.
 */
export async function insertMissingProducts(db: Db, products: readonly NewProduct[]): Promise<number> {
  if (products.length === 0) return 0;
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('product.insertMissingProducts'))`.execute(trx);
    const names = products.map((product) => product.name);
    const taken = new Set((await trx.selectFrom('products').select('name').where('name', 'in', names).execute()).map((row) => row.name));
    let inserted = 0;
    for (const product of products) {
      if (taken.has(product.name)) continue;
      if ((await insertProductRow(trx, product)) !== undefined) inserted++;
    }
    return inserted;
  });
}

export interface LockedProduct {
  id: number;
  name: string;
  stock: number;
}

/**
 * Locks the products' rows until the caller's transaction ends, so the stock read here is
 * still the stock when it is changed. Always in id order: two orders sharing products then
 * queue behind each other instead of each holding a row the other waits for.
 */
export async function lockProducts(trx: Db, ids: readonly number[]): Promise<LockedProduct[]> {
  if (ids.length === 0) return [];
  return trx.selectFrom('products').select(['id', 'name', 'stock']).where('id', 'in', [...ids]).orderBy('id').forUpdate().execute();
}

/** Relative, so it composes with any other change committed meanwhile; the stock >= 0 check still applies. */
export async function addToStock(trx: Db, id: number, delta: number): Promise<void> {
  await trx
    .updateTable('products')
    .set((eb) => ({ stock: eb('stock', '+', delta), updated_at: new Date() }))
    .where('id', '=', id)
    .execute();
}

export interface Reservation {
  order_id: string;
  items: StockLine[];
  status: 'reserved' | 'released';
}

export async function findReservation(db: Db, orderId: string): Promise<Reservation | undefined> {
  return db.selectFrom('reservations').select(['order_id', 'items', 'status']).where('order_id', '=', orderId).executeTakeFirst();
}

/** Locks the reservation until the caller's transaction ends, so two releases cannot both see it reserved. */
export async function lockReservation(trx: Db, orderId: string): Promise<Reservation | undefined> {
  return trx.selectFrom('reservations').select(['order_id', 'items', 'status']).where('order_id', '=', orderId).forUpdate().executeTakeFirst();
}

/**
 * Takes the lines' stock and records the reservation in one statement. Run it under the
 * products' row locks (`lockProducts`); the stock >= 0 check still applies.
 */
export async function reserve(trx: Db, orderId: string, lines: readonly StockLine[]): Promise<void> {
  await sql`
    with taken as (
      update products set stock = stock - line.quantity, updated_at = now()
      from unnest(${lines.map((line) => line.product_id)}::int[], ${lines.map((line) => line.quantity)}::int[]) as line(product_id, quantity)
      where products.id = line.product_id
    )
    insert into reservations (order_id, items) values (${orderId}, ${JSON.stringify(lines)}::jsonb)`.execute(trx);
}

export async function markReservationReleased(trx: Db, orderId: string): Promise<void> {
  await trx.updateTable('reservations').set({ status: 'released', released_at: new Date() }).where('order_id', '=', orderId).execute();
}
