import { Type, callerOf, clientAddressOf, errorResponses, type App } from '@scaleshop/platform';
import type { Accounts } from './accounts.ts';

const Email = Type.String({ format: 'email', maxLength: 254, examples: ['jane@example.com'] });

const Registration = Type.Object({
  email: Email,
  password: Type.String({ minLength: 8, maxLength: 128 }),
  name: Type.String({ minLength: 1, maxLength: 100 }),
});

const RegisteredUser = Type.Object({ id: Type.String({ format: 'uuid' }), email: Type.String(), name: Type.String() });

// Lenient on purpose: a malformed email at login is simply a failed login, not a hint about the rules.
const Credentials = Type.Object({
  email: Type.String({ minLength: 1, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 128 }),
});

const AccessToken = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'seconds until the token expires' }),
});

const CurrentUser = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  name: Type.String(),
  role: Type.Union([Type.Literal('customer'), Type.Literal('admin')]),
});

export function registerRoutes(app: App, accounts: Accounts): void {
  // Tokens and account details must not be kept by browsers or shared caches.
  app.addHook('onSend', (_request, reply, _payload, done) => {
    reply.header('cache-control', 'no-store');
    done();
  });

  app.post(
    '/auth/register',
    { schema: { tags: ['auth'], summary: 'Create a customer account', body: Registration, response: { 201: RegisteredUser, ...errorResponses(400, 409, 429, 503) } } },
    async (request, reply) => {
      const { id, email, name } = await accounts.register(request.body, clientAddressOf(request));
      return reply.code(201).send({ id, email, name });
    },
  );

  app.post(
    '/auth/login',
    { schema: { tags: ['auth'], summary: 'Exchange email and password for an access token', body: Credentials, response: { 200: AccessToken, ...errorResponses(400, 401, 429, 503) } } },
    async (request) => accounts.login(request.body, clientAddressOf(request)),
  );

  app.get(
    '/auth/me',
    { schema: { tags: ['auth'], summary: 'The signed-in account', security: [{ bearerAuth: [] }], response: { 200: CurrentUser, ...errorResponses(401) } } },
    async (request) => accounts.me(callerOf(request)),
  );
}
