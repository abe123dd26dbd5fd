import type { Kysely, Logger } from '@scaleshop/platform';
import { insertMissingProducts, type NewProduct } from './repository.ts';
import type { ProductDatabase } from './schema.ts';

/** The demo catalog, the same products the Python version shipped with. */
export const demoCatalog: readonly NewProduct[] = [
  { name: 'Gaming Laptop', description: '16" laptop with a discrete GPU and 32 GB RAM', price: '1299.99', stock: 50, category: 'Electronics' },
  { name: 'Wireless Mouse', description: 'Ergonomic wireless mouse with silent clicks', price: '29.99', stock: 200, category: 'Electronics' },
  { name: 'Mechanical Keyboard', description: 'Tenkeyless keyboard with hot-swappable switches', price: '89.99', stock: 150, category: 'Electronics' },
  { name: '4K Monitor', description: '27" IPS monitor, 3840x2160, USB-C', price: '399.99', stock: 75, category: 'Electronics' },
  { name: 'Noise-Cancelling Headphones', description: 'Over-ear headphones with 30 h battery', price: '199.99', stock: 100, category: 'Electronics' },
  { name: 'Office Chair', description: 'Mesh chair with lumbar support', price: '249.99', stock: 40, category: 'Furniture' },
  { name: 'Standing Desk', description: 'Electric height-adjustable desk, 140x70 cm', price: '499.99', stock: 25, category: 'Furniture' },
  { name: 'Bookshelf', description: 'Five-shelf oak bookshelf', price: '149.99', stock: 30, category: 'Furniture' },
  { name: 'Notebook Set', description: 'Three A5 dotted notebooks', price: '12.99', stock: 500, category: 'Stationery' },
  { name: 'Gel Pen Pack', description: 'Twelve 0.5 mm gel pens', price: '8.49', stock: 800, category: 'Stationery' },
  { name: 'Desk Organizer', description: 'Bamboo organizer with five compartments', price: '24.99', stock: 120, category: 'Stationery' },
  { name: 'Laptop Backpack', description: 'Water-resistant backpack for 16" laptops', price: '59.99', stock: 90, category: 'Accessories' },
  { name: 'USB-C Hub', description: '7-in-1 hub with HDMI and card reader', price: '39.99', stock: 160, category: 'Accessories' },
  { name: 'Phone Stand', description: 'Adjustable aluminium phone stand', price: '15.99', stock: 300, category: 'Accessories' },
];

export async function seedCatalog(db: Kysely<ProductDatabase>, logger: Logger): Promise<void> {
  const inserted = await insertMissingProducts(db, demoCatalog);
  logger.info({ inserted, catalog_size: demoCatalog.length }, 'demo catalog seeded');
}
