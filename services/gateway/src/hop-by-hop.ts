/**
 * Hop-by-hop headers describe the gateway's connection to a service, not the client's to the
 * gateway (RFC 9110 §7.6.1). Passed on, the service's `connection: keep-alive` would keep open
 * a connection the client asked to close.
 */
export function withoutHopByHopHeaders<T extends Record<string, unknown>>(headers: T): T {
  const listed = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  const result = { ...headers };
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'upgrade', ...listed]) delete result[name];
  return result;
}
