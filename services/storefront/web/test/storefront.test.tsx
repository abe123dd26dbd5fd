import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { http, HttpResponse, delay } from 'msw';
import { describe, expect, test } from 'vitest';
import { cartWithLaptop, emptyCart, order, server } from './server.ts';
import { renderApp } from './render.tsx';

const location = () => screen.getByTestId('location').textContent;

describe('catalog', () => {
  test('shows each product with its price as the server sent it, its stock, and a named Add to cart button', async () => {
    renderApp('/products');
    expect(await screen.findByRole('button', { name: 'Add Gaming Laptop to cart' })).toBeTruthy();
    expect(screen.getByText('$1,299.99')).toBeTruthy();
    expect(screen.getByText('$19.50')).toBeTruthy();
    expect(screen.getByText('only 2 left')).toBeTruthy();
    expect(screen.getByText('out of stock')).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Add Notebook to cart' }) as HTMLButtonElement).disabled).toBe(true);
    for (const name of ['Products', 'Cart', 'Orders']) expect(screen.getByRole('link', { name })).toBeTruthy();
  });

  test('keeps the category and the page in the URL', async () => {
    const user = userEvent.setup();
    renderApp('/products');
    await screen.findByRole('option', { name: 'Furniture' });
    await user.selectOptions(screen.getByLabelText('Category'), 'Furniture');
    await waitFor(() => expect(location()).toBe('/products?category=Furniture'));
    expect(await screen.findByRole('button', { name: 'Add Desk Lamp to cart' })).toBeTruthy();
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Add Gaming Laptop to cart' })).toBeNull());
  });

  test('sends a visitor who adds to the cart to log in first, and back', async () => {
    const user = userEvent.setup();
    renderApp('/products?category=Electronics');
    await user.click(await screen.findByRole('button', { name: 'Add Gaming Laptop to cart' }));
    expect(location()).toBe('/login?next=%2Fproducts%3Fcategory%3DElectronics');
  });
});

describe('log in and register', () => {
  test('checks the server rules before asking, then shows the server answer', async () => {
    const user = userEvent.setup();
    let token = '';
    server.use(
      http.post('*/api/auth/login', async ({ request }) => {
        const body = (await request.json()) as { password: string };
        if (body.password !== 'password123') return HttpResponse.json({ error: { code: 'INVALID_CREDENTIALS', message: 'invalid email or password' } }, { status: 401 });
        token = 'a-token';
        return HttpResponse.json({ access_token: token, token_type: 'bearer', expires_in: 900 });
      }),
    );
    renderApp('/login?next=%2Forders');
    await user.click(screen.getByRole('button', { name: 'Log in' }));
    expect(screen.getByLabelText('Email').getAttribute('aria-invalid')).toBe('true');
    await user.type(screen.getByLabelText('Email'), 'paintest@example.com');
    await user.type(screen.getByLabelText('Password'), 'wrong-one');
    await user.click(screen.getByRole('button', { name: 'Log in' }));
    expect((await screen.findByRole('alert')).textContent).toBe('invalid email or password');
    await user.clear(screen.getByLabelText('Password'));
    await user.type(screen.getByLabelText('Password'), 'password123');
    server.use(http.get('*/api/orders', () => HttpResponse.json({ items: [], total: 0 })));
    await user.click(screen.getByRole('button', { name: 'Log in' }));
    await waitFor(() => expect(location()).toBe('/orders'));
    expect(token).toBe('a-token');
  });

  test("puts the server's error next to the field it names", async () => {
    const user = userEvent.setup();
    server.use(http.post('*/api/auth/register', () => HttpResponse.json({ error: { code: 'EMAIL_TAKEN', message: 'that email is already registered' } }, { status: 409 })));
    renderApp('/register');
    await user.type(screen.getByLabelText('Name'), 'Jane');
    await user.type(screen.getByLabelText('Email'), 'jane@example.com');
    await user.type(screen.getByLabelText('Password'), 'a-long-password');
    await user.click(screen.getByRole('button', { name: 'Create account' }));
    const email = screen.getByLabelText('Email');
    await waitFor(() => expect(email.getAttribute('aria-invalid')).toBe('true'));
    expect(document.getElementById(email.getAttribute('aria-describedby')!)?.textContent).toBe('that email is already registered');
  });
});

