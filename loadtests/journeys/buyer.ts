/**
 * buyer: a customer logs in, puts 1–3 products in the cart, checks out with an Idempotency-Key
 * and follows the order until it is final; the saga's completion time (checkout → final status,
 * from the order's history) is recorded beside the HTTP timings. Every tenth buyer clicks
 * "place order" twice: the second answer must be the same order, marked as replayed.
 */
import { pickDistinct, randomInt, randomUuid } from '../lib/random.ts';
import type { LoadRuntime, RunParameters, Scenario } from '../lib/runtime.ts';
import {
  checkoutAccepted,
  ensureLoadTestProducts,
  ensureUsers,
  envNumber,
  isObject,
  logIn,
  logInAsAdmin,
  loadUserPassword,
  pollSettings,
  sagaDurationMs,
  untilFinal,
  type PollSettings,
} from '../lib/shop.ts';

export interface BuyerData extends PollSettings {
  emails: string[];
  productIds: number[];
  /** BUYER_SESSIONS=reuse: a buyer logs in once and keeps its token, so runs measure the saga rather than argon2. */
  reuseSessions: boolean;
}

/**
 * Tokens of this generator's buyers while BUYER_SESSIONS=reuse, renewed a minute before they
 * expire. Each k6 VU and the Node driver's process has its own, which is what a fleet of
 * browsers keeping their sessions looks like.
 */
const sessions = new Map<string, { token: string; renewAfter: number }>();
const tokenLifetimeMs = 14 * 60_000;

const loadTestProducts = 10;
const doubleClickEvery = 10;

/**
 * One account per buyer iteration, so that no two iterations share a cart, up to BUYER_USERS
 * (default 500); beyond it accounts are reused, by then long after their previous order.
 */
export async function prepareBuyers(runtime: LoadRuntime, parameters: RunParameters, shareOfIterations: number): Promise<BuyerData> {
  const cap = envNumber(parameters, 'BUYER_USERS', 500, { min: 1, max: 100_000 });
  const wanted = Math.ceil(parameters.rate * parameters.durationSeconds * shareOfIterations) + 1;
  const emails = await ensureUsers(runtime, 'buyer', Math.min(cap, wanted));
  const adminToken = await logInAsAdmin(runtime, parameters);
  const productIds = await ensureLoadTestProducts(runtime, adminToken, loadTestProducts);
  return { emails, productIds, reuseSessions: parameters.env.BUYER_SESSIONS === 'reuse', ...pollSettings(parameters) };
}

export async function buyOnce(runtime: LoadRuntime, data: BuyerData, buyerIndex: number): Promise<void> {
  const email = data.emails[buyerIndex % data.emails.length]!;
  const session = data.reuseSessions ? sessions.get(email) : undefined;
  const token = session && session.renewAfter > Date.now() ? session.token : await logIn(runtime, email, loadUserPassword);
  if (!token) return;
  if (data.reuseSessions && token !== session?.token) sessions.set(email, { token, renewAfter: Date.now() + tokenLifetimeMs });

  const productIds = pickDistinct(data.productIds, randomInt(1, 3));
  for (const productId of productIds) {
    const added = await runtime.http.request({ method: 'POST', path: '/api/cart/items', name: 'POST /api/cart/items', token, body: { product_id: productId, quantity: 1 } });
    const ok = runtime.check(added, {
      'cart: 201': (r) => r.status === 201,
      'cart: holds the product': (r) => isObject(r.json) && Array.isArray(r.json.items) && (r.json.items as Array<{ product_id: number }>).some((item) => item.product_id === productId),
    });
    if (!ok) return;
  }

  const idempotencyKey = randomUuid();
  const checkout = () => runtime.http.request({ method: 'POST', path: '/api/orders/checkout', name: 'POST /api/orders/checkout', token, headers: { 'idempotency-key': idempotencyKey } });
  const order = checkoutAccepted(runtime, await checkout(), productIds);
  if (!order) return;
  if (buyerIndex % doubleClickEvery === doubleClickEvery - 1) {
    const again = await checkout();
    runtime.check(again, {
      'checkout again with the same key: the same order, replayed': (r) => r.status < 300 && isObject(r.json) && r.json.id === order.id && r.headers['idempotent-replayed'] === 'true',
    });
  }

  const final = await untilFinal(runtime, token, order.id, data);
  runtime.check(final, {
    'order: final within SAGA_TIMEOUT_MS': (f) => f !== undefined,
    'order: completed': (f) => f?.status === 'completed',
  });
  const duration = final ? sagaDurationMs(final) : undefined;
  // A saga not final in time took at least the timeout: counted so, not left out of the p99.
  runtime.recordSaga(duration ?? data.sagaTimeoutMs, final?.status === 'completed');
}

export const buyer: Scenario<BuyerData> = {
  name: 'buyer',
  description: 'logs in, puts 1–3 products in the cart, checks out with an Idempotency-Key and polls the order until it is final',
  defaults: { rate: 5, duration: '30s' },
  typicalIterationSeconds: 4,
  requestNames: ['POST /api/auth/login', 'POST /api/cart/items', 'POST /api/orders/checkout', 'GET /api/orders/:id'],
  measuresSaga: true,
  setup: (runtime, parameters) => prepareBuyers(runtime, parameters, 1),
  iteration: (runtime, data, iteration) => buyOnce(runtime, data, iteration),
};
