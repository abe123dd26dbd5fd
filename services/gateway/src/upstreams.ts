import { calleesOf, urlVariable, type ConfigOf } from '@scaleshop/platform';
import type { gatewayConfig } from './config.ts';

/** Where each part of the public API lives: /api/<prefix>/... is forwarded to <service>/<path>/... */
export interface Upstream {
  service: string;
  baseUrl: string;
  publicPrefix: string;
  servicePrefix: string;
  timeoutMs: number;
}

export function upstreamsFrom(config: ConfigOf<typeof gatewayConfig>): Upstream[] {
  const timeoutMs = config.UPSTREAM_TIMEOUT_MS;
  return [
    { service: 'user', baseUrl: config.USER_URL, publicPrefix: '/api/auth', servicePrefix: '/auth', timeoutMs },
    { service: 'product', baseUrl: config.PRODUCT_URL, publicPrefix: '/api/products', servicePrefix: '/products', timeoutMs },
    { service: 'cart', baseUrl: config.CART_URL, publicPrefix: '/api/cart', servicePrefix: '/cart', timeoutMs },
    { service: 'order', baseUrl: config.ORDER_URL, publicPrefix: '/api/orders', servicePrefix: '/orders', timeoutMs: config.ORDER_TIMEOUT_MS },
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

/** Every service whose readiness GET /health reports: each one the gateway knows, behind the API or not. */
export function monitoredServices(config: ConfigOf<typeof gatewayConfig>): Array<{ service: string; baseUrl: string }> {
  return calleesOf('gateway').map((service) => ({ service, baseUrl: config[urlVariable(service)] }));
}
