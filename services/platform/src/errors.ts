/**
 * The one error body every service and the gateway answer with:
 * {"error": {"code": "...", "message": "..."}}
 */
export interface ErrorBody {
  error: { code: string; message: string };
}

export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: string;
  /** Sent with the error body, e.g. Retry-After on a 429 or 503. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(statusCode: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.code = code;
    this.headers = headers;
  }
}

export const badRequest = (message: string, code = 'BAD_REQUEST') => new HttpError(400, code, message);
export const unauthorized = (message = 'authentication required', code = 'UNAUTHORIZED') => new HttpError(401, code, message);
export const forbidden = (message = 'not allowed', code = 'FORBIDDEN') => new HttpError(403, code, message);
export const notFound = (message: string, code = 'NOT_FOUND') => new HttpError(404, code, message);
export const conflict = (message: string, code = 'CONFLICT') => new HttpError(409, code, message);

export function errorBody(code: string, message: string): ErrorBody {
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
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;
