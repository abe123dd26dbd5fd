import { createApi, fetchBaseQuery, retry, type BaseQueryFn, type FetchArgs, type FetchBaseQueryError, type FetchBaseQueryMeta } from '@reduxjs/toolkit/query/react';
import type { components, paths } from './schema.ts';
import { expired, type SessionState } from '../session.ts';

export type Product = components['schemas']['Product'];
export type Cart = components['schemas']['Cart'];
export type Order = components['schemas']['Order'];
export type OrderStatus = Order['status'];
type JsonBody<P extends keyof paths, M extends 'post' | 'patch'> = paths[P][M] extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;
type Json200<O> = O extends { responses: { 200: { content: { 'application/json': infer B } } } } ? B : never;
type Json201<O> = O extends { responses: { 201: { content: { 'application/json': infer B } } } } ? B : never;

export type Credentials = JsonBody<'/api/auth/login', 'post'>;
export type Registration = JsonBody<'/api/auth/register', 'post'>;
export type NewProduct = JsonBody<'/api/products', 'post'>;
export type Me = Json200<paths['/api/auth/me']['get']>;
export type TokenAnswer = Json200<paths['/api/auth/login']['post']>;
export type ProductPage = Json200<paths['/api/products']['get']>;
export type OrderPage = Json200<paths['/api/orders']['get']>;

export const finalStatuses: ReadonlySet<OrderStatus> = new Set(['completed', 'rejected', 'payment_failed']);

/** A checkout's answer, and what the page measures of it. */
export interface CheckoutResult {
  order: Order;
  mode: 'async' | 'sync';
  /** From sending the request to its answer, as the browser saw it. */
  answeredInMs: number;
  replayed: boolean;
}

const rawBaseQuery = fetchBaseQuery({
  // Absolute, so that the same code runs under a test's fetch, which has no page to resolve against.
  baseUrl: `${globalThis.location.origin}/api`,
  prepareHeaders: (headers, { getState }) => {
    const { token } = (getState() as { session: SessionState }).session;
    if (token) headers.set('authorization', `Bearer ${token}`);
    return headers;
  },
});

const isRead = (args: string | FetchArgs) => typeof args === 'string' || (args.method ?? 'GET').toUpperCase() === 'GET';

/**
 * Reads are retried with exponential backoff when the shop is unreachable or a service is
 * briefly unavailable; writes never are, as a retried write could happen twice (checkout has
 * its Idempotency-Key for that). A 401 ends the session, which sends the user to log in.
 */
const endingSessionOn401: BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError, {}, FetchBaseQueryMeta> = async (args, api, extraOptions) => {
  const result = await rawBaseQuery(args, api, extraOptions);
  if (result.error?.status === 401 && (api.getState() as { session: SessionState }).session.token) api.dispatch(expired());
  return result;
};

const baseQuery = retry(endingSessionOn401, {
  retryCondition: (error, args, { attempt }) => {
    const status = (error as FetchBaseQueryError).status;
    return attempt <= 3 && isRead(args as string | FetchArgs) && (status === 'FETCH_ERROR' || status === 502 || status === 503 || status === 504);
  },
});

/** Every cart change answers with the cart: shown at once, with no second request. A failure is the mutation's own to show. */
async function showReturnedCart(_argument: unknown, { dispatch, queryFulfilled }: { dispatch: (action: unknown) => unknown; queryFulfilled: Promise<{ data: Cart }> }) {
  try {
    const { data } = await queryFulfilled;
    dispatch(api.util.upsertQueryData('cart', undefined, data));
  } catch {
    // shown by the component from the mutation's error
  }
}

export const api = createApi({
  reducerPath: 'api',
  baseQuery,
  tagTypes: ['Cart', 'Order', 'Product', 'Me'],
  endpoints: (build) => ({
    products: build.query<ProductPage, { category?: string; limit: number; offset: number }>({
      query: ({ category, limit, offset }) => ({ url: '/products', params: { ...(category ? { category } : {}), limit, offset } }),
      providesTags: ['Product'],
    }),
    product: build.query<Product, number>({ query: (id) => `/products/${id}`, providesTags: (_result, _error, id) => [{ type: 'Product', id }] }),
    login: build.mutation<TokenAnswer, Credentials>({ query: (body) => ({ url: '/auth/login', method: 'POST', body }) }),
    register: build.mutation<Json201<paths['/api/auth/register']['post']>, Registration>({ query: (body) => ({ url: '/auth/register', method: 'POST', body }) }),
    me: build.query<Me, void>({ query: () => '/auth/me', providesTags: ['Me'] }),
    cart: build.query<Cart, void>({ query: () => '/cart', providesTags: ['Cart'] }),
    addToCart: build.mutation<Cart, { product_id: number; quantity: number }>({
      query: (body) => ({ url: '/cart/items', method: 'POST', body }),
      onQueryStarted: showReturnedCart,
    }),
    setQuantity: build.mutation<Cart, { product_id: number; quantity: number }>({
      query: ({ product_id, quantity }) => ({ url: `/cart/items/${product_id}`, method: 'PATCH', body: { quantity } }),
      onQueryStarted: showReturnedCart,
    }),
    removeFromCart: build.mutation<Cart, number>({
      query: (productId) => ({ url: `/cart/items/${productId}`, method: 'DELETE' }),
      onQueryStarted: showReturnedCart,
    }),
    checkout: build.mutation<CheckoutResult, { mode: 'async' | 'sync'; idempotencyKey: string }>({
      async queryFn({ mode, idempotencyKey }, _api, _extra, fetchWithBq) {
        const started = performance.now();
        const result = await fetchWithBq({ url: `/orders/checkout${mode === 'sync' ? '?mode=sync' : ''}`, method: 'POST', headers: { 'idempotency-key': idempotencyKey } });
        if (result.error) return { error: result.error };
        const headers = (result.meta as FetchBaseQueryMeta | undefined)?.response?.headers;
        return {
          data: {
            order: result.data as Order,
            mode,
            answeredInMs: Math.round(performance.now() - started),
            replayed: headers?.get('idempotent-replayed') === 'true',
          },
        };
      },
      invalidatesTags: ['Cart', 'Order', 'Product'],
    }),
    orders: build.query<OrderPage, { limit: number; offset: number }>({ query: (params) => ({ url: '/orders', params }), providesTags: ['Order'] }),
    order: build.query<Order, string>({ query: (id) => `/orders/${id}`, providesTags: (_result, _error, id) => [{ type: 'Order', id }] }),
    createProduct: build.mutation<Product, NewProduct>({ query: (body) => ({ url: '/products', method: 'POST', body }), invalidatesTags: ['Product'] }),
    setStock: build.mutation<Product, { id: number; stock: number }>({
      query: ({ id, stock }) => ({ url: `/products/${id}/stock`, method: 'PATCH', body: { stock } }),
      invalidatesTags: ['Product'],
    }),
  }),
});

export const {
  useProductsQuery,
  useProductQuery,
  useLoginMutation,
  useRegisterMutation,
  useMeQuery,
  useCartQuery,
  useAddToCartMutation,
  useSetQuantityMutation,
  useRemoveFromCartMutation,
  useCheckoutMutation,
  useOrdersQuery,
  useOrderQuery,
  useCreateProductMutation,
  useSetStockMutation,
} = api;
