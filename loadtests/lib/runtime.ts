/**
 * What a shopper journey may use, and nothing else: k6 provides it through k6/http, check() and
 * custom metrics (loadtests/k6/runtime.ts), Node through undici and HDR histograms (load/). So
 * this folder imports no k6 module and no Node built-in: the same journey runs under both.
 */

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  /** Path and query, from the shop's base URL: `/api/products/7`. */
  path: string;
  /**
   * The request's metric name, one per route (`GET /api/products/:id`), never one per id:
   * thresholds and reports are per name.
   */
  name: string;
  token?: string;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Statuses that are not failures (k6's expectedStatuses): 200–399 when left out. A sold-out
   * 409 is what a racing buyer is expected to see, not an error of the shop.
   */
  expectedStatuses?: readonly number[];
}

export interface HttpResponse {
  /** 0 when no answer came (refused, reset, timed out), as in k6. */
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** The parsed body, or undefined when there was none or it was not JSON. */
  json: unknown;
  /** Why no answer came, when status is 0. */
  error?: string;
}

export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResponse>;
}

export type Checkers<T> = Record<string, (value: T) => boolean>;

export interface LoadRuntime {
  http: HttpClient;
  /** k6's check(): each named predicate counts as passed or failed; true when all passed. */
  check<T>(value: T, checkers: Checkers<T>): boolean;
  /**
   * One order's saga, checkout → final status: its duration (ms) and whether it ended as the
   * journey expected (a buyer's order completed; a racer's order completed or rejected).
   */
  recordSaga(durationMs: number, endedAsExpected: boolean): void;
  sleep(ms: number): Promise<void>;
  log(message: string): void;
}

/** Rate, duration and the environment (k6's __ENV, Node's options), as a scenario's setup sees them. */
export interface RunParameters {
  rate: number;
  durationSeconds: number;
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * A journey with its lifecycle, as k6 has it: setup once (its result must survive JSON, since
 * k6 hands it to every VU as a copy), the iteration many times at the arrival rate, teardown
 * once after the last iteration.
 */
export interface Scenario<Data> {
  name: ScenarioName;
  description: string;
  defaults: { rate: number; duration: string };
  /** How long one iteration takes, roughly: sizes the pool of VUs (k6) or iterations in flight (Node). */
  typicalIterationSeconds: number;
  /** The names its iterations request: each gets a p99 threshold and a row in the summary. */
  requestNames: readonly RequestName[];
  /** Whether its iterations record saga completion times. */
  measuresSaga: boolean;
  setup(runtime: LoadRuntime, parameters: RunParameters): Promise<Data>;
  iteration(runtime: LoadRuntime, data: Data, iteration: number): Promise<void>;
  teardown?(runtime: LoadRuntime, data: Data): Promise<void>;
}

export const scenarioNames = ['browse', 'buyer', 'hot-item', 'mixed'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export const requestNames = [
  'GET /api/products',
  'GET /api/products/:id',
  'POST /api/auth/login',
  'GET /api/cart',
  'POST /api/cart/items',
  'DELETE /api/cart/items/:product_id',
  'POST /api/orders/checkout',
  'GET /api/orders/:id',
  'GET /api/orders',
] as const;
export type RequestName = (typeof requestNames)[number];
