/** No connection to Postgres could be had: it is down, restarting, or refusing new clients. */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    // The logger appends the cause's message.
    super('database unavailable', { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/**
 * Postgres's codes for a server shutting down, crashing, starting up or out of connection
 * slots (class 08, connection exception, is matched as a whole), and Node's for a socket the
 * server dropped. pg's own errors for a connection that went away carry no code.
 */
const outageCodes = new Set(['57P01', '57P02', '57P03', '53300', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
const lostConnectionMessage = /^Connection terminated|is not queryable/;

function isConnectionLoss(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (outageCodes.has(code) || code.startsWith('08'))) return true;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' && lostConnectionMessage.test(message);
}

/**
 * A statement's failure as its caller should see it: a DatabaseUnavailableError when the
 * connection under it went away. Only errors from the pg client pass through here, so SMTP and
 * AMQP errors with the same Node codes are never taken for an outage.
 */
export function asOutage(error: unknown): unknown {
  return isConnectionLoss(error) && !(error instanceof DatabaseUnavailableError) ? new DatabaseUnavailableError(error) : error;
}

/**
 * Whether an error comes from Postgres being unreachable or dropping the connection (a
 * restart, a failover) rather than from the statement: the same work succeeds once it is
 * back, so it is answered with 503 and retried without counting against a message's attempts.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return error instanceof DatabaseUnavailableError;
}
