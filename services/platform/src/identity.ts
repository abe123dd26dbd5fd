import type { FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from './errors.ts';

/**
 * The gateway verifies the bearer token and forwards who the caller is in these headers.
 * It strips any copies a client sends, so inside the cluster they can be trusted;
 * NetworkPolicies keep everything but the gateway from reaching the services' ports.
 */
export const identityHeaders = {
  userId: 'x-user-id',
  email: 'x-user-email',
  role: 'x-user-role',
  /** The address the gateway saw the request come from; login throttling counts failures per address. */
  clientAddress: 'x-client-address',
} as const;

export const roles = ['customer', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface Caller {
  id: string;
  email: string;
  role: Role;
}

/** A UUID in any case, as Postgres's uuid type reads it; user ids and order ids are UUIDs. */
export const uuidPattern = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const uuid = new RegExp(uuidPattern);

export function isUuid(text: string): boolean {
  return uuid.test(text);
}

/**
 * Who is calling, as the gateway said. User ids are UUIDs and are compared with uuid columns,
 * so any other id cannot be a user: refused here rather than failing in a statement.
 */
export function callerOf(request: FastifyRequest): Caller {
  const id = request.headers[identityHeaders.userId];
  const email = request.headers[identityHeaders.email];
  const role = request.headers[identityHeaders.role];
  if (typeof id !== 'string' || id === '' || typeof email !== 'string' || typeof role !== 'string') {
    throw unauthorized();
  }
  if (!isUuid(id)) throw unauthorized('invalid user id');
  if (!(roles as readonly string[]).includes(role)) throw unauthorized('unknown role');
  return { id, email, role: role as Role };
}

export function requireAdmin(request: FastifyRequest): Caller {
  const caller = callerOf(request);
  if (caller.role !== 'admin') throw forbidden('admin role required');
  return caller;
}

/**
 * Route hooks (`onRequest`) that run before validation, so that a caller who may not use a
 * route learns nothing about the shape of its requests.
 */
export async function requireCaller(request: FastifyRequest): Promise<void> {
  callerOf(request);
}

export async function requireAdminCaller(request: FastifyRequest): Promise<void> {
  requireAdmin(request);
}

/** The client's address as the gateway saw it; the socket's peer when called directly (tests, local tools). */
export function clientAddressOf(request: FastifyRequest): string {
  const forwarded = request.headers[identityHeaders.clientAddress];
  return typeof forwarded === 'string' && forwarded !== '' ? forwarded : request.ip;
}

export function identityHeadersFor(caller: Caller): Record<string, string> {
  return { [identityHeaders.userId]: caller.id, [identityHeaders.email]: caller.email, [identityHeaders.role]: caller.role };
}
