/** The shop's API as the journeys use it: accounts, catalog, orders; checks on what comes back. */
import type { HttpResponse, LoadRuntime, RunParameters } from './runtime.ts';

export const finalStatuses = ['completed', 'rejected', 'payment_failed'];

export interface Order {
  id: string;
  status: string;
  total_amount: string;
  items: Array<{ product_id: number; quantity: number }>;
  created_at: string;
  history: Array<{ status: string; at: string }>;
}

export interface Product {
  id: number;
  name: string;
  price: string;
  stock: number;
  category: string;
}

/**
 * Requests made while preparing or checking a run, named apart from the iterations' own so that
 * they never count in a per-request threshold (they still count in http_req_failed).
 */
export const setupNamePrefix = 'setup: ';
export const setupName = (name: string) => `${setupNamePrefix}${name}`;

export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
export const isMoney = (value: unknown) => typeof value === 'string' && /^\d+\.\d{2}$/.test(value);

export function envNumber(parameters: RunParameters, name: string, fallback: number, bounds: { min: number; max: number }): number {
  const raw = parameters.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < bounds.min || value > bounds.max) throw new Error(`${name} must be a number from ${bounds.min} to ${bounds.max}, not "${raw}"`);
  return value;
}

/** Runs `work` over `items` with at most `concurrency` at once (k6's setup is one VU, but asyncRequest overlaps). */
export async function inBatches<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/**
 * Accounts the load logs in as: the same addresses every run, so a shop that has them already
 * (a second run, or a cluster whose per-address registration limit would refuse hundreds more)
 * just logs in. Registration hashes a password (argon2id), so a few at a time.
 */
export const loadUserPassword = 'load-test-password';

export function loadUserEmail(pool: string, index: number): string {
  return `load-${pool}-${String(index + 1).padStart(5, '0')}@example.com`;
}

export async function ensureUsers(runtime: LoadRuntime, pool: string, count: number): Promise<string[]> {
  const emails = Array.from({ length: count }, (_, index) => loadUserEmail(pool, index));
  await inBatches(emails, 6, async (email) => {
    const response = await runtime.http.request({
      method: 'POST',
      path: '/api/auth/register',
      name: setupName('POST /api/auth/register'),
      body: { email, password: loadUserPassword, name: `Load ${pool}` },
      expectedStatuses: [201, 409],
    });
    runtime.check(response, { 'setup: load user registered or already there': (r) => r.status === 201 || r.status === 409 });
  });
  return emails;
}

export async function logIn(runtime: LoadRuntime, email: string, password: string, name = 'POST /api/auth/login'): Promise<string | undefined> {
  const response = await runtime.http.request({ method: 'POST', path: '/api/auth/login', name, body: { email, password } });
  const token = isObject(response.json) && typeof response.json.access_token === 'string' ? response.json.access_token : undefined;
  runtime.check(response, {
    'login: 200': (r) => r.status === 200,
    'login: bearer token': () => token !== undefined && isObject(response.json) && response.json.token_type === 'bearer',
  });
  return token;
}

/** ADMIN_EMAIL / ADMIN_PASSWORD: the dev admin seeded in local mode and by the manifests' devSeed. */
export async function logInAsAdmin(runtime: LoadRuntime, parameters: RunParameters): Promise<string> {
  const token = await logIn(runtime, parameters.env.ADMIN_EMAIL || 'admin@example.com', parameters.env.ADMIN_PASSWORD || 'admin123', setupName('POST /api/auth/login'));
  if (!token) throw new Error('cannot log in as the admin (ADMIN_EMAIL, ADMIN_PASSWORD): the load needs it to prepare products');
  return token;
}

export const loadTestCategory = 'Load test';

/**
 * Products only the load buys, with stock that never runs out, so that a long buyer run is not
 * turned into a sold-out run by the demo catalog's small stock (25 standing desks).
 */
