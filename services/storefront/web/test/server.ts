import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import type { Cart, Order, Product } from '../src/api/api.ts';

/** A stand-in for the gateway: the API's routes and bodies, no shop behind them. */
export const products: Product[] = [
  { id: 1, name: 'Gaming Laptop', description: 'Fast', price: '1299.99', stock: 50, category: 'Electronics' },
  { id: 2, name: 'Desk Lamp', description: 'Bright', price: '19.50', stock: 2, category: 'Furniture' },
  { id: 3, name: 'Notebook', description: 'Paper', price: '3.00', stock: 0, category: 'Stationery' },
];

export const emptyCart: Cart = { items: [], total: '0.00' };
export const cartWithLaptop: Cart = { items: [{ product_id: 1, name: 'Gaming Laptop', price: '1299.99', quantity: 2, line_total: '2599.98' }], total: '2599.98' };

export function order(status: Order['status'], extra: Partial<Order> = {}): Order {
  const statuses = ['pending', 'stock_reserved', 'paid', 'completed'] as const;
  const upTo = status === 'payment_failed' ? ['pending', 'stock_reserved', 'payment_failed'] : statuses.slice(0, statuses.indexOf(status as never) + 1);
  return {
    id: '0b7c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3',
    status,
    total_amount: '2599.98',
    items: cartWithLaptop.items,
    processing_duration_ms: 12,
    failure_reason: null,
    trace_id: null,
    created_at: '2026-12-01T00:00:00.000Z',
    history: upTo.map((entry, index) => ({ status: entry as Order['status'], at: new Date(Date.parse('2026-12-01T00:00:00.000Z') + index * 1000).toISOString() })),
    ...extra,
  };
}

export const me = { id: 'u1', email: 'paintest@example.com', name: 'Pain Test', role: 'customer' };

export const server = setupServer(
  http.get('*/api/products', ({ request }) => {
    const url = new URL(request.url);
    const category = url.searchParams.get('category');
    const limit = Number(url.searchParams.get('limit'));
    const offset = Number(url.searchParams.get('offset'));
    const matching = products.filter((product) => !category || product.category === category);
    return HttpResponse.json({ items: matching.slice(offset, offset + limit), total: matching.length });
  }),
  http.get('*/api/products/:id', ({ params }) => {
    const product = products.find((candidate) => candidate.id === Number(params.id));
    return product ? HttpResponse.json(product) : HttpResponse.json({ error: { code: 'NOT_FOUND', message: 'no such product' } }, { status: 404 });
  }),
  http.get('*/api/auth/me', () => HttpResponse.json(me)),
  http.get('*/api/cart', () => HttpResponse.json(emptyCart)),
);
