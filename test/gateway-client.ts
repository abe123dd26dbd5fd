/** What the end-to-end tests send through the gateway, as a client would. */
export interface GatewayCall {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A call to the gateway: the status and the body, parsed when there is one. */
export async function callGateway(gatewayUrl: string, method: string, path: string, options: GatewayCall = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- each test reads the fields it asserts on
  const response = await fetch(`${gatewayUrl}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}
