import { Type, errorResponses, type App } from '@scaleshop/platform';
import type { Notifications } from './notifications.ts';

const Email = Type.Object(
  {
    order_id: Type.String({ format: 'uuid' }),
    kind: Type.Union([Type.Literal('confirmation'), Type.Literal('failure')]),
    recipient: Type.String(),
    subject: Type.String(),
    message_id: Type.String(),
    status: Type.Union([Type.Literal('sending'), Type.Literal('sent')], { description: '"sending" until the hand-over to SMTP is recorded' }),
    sent_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { $id: 'Email' },
);

const EmailQuery = Type.Object({ order_id: Type.String({ format: 'uuid' }) });

/** Internal: not routed by the gateway, for looking into which emails an order caused. */
export function registerRoutes(app: App, notifications: Notifications): void {
  app.addSchema(Email);

  app.get(
    '/emails',
    {
      schema: {
        tags: ['emails'],
        summary: 'The emails sent about one order',
        querystring: EmailQuery,
        response: { 200: Type.Object({ items: Type.Array(Type.Ref('Email')) }), ...errorResponses(400) },
      },
    },
    async (request) => ({ items: await notifications.listEmails(request.query.order_id) }),
  );
}