export async function ensureLoadTestProducts(runtime: LoadRuntime, adminToken: string, count: number): Promise<number[]> {
  const plentiful = 1_000_000_000;
  const existing = new Map<string, Product>();
  for (const product of await listCatalog(runtime, loadTestCategory)) existing.set(product.name, product);
  const ids: number[] = [];
  for (let index = 0; index < count; index++) {
    const name = `Load test item ${index + 1}`;
    const found = existing.get(name);
    if (found) {
      if (found.stock < plentiful / 2) {
        const restocked = await runtime.http.request({ method: 'PATCH', path: `/api/products/${found.id}/stock`, name: setupName('PATCH /api/products/:id/stock'), token: adminToken, body: { stock: plentiful } });
        runtime.check(restocked, { 'setup: load test product restocked': (r) => r.status === 200 });
      }
      ids.push(found.id);
      continue;
    }
    const price = `${(index % 9) + 1}.${String((index * 37) % 100).padStart(2, '0')}`;
    const created = await runtime.http.request({
      method: 'POST',
      path: '/api/products',
      name: setupName('POST /api/products'),
      token: adminToken,
      body: { name, description: 'Bought by load tests only', price, stock: plentiful, category: loadTestCategory },
    });
    runtime.check(created, { 'setup: load test product created': (r) => r.status === 201 });
    if (isObject(created.json) && typeof created.json.id === 'number') ids.push(created.json.id);
  }
  if (ids.length === 0) throw new Error('no load test products could be prepared');
  return ids;
}

/** The whole catalog (or one category), page by page. */
export async function listCatalog(runtime: LoadRuntime, category?: string): Promise<Product[]> {
  const products: Product[] = [];
  const pageSize = 100;
  for (let offset = 0; ; offset += pageSize) {
    const query = `limit=${pageSize}&offset=${offset}${category === undefined ? '' : `&category=${encodeURIComponent(category)}`}`;
    const response = await runtime.http.request({ method: 'GET', path: `/api/products?${query}`, name: setupName('GET /api/products') });
    const page = isObject(response.json) && Array.isArray(response.json.items) ? (response.json.items as Product[]) : undefined;
    runtime.check(response, { 'setup: catalog page read': (r) => r.status === 200 && page !== undefined });
    if (!page) throw new Error(`cannot read the catalog (status ${response.status}${response.error ? `: ${response.error}` : ''})`);
    products.push(...page);
    if (page.length < pageSize) return products;
  }
}

export interface PollSettings {
  pollIntervalMs: number;
  sagaTimeoutMs: number;
}

/**
 * POLL_INTERVAL_MS (default 500, as a storefront polls) and SAGA_TIMEOUT_MS (default 30000): the
 * saga's time comes from the order's own history, so the interval costs no precision.
 */
export function pollSettings(parameters: RunParameters): PollSettings {
  return {
    pollIntervalMs: envNumber(parameters, 'POLL_INTERVAL_MS', 500, { min: 10, max: 60_000 }),
    sagaTimeoutMs: envNumber(parameters, 'SAGA_TIMEOUT_MS', 30_000, { min: 1_000, max: 600_000 }),
  };
}

/** Polls the order until its status is final; undefined when it is not final within the timeout. */
export async function untilFinal(runtime: LoadRuntime, token: string, orderId: string, settings: PollSettings): Promise<Order | undefined> {
  const deadline = Date.now() + settings.sagaTimeoutMs;
  for (;;) {
    await runtime.sleep(settings.pollIntervalMs);
    const response = await runtime.http.request({ method: 'GET', path: `/api/orders/${orderId}`, name: 'GET /api/orders/:id', token });
    const order = isObject(response.json) ? (response.json as unknown as Order) : undefined;
    runtime.check(response, { 'order: 200 with its status': (r) => r.status === 200 && order?.id === orderId && typeof order.status === 'string' });
    if (order && finalStatuses.includes(order.status)) return order;
    if (Date.now() >= deadline) return undefined;
  }
}

/** Checkout → final status from the order's own history (the order service's clock), not the poll. */
export function sagaDurationMs(order: Order): number | undefined {
  const placed = order.history.find((entry) => entry.status === 'pending')?.at ?? order.created_at;
  const final = order.history.find((entry) => finalStatuses.includes(entry.status))?.at;
  if (final === undefined) return undefined;
  return Date.parse(final) - Date.parse(placed);
}

export function checkoutAccepted(runtime: LoadRuntime, response: HttpResponse, productIds: readonly number[]): Order | undefined {
  const order = isObject(response.json) ? (response.json as unknown as Order) : undefined;
  runtime.check(response, {
    'checkout: 202': (r) => r.status === 202,
    'checkout: a pending order': () => typeof order?.id === 'string' && order.status === 'pending',
    'checkout: holds what was put in the cart': () =>
      Array.isArray(order?.items) && productIds.every((id) => order.items.some((item) => item.product_id === id)) && isMoney(order.total_amount),
  });
  return response.status === 202 && order?.id ? order : undefined;
}
