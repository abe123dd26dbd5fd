import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { isDatabaseUnavailable } from '../database/index.ts';
import { errorBody, errorBodySchema, HttpError, type ErrorCode } from '../errors.ts';

/** The code of an error that carries only an HTTP status (fastify's own, a library's). */
const codeForStatus: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'RATE_LIMITED',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

/** Every error, whoever raised it, answered in the one error body: {"error": {"code", "message"}}. */
export const errorHandling = fp(
  async (app: FastifyInstance) => {
    app.addSchema(errorBodySchema);

    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof HttpError) {
        return reply.code(error.statusCode).headers(error.headers).send(errorBody(error.code, error.message));
      }
      if (error.validation) {
        return reply.code(400).send(errorBody('VALIDATION_ERROR', error.message));
      }
      if (isDatabaseUnavailable(error)) {
        request.log.warn({ err: error }, 'request failed: the database is unavailable');
        return reply.code(503).header('retry-after', '2').send(errorBody('DATABASE_UNAVAILABLE', 'the database is unavailable; try again shortly'));
      }
      const status = error.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        return reply.code(status).send(errorBody(codeForStatus[status] ?? 'BAD_REQUEST', error.message));
      }
      request.log.error({ err: error }, 'request failed');
      return reply.code(status >= 500 && status < 600 ? status : 500).send(errorBody(codeForStatus[status] ?? 'INTERNAL_ERROR', status === 500 ? 'internal error' : error.message));
    });

    app.setNotFoundHandler((request, reply) => {
      reply.code(404).send(errorBody('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`));
    });
  },
  { name: 'scaleshop-error-handling' },
);
