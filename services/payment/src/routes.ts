import { Money, Type, errorResponses, type App } from '@scaleshop/platform';
import type { Payments } from './payments.ts';

const Payment = Type.Object(
  {
    order_id: Type.String({ format: 'uuid' }),
    amount: Money,
    status: Type.Union([Type.Literal('succeeded'), Type.Literal('declined')]),
    reason: Type.Union([Type.String(), Type.Null()], { description: 'why the charge was declined' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Payment' },
);

const OrderParams = Type.Object({ order_id: Type.String({ format: 'uuid' }) });

/** Internal: not routed by the gateway, for looking into what happened to an order's charge. */
export function registerRoutes(app: App, payments: Payments): void {
  app.addSchema(Payment);

  app.get(
    '/payments/:order_id',
    { schema: { tags: ['payments'], summary: 'The charge of one order', params: OrderParams, response: { 200: Type.Ref('Payment'), ...errorResponses(400, 404) } } },
    async (request) => payments.getPayment(request.params.order_id),
  );
}
