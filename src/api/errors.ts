// One error shape for every answer that is not a success: {error, message}.
import type { FastifyError, FastifyInstance } from 'fastify';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'body_too_large'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'bad_content_length'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'malformed_json'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'malformed_json'],
};

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof ApiError) {
      if (err.headers) void reply.headers(err.headers);
      return reply.status(err.statusCode).send({ error: err.code, message: err.message, details: err.details });
    }
    if (err.validation) {
      const where = err.validationContext ?? 'request';
      return reply.status(400).send({ error: 'invalid_request', message: `${where}: ${err.message}` });
    }
    const known = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (known) return reply.status(known[0]).send({ error: known[1], message: err.message });
    if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
      return reply.status(400).send({ error: 'malformed_json', message: 'the body is not valid JSON' });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send({ error: 'bad_request', message: err.message });
    }
    if (databaseUnavailable(err)) {
      request.log.warn({ err: err.message }, 'database unavailable');
      return reply.status(503).header('retry-after', '1').send({
        error: 'database_unavailable',
        message: 'the database cannot take this request right now; nothing was written; retry shortly',
      });
    }
    // Internals stay in the log, not in the answer.
    request.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: 'internal', message: 'internal error; see the server log' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}

/**
 * Postgres out of reach or out of connections: class 08 (connection), 53300 (too many clients),
 * 57P01-57P03 (shutting down, starting up), a refused or reset socket, or the pool's own connect
 * timeout. A statement that fails so is rolled back, so the caller may retry.
 */
function databaseUnavailable(err: { code?: string; message?: string }): boolean {
  const code = err.code ?? '';
  return (
    code.startsWith('08') ||
    code === '53300' ||
    /^57P0[123]$/.test(code) ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    /timeout exceeded when trying to connect|Connection terminated/.test(err.message ?? '')
  );
}
