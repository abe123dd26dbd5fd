import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { errorBody, HttpError, type ErrorCode } from '../errors.ts';

/**
 * Checks every request must pass before any route, hook or proxy sees it. The gateway
 * decides routing, authentication and the upstream path on the request target, and the
 * upstream resolves that target again (WHATWG URL parsing turns `\` into `/` and resolves
 * `..` and `%2e%2e`). Refusing every target that two parsers could read differently is what
 * keeps the two decisions the same.
 */

/** How long a client may take to send its headers, and its whole request, before a 408. */
export const serverTimeouts = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 20_000,
  /** Node checks the two timeouts above on this period (30 s by default), so it bounds how late a cut comes. */
  connectionsCheckingIntervalMs: 2_000,
  /** Idle keep-alive connections; above the 60 s that common load balancers keep theirs open. */
  keepAliveTimeoutMs: 72_000,
} as const;

/** Far above any body of the API (which nests three levels), far below a stack overflow. */
export const maxJsonNesting = 64;

const absoluteForm = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * RFC 9112 §3.2.2: a server must accept the absolute-form (`GET http://host/path`). It is
 * brought to the origin-form here, before routing, so that every later decision reads the
 * same path. Anything else that does not start with `/` is left for `requestTargetProblem`.
 */
export function originForm(url: string): string {
  if (url.startsWith('/')) return url;
  const authority = absoluteForm.exec(url);
  if (!authority) return url;
  const rest = url.slice(authority[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** Why a request target is refused, or undefined when it has one meaning for every parser. */
export function requestTargetProblem(url: string): string | undefined {
  if (!url.startsWith('/')) return 'the request target must be a path starting with /';
  const queryStart = url.indexOf('?');
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  const query = queryStart === -1 ? '' : url.slice(queryStart + 1);
  let decodedPath: string;
  try {
    decodedPath = decodeURIComponent(path);
  } catch {
    return 'the request path has malformed percent-encoding';
  }
  if (/%2f|%5c/i.test(path) || decodedPath.includes('\\')) return 'the request path must not contain backslashes or encoded slashes';
  if (decodedPath.includes('//')) return 'the request path must not contain empty segments (//)';
  if (decodedPath.split('/').some((segment) => segment === '.' || segment === '..')) return 'the request path must not contain . or .. segments';
  if (/[\u0000-\u001f\u007f#]/.test(decodedPath)) return 'the request path must not contain control characters or #';
  try {
    decodeURIComponent(query.replaceAll('+', ' '));
  } catch {
    return 'the query string has malformed percent-encoding';
  }
  return undefined;
}

/** The client's request id when it is short and plain, so logs and echoed headers stay readable and bounded. */
const plainRequestId = /^[A-Za-z0-9._:-]{1,64}$/;

export function requestIdFor(request: IncomingMessage): string {
  const sent = request.headers['x-request-id'];
  return typeof sent === 'string' && plainRequestId.test(sent) ? sent : randomUUID();
}

/**
 * Whether a JSON text nests arrays and objects deeper than `limit`, found without parsing it:
 * validating such a body recursively is what overflows the stack.
 */
export function exceedsJsonNesting(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c) index++;
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x5b || char === 0x7b) {
      if (++depth > limit) return true;
    } else if (char === 0x5d || char === 0x7d) depth--;
  }
  return false;
}

export const nestingTooDeep = () => new HttpError(400, 'VALIDATION_ERROR', `body must not nest arrays and objects more than ${maxJsonNesting} levels deep`);

const clientErrors: Record<string, { status: number; code: ErrorCode; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'REQUEST_TIMEOUT', message: `the request was not received within ${serverTimeouts.requestTimeoutMs / 1000} s` },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' },
};

/**
 * Node answers requests it cannot parse, and those that time out, before fastify sees them;
 * this gives them the same error body as every other error.
 */
export function answerClientError(this: { log: FastifyBaseLogger }, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, message } = clientErrors[error.code ?? ''] ?? { status: 400, code: 'BAD_REQUEST' as const, message: 'malformed HTTP request' };
  this.log.debug({ err: error, status }, 'client error');
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'X-Content-Type-Options: nosniff\r\n' +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** The path of the first string in `value` holding U+0000, e.g. "body/items/0/name". */
function nulCharacterIn(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = nulCharacterIn(item, `${path}/${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The checks above as hooks, before any route acts on a request: the target, the JSON body's
 * depth, text Postgres cannot store; and the headers every answer carries.
 */
export const inputGuards = fp(
  async (app: FastifyInstance) => {
    // Before anything reads the path: routing has matched it, but nothing has acted on it yet.
    app.addHook('onRequest', (request, reply, done) => {
      reply.header('x-request-id', request.id);
      const problem = requestTargetProblem(request.url);
      done(problem === undefined ? undefined : new HttpError(400, 'BAD_REQUEST', problem));
    });
    app.addHook('onSend', (_request, reply, _payload, done) => {
      reply.header('x-content-type-options', 'nosniff');
      done();
    });

    // fastify's own JSON parsing (prototype-poisoning checks included), after a depth check.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      if (exceedsJsonNesting(body as string, maxJsonNesting)) return done(nestingTooDeep(), undefined);
      parseJson(request, body as string, done);
    });

    // Postgres text cannot hold U+0000; refused here with the field's name, it would otherwise
    // fail deep in a statement as a 500.
    app.addHook('preValidation', (request, _reply, done) => {
      const field = nulCharacterIn(request.body, 'body') ?? nulCharacterIn(request.query, 'querystring') ?? nulCharacterIn(request.params, 'params');
      done(field === undefined ? undefined : new HttpError(400, 'VALIDATION_ERROR', `${field} must not contain the NUL character (\\u0000)`));
    });
  },
  { name: 'scaleshop-input-guards' },
);
