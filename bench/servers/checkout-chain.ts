/**
 * Baseline for bench:checkout: the checkout's shape of work with nothing else in it. Started once
 * per role, the processes form the same chain as a checkout, behind bench/servers/proxy.ts (the
 * gateway's forwarding):
 *
 *   client → proxy → order → cart → product   (4 HTTP hops)
 *
 * `product` answers a fixed product; `cart` asks it through the platform's service client (as the
 * cart prices its lines) and answers a one-line cart; `order` asks the cart through the same
 * client, then runs the order service's own checkout statement (order, item, history and held
 * outbox row) against Postgres and answers 202. No authentication, validation, logging, metrics
 * or saga: what is left is what 4 hops and one statement cost on this machine.
 */
import Fastify from 'fastify';
import { createDatabase, createServiceClient, type OrderLine } from '@scaleshop/platform';
import { testLogger } from '@scaleshop/platform/testing';
import type { OrderDatabase } from '../../services/order/src/schema.ts';
import { placeOrder } from '../order-statement.ts';

const role = process.env.ROLE;
const port = Number(process.env.PORT ?? 0);
const app = Fastify({ logger: false });
const closers: Array<() => Promise<void>> = [];
const product = { id: 1, name: 'Gel Pen Pack', price: '8.49' };

if (role === 'product') {
  app.get('/products', async () => ({ items: [product] }));
} else if (role === 'cart') {
  const products = createServiceClient({ service: 'product', baseUrl: process.env.UPSTREAM_URL! });
  closers.push(() => products.close());
  app.get('/cart', async () => {
    const { body } = await products.request<{ items: (typeof product)[] }>({ path: '/products', query: { ids: '1' } });
    return { items: body.items.map((item) => ({ product_id: item.id, name: item.name, price: item.price, quantity: 1 })) };
  });
} else if (role === 'order') {
  const cart = createServiceClient({ service: 'cart', baseUrl: process.env.UPSTREAM_URL! });
  const database = createDatabase<OrderDatabase>({ url: process.env.DATABASE_URL!, poolMax: 10, logger: testLogger('chain'), applicationName: 'bench-chain' });
  closers.push(() => cart.close(), () => database.close());
  app.post('/', async (_request, reply) => {
    const { body } = await cart.request<{ items: OrderLine[] }>({ path: '/cart' });
    return reply.code(202).send({ order_id: await placeOrder(database.db, body.items), status: 'pending' });
  });
} else {
  throw new Error(`ROLE must be product, cart or order, got ${role}`);
}
app.get('/ready', async () => ({ ok: true }));
await app.listen({ host: '127.0.0.1', port });
process.on('SIGTERM', () => void app.close().then(async () => {
  for (const close of closers) await close();
  process.exit(0);
}));
