import { env } from '@scaleshop/platform';

export const gatewayConfig = {
  ...env.serviceSettings(9000),
  /** Prometheus scrapes the gateway here; port 9000 is public, so /metrics is not served on it. */
  METRICS_PORT: env.port(9464),
  USER_URL: env.url({ default: 'http://127.0.0.1:8005' }),
  PRODUCT_URL: env.url({ default: 'http://127.0.0.1:8004' }),
  CART_URL: env.url({ default: 'http://127.0.0.1:8006' }),
  ORDER_URL: env.url({ default: 'http://127.0.0.1:8001' }),
  /** Not behind the public API; the gateway only asks them for /health. */
  PAYMENT_URL: env.url({ default: 'http://127.0.0.1:8002' }),
  EMAIL_URL: env.url({ default: 'http://127.0.0.1:8003' }),
  JWT_PUBLIC_KEY: env.pem(),
  JWT_ISSUER: env.string('scaleshop'),
  JWT_AUDIENCE: env.string('scaleshop-api'),
  /** Requests per client address per window; load tests from one address raise it. */
  RATE_LIMIT_MAX: env.integer({ default: 6_000, min: 1 }),
  RATE_LIMIT_WINDOW_MS: env.integer({ default: 60_000, min: 1_000 }),
  BODY_LIMIT_BYTES: env.integer({ default: 64 * 1024, min: 1_024 }),
  UPSTREAM_TIMEOUT_MS: env.integer({ default: 10_000, min: 100 }),
  /** A synchronous checkout (?mode=sync) waits for the whole saga, as the monolith did. */
  ORDER_TIMEOUT_MS: env.integer({ default: 35_000, min: 100 }),
  /**
   * How long a keep-alive connection to a service is reused. Kubernetes balances Services
   * per connection, so connections must be renewed for new replicas to receive traffic
   * after `kubectl scale`.
   */
  UPSTREAM_CONNECTION_TTL_MS: env.integer({ default: 15_000, min: 1_000 }),
};
