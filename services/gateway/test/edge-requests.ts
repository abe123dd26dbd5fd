import fc from 'fast-check';

/**
 * Requests as an attacker or a careless client writes them, byte for byte: paths mixing the
 * API's prefixes with traversal in every spelling, absolute-form targets, arbitrary query
 * data, forged identity headers, broken and deep bodies.
 */
export interface EdgeRequest {
  method: string;
  target: string;
  headers: Record<string, string>;
  body: string;
}

const prefixes = ['/api/products', '/api/auth', '/api/cart', '/api/orders', '/api', '/docs', '/health', ''];

const segment = fc.oneof(
  fc.constantFrom('1', '7', 'items', 'checkout', 'login', 'register', 'me', 'metrics', 'health', 'ready', 'live', 'openapi.json', 'stock', '2147483648', '-1', '0'),
  fc.constantFrom('..', '.', '%2e%2e', '%2E.', '.%2e', '%2e', '..\\..', '\\..\\..\\', '%5c..%5c', '%2f..%2f', '%2F', '', '%00', '%FF', '%', '%zz', '%252e%252e', ';', '#', '~', '..;'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 6 }).map((text) => encodeURIComponent(text).replaceAll('%2F', '/')),
);

const separator = fc.constantFrom('/', '/', '/', '\\', '//', '%2f', '%5c');

const path = fc
  .tuple(fc.constantFrom(...prefixes), fc.array(fc.tuple(separator, segment), { maxLength: 6 }), fc.constantFrom('', '/', '\\'))
  .map(([prefix, parts, end]) => prefix + parts.map(([sep, part]) => sep + part).join('') + end)
  .map((text) => (text.startsWith('/') ? text : `/${text}`));

const queryValue = fc.oneof(
  fc.constantFrom('../', '..%2f..%2fetc', '%FF', '%', '%E2%82', 'a+b', '%00', '2147483648', '99999999999999999999', '-1', 'Electronics', '1,2,3', '1,2147483648', ''),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
);
const queryKey = fc.constantFrom('category', 'ids', 'limit', 'offset', 'mode', 'x', '__proto__', 'constructor');
const query = fc.option(
  fc.array(fc.tuple(queryKey, queryValue), { minLength: 1, maxLength: 4 }).map((pairs) => `?${pairs.map(([key, value]) => `${key}=${value}`).join('&')}`),
  { nil: '' },
);

/** Aimed: a public prefix, then enough parent steps in one spelling to climb to a service's root, then an internal route. */
const dotDot = fc.constantFrom('..', '%2e%2e', '%2E.', '.%2e', '%2e.');
const climbSeparator = fc.constantFrom('/', '\\', '%5c', '%5C', '%2f', '/./', '\\.\\');
const internalRoute = fc.constantFrom('metrics', 'health/ready', 'health/live', 'openapi.json', 'health\\ready');
const traversal = fc
  .tuple(fc.constantFrom(...prefixes.filter((prefix) => prefix.startsWith('/api/'))), fc.constantFrom('1', 'x', 'items', ''), climbSeparator, dotDot, fc.integer({ min: 1, max: 5 }), internalRoute)
  .map(([prefix, first, separatorText, up, steps, route]) => `${prefix}/${first}${(separatorText + up).repeat(steps)}${separatorText}${route}`);

const target = fc
  .tuple(fc.constantFrom('', '', '', 'http://x', 'HTTP://scaleshop.local:9000', 'https://evil.example'), fc.oneof(path, traversal), query)
  .map(([origin, pathText, queryText]) => origin + pathText + queryText);

const plainHeaderValue = fc.string({ maxLength: 40 }).map((text) => text.replace(/[^\x20-\x7e]/g, ''));

function headersFor(token: string) {
  return fc.record(
    {
      authorization: fc.constantFrom(`Bearer ${token}`, 'Bearer garbage', 'Basic YTpi', `bearer ${token}`, ''),
      'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/JSON'),
      'x-user-id': fc.constantFrom('11111111-1111-4111-8111-111111111111', 'admin'),
      'x-user-role': fc.constantFrom('admin', 'customer'),
      'x-client-address': fc.constantFrom('10.0.0.1', '::1'),
      'x-request-id': plainHeaderValue,
      'idempotency-key': plainHeaderValue,
      'x-forwarded-for': fc.constantFrom('1.2.3.4', 'unknown'),
    },
    { requiredKeys: [] },
  );
}

const body = fc.oneof(
  fc.constant(''),
  fc.json({ maxDepth: 4 }),
  fc.record({ email: fc.string({ maxLength: 30 }), password: fc.string({ maxLength: 30 }), name: fc.string({ maxLength: 10 }) }).map((value) => JSON.stringify(value)),
  fc.record({ product_id: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 12 })), quantity: fc.oneof(fc.integer(), fc.constant(1e308)) }).map((value) => JSON.stringify(value)),
  fc.integer({ min: 60, max: 3_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', '{"email":"a\\u0000b"}', '{', 'null', '[]', '"text"'),
);

export function edgeRequests(token: string): fc.Arbitrary<EdgeRequest> {
  return fc.record({
    method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'),
    target,
    headers: headersFor(token).map((headers) => Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== ''))),
    body,
  });
}

/** What only a service's internal routes answer: metrics text, a readiness report, an OpenAPI document of one service. */
export function looksInternal(body: string): boolean {
  return /# HELP |# TYPE |"status":"(live|ready|not_ready)"|"checks":\{|"openapi":"3/.test(body);
}

/**
 * Whether the gateway would forward `target` to a service (it starts /api): the gateway's own
 * /health/live, /health/ready and /docs answer for the gateway itself, as probes need them to.
 */
export function aimsAtServices(target: string): boolean {
  return /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)?\/api(\/|\?|$)/i.test(target);
}
