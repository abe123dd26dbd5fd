import { Money, Type, Uuid, callerOf, errorResponses, pageQuery, requireCaller, traceFields, type App } from '@scaleshop/platform';
import type { Orders } from './orders.ts';
import { orderStatuses } from './schema.ts';

const Timestamp = Type.String({ format: 'date-time' });

const Status = Type.Enum(orderStatuses);

const Order = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: Status,
    total_amount: Money,
    items: Type.Array(
      Type.Object({
        product_id: Type.Integer(),
        name: Type.String(),
        price: Money,
        quantity: Type.Integer({ minimum: 1 }),
        line_total: Money,
      }),
    ),
    processing_duration_ms: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      description: 'async: from the request to the order\'s commit; sync: from the request to its final status',
    }),
    failure_reason: Type.Union([Type.String(), Type.Null()]),
    trace_id: Type.Union([Type.String({ pattern: '^[0-9a-f]{32}$' }), Type.Null()], {
      description: 'the trace of the checkout that placed the order (W3C trace id, as Jaeger shows it); null when it ran without tracing',
    }),
    created_at: Timestamp,
    history: Type.Array(Type.Object({ status: Status, at: Timestamp }), { description: 'every status the order has been in, oldest first' }),
  },
  { $id: 'Order' },
);

const OrderList = Type.Object({ items: Type.Array(Type.Ref('Order')), total: Type.Integer() });

const CheckoutQuery = Type.Object({
  mode: Type.Enum(['async', 'sync'], {
    default: 'async',
    description: 'async answers 202 once the order is recorded; sync waits for the saga to finish and answers 200 (202 if it takes too long)',
  }),
});

const CheckoutHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'any string of your choosing, e.g. a UUID: sending the checkout again with the same key answers with the order the first one placed (header Idempotent-Replayed: true) instead of placing another',
    }),
  ),
});

const ListQuery = Type.Object(pageQuery);

const OrderId = Type.Object({ id: Uuid });

// Checkout reads the cart from the cart service, whose failures surface as 502-504.
const upstreamErrors = [502, 503, 504];

export function registerRoutes(app: App, orders: Orders): void {
  app.addSchema(Order);

  app.post(
    '/orders/checkout',
    {
      onRequest: requireCaller,
      schema: {
        tags: ['orders'],
        summary: 'Place an order for everything in the caller\'s cart',
        security: [{ bearerAuth: [] }],
        querystring: CheckoutQuery,
        headers: CheckoutHeaders,
        response: { 200: Type.Ref('Order'), 202: Type.Ref('Order'), ...errorResponses(400, 401, ...upstreamErrors) },
      },
    },
    async (request, reply) => {
      // elapsedTime counts from when fastify received the request, before any hook ran.
      const startedAt = performance.now() - reply.elapsedTime;
      const { order, final, replayed } = await orders.checkout({
        caller: callerOf(request),
        requestId: request.id,
        startedAt,
        mode: request.query.mode,
        idempotencyKey: request.headers['idempotency-key'],
        // The request's span, which @fastify/otel started from the incoming traceparent when there is one.
        traceId: traceFields().trace_id,
      });
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(final ? 200 : 202).send(order);
    },
  );

  app.get(
    '/orders',
    {
      onRequest: requireCaller,
      schema: {
        tags: ['orders'],
        summary: 'The caller\'s orders, newest first',
        security: [{ bearerAuth: [] }],
        querystring: ListQuery,
        response: { 200: OrderList, ...errorResponses(400, 401) },
      },
    },
    async (request) => orders.listOrders(callerOf(request).id, request.query),
  );

  app.get(
    '/orders/:id',
    {
      onRequest: requireCaller,
      schema: {
        tags: ['orders'],
        summary: 'One of the caller\'s orders, with its status history',
        security: [{ bearerAuth: [] }],
        params: OrderId,
        response: { 200: Type.Ref('Order'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => orders.getOrder(callerOf(request).id, request.params.id),
  );
}
