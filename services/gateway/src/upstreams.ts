import type { ConfigOf } from '@scaleshop/platform';
import type { gatewayConfig } from './config.ts';

/** Where each part of the public API lives: /api/<prefix>/... is forwarded to <service>/<path>/... */
export interface Upstream {
  service: string;
  baseUrl: string;
  publicPrefix: string;
  servicePrefix: string;
}

export function upstreamsFrom(config: ConfigOf<typeof gatewayConfig>): Upstream[] {
  return [
    { service: 'user', baseUrl: config.USER_URL, publicPrefix: '/api/auth', servicePrefix: '/auth' },
    { service: 'product', baseUrl: config.PRODUCT_URL, publicPrefix: '/api/products', servicePrefix: '/products' },
    { service: 'cart', baseUrl: config.CART_URL, publicPrefix: '/api/cart', servicePrefix: '/cart' },
  ];
}

/** The only calls that need no bearer token. */
const publicRoutes: ReadonlyArray<{ method: string; path: RegExp }> = [
  { method: 'POST', path: /^\/api\/auth\/(register|login)$/ },
  { method: 'GET', path: /^\/api\/products$/ },
  { method: 'GET', path: /^\/api\/products\/[^/]+$/ },
];

export function isPublic(method: string, url: string): boolean {
  const path = url.split('?', 1)[0]!.replace(/\/+$/, '') || '/';
  const effectiveMethod = method === 'HEAD' ? 'GET' : method;
  return publicRoutes.some((route) => route.method === effectiveMethod && route.path.test(path));
}
