import { HttpError, Money, SerialId, Type, errorResponses, maxInt4, pageQuery, requireAdminCaller, type App } from '@scaleshop/platform';
import type { Catalog } from './catalog.ts';

const Product = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    description: Type.String(),
    price: Money,
    stock: Type.Integer({ minimum: 0 }),
    category: Type.String(),
  },
  { $id: 'Product' },
);

const ProductId = Type.Object({ id: SerialId });

const ProductList = Type.Object({ items: Type.Array(Type.Ref('Product')), total: Type.Integer() });

const ListQuery = Type.Object({
  category: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  ids: Type.Optional(Type.String({ pattern: '^[0-9]{1,10}(,[0-9]{1,10}){0,99}$', description: `comma-separated product ids from 1 to ${maxInt4} (at most 100)` })),
  ...pageQuery,
});

const NewProduct = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.String({ maxLength: 2000, default: '' }),
  price: Money,
  stock: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
  category: Type.String({ minLength: 1, maxLength: 100 }),
});

const StockUpdate = Type.Object({ stock: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }) });

export function registerRoutes(app: App, catalog: Catalog): void {
  app.addSchema(Product);

  app.get(
    '/products',
    { schema: { tags: ['products'], summary: 'List the catalog', querystring: ListQuery, response: { 200: ProductList, 400: errorResponses(400)[400] } } },
    async (request) => {
      const { category, limit, offset } = request.query;
      const ids = request.query.ids?.split(',').map(Number);
      // The pattern bounds the digits; the value is checked here, as a pattern for 1..2^31-1 would be unreadable.
      if (ids?.some((id) => id < 1 || id > maxInt4)) throw new HttpError(400, 'VALIDATION_ERROR', `querystring/ids must hold ids from 1 to ${maxInt4}`);
      return catalog.listProducts({
        limit,
        offset,
        ...(category === undefined ? {} : { category }),
        ...(ids === undefined ? {} : { ids }),
      });
    },
  );

  app.get(
    '/products/:id',
    { schema: { tags: ['products'], summary: 'One product', params: ProductId, response: { 200: Type.Ref('Product'), ...errorResponses(400, 404) } } },
    async (request) => catalog.getProduct(request.params.id),
  );

  app.post(
    '/products',
    {
      onRequest: requireAdminCaller,
      schema: {
        tags: ['products'],
        summary: 'Add a product (admin)',
        security: [{ bearerAuth: [] }],
        body: NewProduct,
        response: { 201: Type.Ref('Product'), ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const product = await catalog.createProduct(request.body);
      return reply.code(201).send(product);
    },
  );

  app.patch(
    '/products/:id/stock',
    {
      onRequest: requireAdminCaller,
      schema: {
        tags: ['products'],
        summary: 'Set a product\'s stock (admin)',
        security: [{ bearerAuth: [] }],
        params: ProductId,
        body: StockUpdate,
        response: { 200: Type.Ref('Product'), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => catalog.setStock(request.params.id, request.body.stock),
  );
}
