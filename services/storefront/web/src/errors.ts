import type { FetchBaseQueryError } from '@reduxjs/toolkit/query';
import type { SerializedError } from '@reduxjs/toolkit';

export interface ApiError {
  status: number | 'offline';
  code: string;
  message: string;
  /** The field a validation error names (the server says "body/email must …"). */
  field?: string;
}

/** The one error body the API answers every error with, or what the browser saw instead. */
export function apiError(error: FetchBaseQueryError | SerializedError | undefined): ApiError | undefined {
  if (!error) return undefined;
  if (!('status' in error)) return { status: 'offline', code: 'CLIENT_ERROR', message: error.message ?? 'something went wrong' };
  if (typeof error.status !== 'number') {
    return { status: 'offline', code: 'UNREACHABLE', message: 'the shop cannot be reached right now; it will work again once it is back' };
  }
  const body = error.data as { error?: { code?: string; message?: string } } | undefined;
  const code = body?.error?.code ?? 'HTTP_ERROR';
  const message = body?.error?.message ?? `the server answered ${error.status}`;
  const named = /^body\/([a-z_]+)\b/.exec(message);
  return { status: error.status, code, message, ...(named ? { field: named[1] } : {}) };
}

export function describeError(error: ApiError): string {
  if (error.status === 503) return `Temporarily unavailable: ${error.message}. Try again in a moment.`;
  return error.message;
}
