/**
 * The shop's services and how they depend on each other: the one place the cdk8s app learns
 * who listens where, who owns a database, who takes part in the saga and who calls whom.
 * Mirrors scripts/local-shop.ts (local mode) and the services' config.ts files.
 */

export const appServiceNames = ['gateway', 'order', 'payment', 'email', 'product', 'user', 'cart'] as const;
export type AppServiceName = (typeof appServiceNames)[number];

/** The services that own a database (all but the gateway), in a fixed order. */
export const databaseServiceNames = ['order', 'payment', 'email', 'product', 'user', 'cart'] as const;
export type DatabaseServiceName = (typeof databaseServiceNames)[number];

export interface AppServiceShape {
  /** The HTTP port the service listens on (its PORT default), also its Service port. */
  readonly port: number;
  /**
   * Where it serves /metrics when that is not `port` (METRICS_PORT): never on its Service, so
   * only a scraper admitted by a NetworkPolicy reaches it.
   */
  readonly metricsPort?: number;
  /** Owns a Postgres database (DATABASE_URL). */
  readonly ownsDatabase: boolean;
  /** Takes part in the checkout saga over RabbitMQ (RABBITMQ_URL). */
  readonly saga: boolean;
  /** Services it calls over HTTP, with the environment variable that holds each one's URL. */
  readonly calls: readonly { readonly service: AppServiceName; readonly variable: string }[];
  /** The half of the JWT key pair it needs, if any, and the variable that holds it. */
  readonly jwtKey?: { readonly key: 'private.pem' | 'public.pem'; readonly variable: string };
}

export const appServices: Readonly<Record<AppServiceName, AppServiceShape>> = {
  gateway: {
    port: 9000,
    // Off the public port: the gateway's port 9000 is the shop's API, open to anywhere.
    metricsPort: 9464,
    ownsDatabase: false,
    saga: false,
    // payment and email are not behind the public API: the gateway only asks them for /health.
    calls: [
      { service: 'user', variable: 'USER_URL' },
      { service: 'product', variable: 'PRODUCT_URL' },
      { service: 'cart', variable: 'CART_URL' },
      { service: 'order', variable: 'ORDER_URL' },
      { service: 'payment', variable: 'PAYMENT_URL' },
      { service: 'email', variable: 'EMAIL_URL' },
    ],
    jwtKey: { key: 'public.pem', variable: 'JWT_PUBLIC_KEY' },
  },
  order: { port: 8001, ownsDatabase: true, saga: true, calls: [{ service: 'cart', variable: 'CART_URL' }] },
  payment: { port: 8002, ownsDatabase: true, saga: true, calls: [] },
  email: { port: 8003, ownsDatabase: true, saga: true, calls: [] },
  product: { port: 8004, ownsDatabase: true, saga: true, calls: [] },
  user: { port: 8005, ownsDatabase: true, saga: false, calls: [], jwtKey: { key: 'private.pem', variable: 'JWT_PRIVATE_KEY' } },
  cart: { port: 8006, ownsDatabase: true, saga: true, calls: [{ service: 'product', variable: 'PRODUCT_URL' }] },
};

/** Well-known ports of the infrastructure. */
export const infraPorts = {
  postgres: 5432,
  amqp: 5672,
  rabbitmqManagement: 15672,
  otlpGrpc: 4317,
  otlpHttp: 4318,
  jaegerUi: 16686,
  jaegerHealth: 13133,
  smtp: 1025,
  mailpitUi: 8025,
  dns: 53,
} as const;

/** The database of a service, in its own instance or in the shared one. */
export function databaseName(service: DatabaseServiceName): string {
  return `scaleshop_${service}`;
}

/** The name of the Postgres StatefulSet and headless Service that holds a service's database. */
export function postgresInstanceOf(service: DatabaseServiceName, sharedPostgres: boolean): string {
  return sharedPostgres ? 'postgres' : `postgres-${service}`;
}