describe('cart and checkout', () => {
  test('shows the server totals, a 409 plainly, and the header badge', async () => {
    const user = userEvent.setup();
    server.use(
      http.get('*/api/cart', () => HttpResponse.json(cartWithLaptop)),
      http.patch('*/api/cart/items/1', () => HttpResponse.json({ error: { code: 'INSUFFICIENT_STOCK', message: 'only 50 in stock' } }, { status: 409 })),
    );
    renderApp('/cart', { token: 't' });
    expect((await screen.findByTestId('cart-total')).textContent).toBe('$2,599.98');
    expect(screen.getByLabelText('2 items')).toBeTruthy();
    const quantity = screen.getByLabelText('Quantity of Gaming Laptop');
    await user.clear(quantity);
    await user.type(quantity, '99{Enter}');
    expect((await screen.findByRole('alert')).textContent).toBe('That is more than we have: only 50 in stock');
  });

  test('a checkout sends an Idempotency-Key, a double click places one order, and the page follows the order until final', async () => {
    const user = userEvent.setup();
    const keys: string[] = [];
    let reads = 0;
    server.use(
      http.get('*/api/cart', () => HttpResponse.json(keys.length > 0 ? emptyCart : cartWithLaptop)),
      http.post('*/api/orders/checkout', async ({ request }) => {
        keys.push(request.headers.get('idempotency-key') ?? '');
        await delay(150);
        return HttpResponse.json(order('pending'), { status: 202 });
      }),
      http.get('*/api/orders/:id', () => {
        reads++;
        return HttpResponse.json(order(reads < 2 ? 'pending' : 'completed'));
      }),
    );
    renderApp('/cart', { token: 't' });
    const button = await screen.findByRole('button', { name: 'Check out' });
    await user.dblClick(button);
    await waitFor(() => expect(screen.getByTestId('order-status').textContent).toBe('completed'), { timeout: 4_000 });
    expect(keys, JSON.stringify(keys)).toHaveLength(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(location()).toBe(`/orders/${order('pending').id}`);
    expect(screen.getByTestId('answered-in').textContent).toMatch(/^\d+ ms \(event-driven\)$/);
    const timeline = within(screen.getByRole('list', { name: 'Status history' }));
    for (const status of ['pending', 'stock_reserved', 'paid', 'completed']) expect(timeline.getByText(status)).toBeTruthy();
    // Final: polling has stopped.
    const readsWhenFinal = reads;
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    expect(reads).toBe(readsWhenFinal);
  });
});

describe('order page', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';

  test("shows the checkout's trace from the order itself, in a session that did not place it", async () => {
    server.use(http.get('*/api/orders/:id', () => HttpResponse.json(order('completed', { trace_id: traceId }))));
    renderApp(`/orders/${order('completed').id}`, { token: 't' });
    expect((await screen.findByTestId('trace-id')).textContent).toBe(traceId);
    // No Jaeger UI configured: the id is shown, not linked.
    expect(screen.queryByRole('link', { name: traceId })).toBeNull();
  });

  test('links the trace to Jaeger when the server names its UI', async () => {
    const meta = Object.assign(document.createElement('meta'), { name: 'scaleshop-jaeger-ui', content: 'http://jaeger.example:16686' });
    document.head.append(meta);
    try {
      server.use(http.get('*/api/orders/:id', () => HttpResponse.json(order('completed', { trace_id: traceId }))));
      renderApp(`/orders/${order('completed').id}`, { token: 't' });
      const link = await screen.findByRole('link', { name: traceId });
      expect(link.getAttribute('href')).toBe(`http://jaeger.example:16686/trace/${traceId}`);
    } finally {
      meta.remove();
    }
  });

  test('an order placed without tracing shows no trace, and the rest of the page as usual', async () => {
    server.use(http.get('*/api/orders/:id', () => HttpResponse.json(order('completed'))));
    renderApp(`/orders/${order('completed').id}`, { token: 't' });
    expect((await screen.findByTestId('order-status')).textContent).toBe('completed');
    expect(screen.queryByTestId('trace-id')).toBeNull();
    expect(screen.queryByText('Trace of the checkout')).toBeNull();
  });
});

describe('sessions and errors', () => {
  test('a 401 ends the session and leads to log in, then back where the user was', async () => {
    server.use(http.get('*/api/cart', () => HttpResponse.json({ error: { code: 'INVALID_TOKEN', message: 'the token has expired' } }, { status: 401 })));
    const { store } = renderApp('/cart', { token: 'expired' });
    await waitFor(() => expect(location()).toBe('/login?next=%2Fcart'));
    expect(store.getState().session.token).toBeNull();
    expect(screen.getByText('Your session has ended. Log in again to go on.')).toBeTruthy();
    expect(localStorage.length).toBe(0);
  });

  test('logging out forgets the session and everything it saw', async () => {
    const user = userEvent.setup();
    server.use(http.get('*/api/cart', () => HttpResponse.json(cartWithLaptop)));
    const { store } = renderApp('/cart', { token: 't' });
    await screen.findByTestId('cart-total');
    await user.click(screen.getByRole('button', { name: 'Log out' }));
    await waitFor(() => expect(location()).toBe('/products'));
    expect(store.getState().session.token).toBeNull();
    expect(Object.keys(store.getState().api.queries).filter((key) => !key.startsWith('products'))).toEqual([]);
    expect(screen.getByRole('link', { name: 'Log in' })).toBeTruthy();
  });

  test('a page that throws shows the error boundary, not a blank page', async () => {
    server.use(http.get('*/api/orders/:id', () => HttpResponse.json({ ...order('pending'), history: null })));
    const quiet = console.error;
    console.error = () => {};
    try {
      renderApp('/orders/x', { token: 't' });
      expect((await screen.findByRole('alert')).textContent).toMatch(/^Something went wrong/);
      expect(screen.getByRole('link', { name: 'Back to the shop' })).toBeTruthy();
    } finally {
      console.error = quiet;
    }
  });

  test('a failing read is retried, and a service that stays unavailable is named as such', async () => {
    let calls = 0;
    server.use(
      http.get('*/api/orders', () => {
        calls++;
        return HttpResponse.json({ error: { code: 'UPSTREAM_UNAVAILABLE', message: 'order service is unavailable' } }, { status: 503 });
      }),
    );
    renderApp('/orders', { token: 't' });
    expect((await screen.findByRole('alert', {}, { timeout: 9_000 })).textContent).toBe('Temporarily unavailable: order service is unavailable. Try again in a moment.');
    expect(calls).toBe(4);
  }, 10_000);
});
