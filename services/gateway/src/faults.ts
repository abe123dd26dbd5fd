import { badRequest, createServiceClient, faultKnobs, forbidden, HttpError, identityHeadersFor, knobsBodySchema, knownKnobs, Type, unauthorized, type App, type Caller } from '@scaleshop/platform';

const services = Object.keys(faultKnobs) as Array<keyof typeof faultKnobs>;

const FaultChange = Type.Object(
  { payment: Type.Optional(knobsBodySchema(faultKnobs.payment)), email: Type.Optional(knobsBodySchema(faultKnobs.email)) },
  { additionalProperties: false, minProperties: 1 },
);

function adminOf(caller: Caller | undefined): Caller {
  if (!caller) throw unauthorized();
  if (caller.role !== 'admin') throw forbidden('admin role required');
  return caller;
}

/**
 * GET and PUT /api/admin/faults: the fault knobs of every service that has them (the payment
 * provider's failure rate and latency, the email provider's latency), changed while the shop
 * runs. Admins only; each change is validated here against the knobs' bounds, passed to the
 * service that owns it (which stores it for all its replicas and logs it), and logged here.
 */
export function registerFaultKnobs(app: App, urls: Record<keyof typeof faultKnobs, string>): void {
  const clients = Object.fromEntries(services.map((service) => [service, createServiceClient({ service, baseUrl: urls[service], timeoutMs: 5_000, breaker: false })])) as Record<
    keyof typeof faultKnobs,
    ReturnType<typeof createServiceClient>
  >;
  app.addHook('onClose', async () => {
    await Promise.all(Object.values(clients).map((client) => client.close()));
  });

  const call = async (service: keyof typeof faultKnobs, caller: Caller, method: 'GET' | 'PUT', body?: unknown) => {
    const answer = await clients[service].request<Record<string, number>>({ method, path: '/admin/faults', headers: identityHeadersFor(caller), ...(body === undefined ? {} : { body }) });
    if (answer.status !== 200) throw new HttpError(502, 'BAD_GATEWAY', `${service} answered ${answer.status} to the fault knobs`);
    return answer.body;
  };

  app.get('/api/admin/faults', { schema: { tags: ['admin'], summary: 'The fault knobs in force (admin)', security: [{ bearerAuth: [] }] } }, async (request) => {
    const caller = adminOf(request.caller);
    return Object.fromEntries(await Promise.all(services.map(async (service) => [service, await call(service, caller, 'GET')] as const)));
  });

  app.put(
    '/api/admin/faults',
    { schema: { tags: ['admin'], summary: 'Change fault knobs while the shop runs (admin)', security: [{ bearerAuth: [] }], body: FaultChange } },
    async (request) => {
      const caller = adminOf(request.caller);
      const change = request.body as Partial<Record<keyof typeof faultKnobs, Record<string, number>>>;
      if (!services.some((service) => change[service])) throw badRequest(`name the knobs of ${services.join(' or ')}`, 'VALIDATION_ERROR');
      for (const service of services) if (change[service]) knownKnobs(change[service], faultKnobs[service]);
      const now: Record<string, Record<string, number>> = {};
      for (const service of services) now[service] = change[service] ? await call(service, caller, 'PUT', change[service]) : await call(service, caller, 'GET');
      request.log.warn({ changed_by: caller.email, change, now }, 'fault knobs changed');
      return now;
    },
  );
}
