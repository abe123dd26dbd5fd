/**
 * hot-item: many buyers race for one product with little stock, the contended write (every
 * reservation locks that product's row). Setup creates the product (HOT_STOCK units, default 10)
 * and puts one in the cart of every buyer, one buyer per iteration of the run; each iteration
 * checks out and follows its order. Afterwards exactly the stock is sold and every other order
 * is rejected: teardown reads every buyer's orders and the product's stock and checks so.
 */
import { randomHex, randomUuid } from '../lib/random.ts';
import type { LoadRuntime, Scenario } from '../lib/runtime.ts';
import {
  checkoutAccepted,
  ensureUsers,
  envNumber,
  inBatches,
  isObject,
  logIn,
  logInAsAdmin,
  loadTestCategory,
  loadUserPassword,
  pollSettings,
  sagaDurationMs,
  setupName,
  untilFinal,
  type Order,
  type PollSettings,
} from '../lib/shop.ts';

export interface HotItemData extends PollSettings {
  productId: number;
  stock: number;
  buyers: Array<{ email: string; token: string }>;
}

/** What a racer may see at the end: the unit, or a rejection because someone else got it. */
const expectedOutcomes = ['completed', 'rejected'];

async function emptyCart(runtime: LoadRuntime, token: string): Promise<void> {
  const cart = await runtime.http.request({ method: 'GET', path: '/api/cart', name: setupName('GET /api/cart'), token });
  const items = isObject(cart.json) && Array.isArray(cart.json.items) ? (cart.json.items as Array<{ product_id: number }>) : [];
  for (const item of items) {
    await runtime.http.request({ method: 'DELETE', path: `/api/cart/items/${item.product_id}`, name: setupName('DELETE /api/cart/items/:product_id'), token, expectedStatuses: [200, 404] });
  }
}

export const hotItem: Scenario<HotItemData> = {
  name: 'hot-item',
  description: 'buyers race for one product with little stock; afterwards exactly the stock is sold and every other order is rejected',
  defaults: { rate: 20, duration: '5s' },
  typicalIterationSeconds: 4,
  requestNames: ['POST /api/orders/checkout', 'GET /api/orders/:id'],
  measuresSaga: true,

  async setup(runtime, parameters) {
    const stock = envNumber(parameters, 'HOT_STOCK', 10, { min: 1, max: 1_000_000 });
    const buyerCount = Math.ceil(parameters.rate * parameters.durationSeconds) + 1;
    const emails = await ensureUsers(runtime, 'hot', buyerCount);
    const adminToken = await logInAsAdmin(runtime, parameters);
    const created = await runtime.http.request({
      method: 'POST',
      path: '/api/products',
      name: setupName('POST /api/products'),
      token: adminToken,
      body: { name: `Load test hot item ${randomHex(8)}`, description: 'Raced for by the hot-item load', price: '5.00', stock, category: loadTestCategory },
    });
    if (!isObject(created.json) || typeof created.json.id !== 'number') throw new Error(`cannot create the hot item (status ${created.status})`);
    const productId = created.json.id;

    const buyers = await inBatches(emails, 6, async (email) => {
      const token = await logIn(runtime, email, loadUserPassword, setupName('POST /api/auth/login'));
      if (!token) throw new Error(`cannot log in as ${email}`);
      // A run that was cut short leaves carts behind; an order must hold the hot item alone.
      await emptyCart(runtime, token);
      const added = await runtime.http.request({ method: 'POST', path: '/api/cart/items', name: setupName('POST /api/cart/items'), token, body: { product_id: productId, quantity: 1 } });
      runtime.check(added, { 'setup: hot item in the cart': (r) => r.status === 201 });
      return { email, token };
    });
    return { productId, stock, buyers, ...pollSettings(parameters) };
  },

  async iteration(runtime, data, iteration) {
    const buyer = data.buyers[iteration];
    if (!runtime.check(buyer, { 'a prepared buyer for every iteration': (b) => b !== undefined }) || !buyer) return;
    const checkout = await runtime.http.request({
      method: 'POST',
      path: '/api/orders/checkout',
      name: 'POST /api/orders/checkout',
      token: buyer.token,
      headers: { 'idempotency-key': randomUuid() },
    });
    const order = checkoutAccepted(runtime, checkout, [data.productId]);
    if (!order) return;
    const final = await untilFinal(runtime, buyer.token, order.id, data);
    runtime.check(final, {
      'order: final within SAGA_TIMEOUT_MS': (f) => f !== undefined,
      'order: completed, or rejected for want of stock': (f) => f !== undefined && expectedOutcomes.includes(f.status),
    });
    const duration = final ? sagaDurationMs(final) : undefined;
    runtime.recordSaga(duration ?? data.sagaTimeoutMs, final !== undefined && expectedOutcomes.includes(final.status));
  },

  async teardown(runtime, data) {
    const outcomes = await inBatches(data.buyers, 6, async (buyer) => {
      const response = await runtime.http.request({ method: 'GET', path: '/api/orders?limit=100', name: setupName('GET /api/orders'), token: buyer.token });
      const orders = isObject(response.json) && Array.isArray(response.json.items) ? (response.json.items as Order[]) : [];
      const racing = orders.filter((order) => order.items.some((item) => item.product_id === data.productId));
      // Buyers whose iteration never ran (a run stopped early) still hold the item: leave no cart behind.
      if (racing.length === 0) await emptyCart(runtime, buyer.token);
      return racing.map((order) => order.status);
    });
    const statuses = outcomes.flat();
    const count = (status: string) => statuses.filter((seen) => seen === status).length;
    const product = await runtime.http.request({ method: 'GET', path: `/api/products/${data.productId}`, name: setupName('GET /api/products/:id') });
    const stockLeft = isObject(product.json) && typeof product.json.stock === 'number' ? product.json.stock : undefined;
    const sold = count('completed');
    const result = { placed: statuses.length, sold, rejected: count('rejected'), stockLeft };
    runtime.log(`hot item ${data.productId}: stock ${data.stock}, orders ${result.placed}, sold ${sold}, rejected ${result.rejected}, stock left ${stockLeft}`);
    runtime.check(result, {
      'hot item: exactly the stock is sold': (r) => r.sold === Math.min(data.stock, r.placed) && r.stockLeft === data.stock - r.sold,
      'hot item: every other order is rejected': (r) => r.rejected === r.placed - r.sold,
    });
  },
};
