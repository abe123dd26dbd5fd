/**
 * The one error body every service and the gateway answer with:
 * {"error": {"code": "...", "message": "..."}}
 */
export interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * Every error code an answer can carry, with what it means: one catalog, so a code is spelled
 * one way everywhere, and clients can rely on the list (it is the enum of ErrorBody in /docs).
 */
export const errorCodes = {
  BAD_REQUEST: 'the request is malformed: its target, encoding or HTTP framing',
  VALIDATION_ERROR: 'a field of the body, query, path or headers breaks the API\'s rules; the message names it',
  UNAUTHORIZED: 'no usable credentials: a bearer token or a caller identity is missing',
  INVALID_TOKEN: 'the access token is forged, malformed or for another audience',
  TOKEN_EXPIRED: 'the access token has expired; log in again',
  INVALID_CREDENTIALS: 'the email or the password is wrong (one message for both)',
  TOO_MANY_ATTEMPTS: 'too many failed logins or registrations; Retry-After says when to try again',
  FORBIDDEN: 'the caller may not do this, e.g. a customer changing the catalog',
  NOT_FOUND: 'no such route',
  METHOD_NOT_ALLOWED: 'the route does not take this method',
  NOT_ACCEPTABLE: 'no representation the client accepts',
  REQUEST_TIMEOUT: 'the request did not arrive in time',
  CONFLICT: 'the request conflicts with the current state',
  PAYLOAD_TOO_LARGE: 'the body is over the size limit',
  UNSUPPORTED_MEDIA_TYPE: 'the body is not JSON',
  UNPROCESSABLE_ENTITY: 'the request cannot be processed',
  HEADERS_TOO_LARGE: 'the request headers are over the size limit',
  RATE_LIMITED: 'too many requests from this client; Retry-After says when to try again',
  EMAIL_TAKEN: 'an account for this email exists already',
  PRODUCT_NOT_FOUND: 'no product has this id',
  PRODUCT_EXISTS: 'a product with this name exists already',
  INSUFFICIENT_STOCK: 'fewer units are in stock than asked for',
  LINE_LIMIT_EXCEEDED: 'a cart line holds at most 1,000 units',
  ITEM_NOT_IN_CART: 'the product is not in the cart',
  CART_EMPTY: 'there is nothing in the cart to check out',
  ORDER_TOO_LARGE: 'the order total is over the most one order can be',
  ORDER_NOT_FOUND: 'the caller has no order with this id',
  PAYMENT_NOT_FOUND: 'no payment for this order',
  INTERNAL_ERROR: 'a bug: the server failed; the logs have the details',
  BAD_GATEWAY: 'a service behind this one answered something it should not have',
  UPSTREAM_UNAVAILABLE: 'a service behind this one cannot be reached',
  UPSTREAM_TIMEOUT: 'a service behind this one did not answer in time',
  SERVICE_UNAVAILABLE: 'the service cannot serve right now; Retry-After says when to try again',
  DATABASE_UNAVAILABLE: 'the service\'s database cannot be reached; Retry-After says when to try again',
  BUSY: 'too much work of this kind at once (password hashing); Retry-After says when to try again',
  GATEWAY_TIMEOUT: 'an answer did not come in time',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: ErrorCode;
  /** Sent with the error body, e.g. Retry-After on a 429 or 503. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(statusCode: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.code = code;
    this.headers = headers;
  }
}

export const badRequest = (message: string, code: ErrorCode = 'BAD_REQUEST') => new HttpError(400, code, message);
export const unauthorized = (message = 'authentication required', code: ErrorCode = 'UNAUTHORIZED') => new HttpError(401, code, message);
export const forbidden = (message = 'not allowed', code: ErrorCode = 'FORBIDDEN') => new HttpError(403, code, message);
export const notFound = (message: string, code: ErrorCode = 'NOT_FOUND') => new HttpError(404, code, message);
export const conflict = (message: string, code: ErrorCode = 'CONFLICT') => new HttpError(409, code, message);

/**
 * A dependency could not serve: 503 with Retry-After, as every 503 of the shop carries, so a
 * client (or the gateway's caller) knows when to come back rather than guessing.
 */
export const upstreamUnavailable = (message: string, retryAfterSeconds = 1) =>
  new HttpError(503, 'UPSTREAM_UNAVAILABLE', message, { 'retry-after': String(retryAfterSeconds) });

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

export const errorBodySchema = {
  $id: 'ErrorBody',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', enum: Object.keys(errorCodes) }, message: { type: 'string' } },
    },
  },
} as const;
