import { SerialId, Type, callerOf, errorResponses, requireCaller, type App } from '@scaleshop/platform';
import { maxLineQuantity, type Cart } from './cart.ts';

const Amount = Type.String({ pattern: '^(0|[1-9][0-9]*)\\.[0-9]{2}$', description: 'exact decimal amount, e.g. "1299.99"', examples: ['1299.99'] });

const Quantity = Type.Integer({ minimum: 1, maximum: maxLineQuantity });

const ProductId = SerialId;

const CartView = Type.Object(
  {
    items: Type.Array(
      Type.Object({
        product_id: Type.Integer(),
        name: Type.String(),
        price: Amount,
        quantity: Type.Integer({ minimum: 1 }),
        line_total: Amount,
      }),
    ),
    total: Amount,
  },
  { $id: 'Cart', description: 'the caller\'s cart at current catalog prices' },
);

const ItemParams = Type.Object({ product_id: ProductId });

const NewItem = Type.Object({ product_id: ProductId, quantity: Quantity });

const QuantityUpdate = Type.Object({ quantity: Quantity });

// Every route talks to the product service, whose failures surface as 502-504.
const upstreamErrors = [502, 503, 504];

export function registerRoutes(app: App, cart: Cart): void {
  app.addSchema(CartView);

  app.get(
    '/cart',
    {
      onRequest: requireCaller,
      schema: {
        tags: ['cart'],
        summary: 'The caller\'s cart',
        security: [{ bearerAuth: [] }],
        response: { 200: Type.Ref('Cart'), ...errorResponses(401, ...upstreamErrors) },
      },
    },
    async (request) => cart.view(callerOf(request).id, request.id),
  );

  app.post(
    '/cart/items',
    {
      onRequest: requireCaller,
      schema: {
        tags: ['cart'],
        summary: 'Add a product to the cart, or more of one already in it',
        security: [{ bearerAuth: [] }],
        body: NewItem,
        response: { 201: Type.Ref('Cart'), ...errorResponses(400, 401, 404, 409, ...upstreamErrors) },
      },
    },
    async (request, reply) => {
      const { product_id, quantity } = request.body;
      const view = await cart.addItem(callerOf(request).id, product_id, quantity, request.id);
      return reply.code(201).send(view);
    },
  );

  app.patch(
    '/cart/items/:product_id',
    {
      onRequest: requireCaller,
      schema: {
        tags: ['cart'],
        summary: 'Set the quantity of a product in the cart',
        security: [{ bearerAuth: [] }],
        params: ItemParams,
        body: QuantityUpdate,
        response: { 200: Type.Ref('Cart'), ...errorResponses(400, 401, 404, 409, ...upstreamErrors) },
      },
    },
    async (request) => cart.setQuantity(callerOf(request).id, request.params.product_id, request.body.quantity, request.id),
  );

  app.delete(
    '/cart/items/:product_id',
    {
      onRequest: requireCaller,
      schema: {
        tags: ['cart'],
        summary: 'Remove a product from the cart',
        security: [{ bearerAuth: [] }],
        params: ItemParams,
        response: { 200: Type.Ref('Cart'), ...errorResponses(400, 401, 404, ...upstreamErrors) },
      },
    },
    async (request) => cart.removeItem(callerOf(request).id, request.params.product_id, request.id),
  );
}
