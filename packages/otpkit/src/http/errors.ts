// One error shape, {"error": {"code", "message"}}, and one table from codes
// to HTTP statuses. Messages never carry a code, secret, password or token.

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError, type ServiceErrorCode } from '../service/errors.js';
import { DatabaseUnavailable } from '../store/db.js';

/** How long a client should wait before trying again while the database is out of reach. */
const DATABASE_RETRY_AFTER_SECONDS = 5;

type HttpErrorCode =
  | ServiceErrorCode
  | 'UNAUTHENTICATED'
  | 'BODY_INVALID'
  | 'BODY_TOO_LARGE'
  | 'MEDIA_TYPE_UNSUPPORTED'
  | 'NOT_FOUND'
  | 'RATE_LIMITED'
  | 'INTERNAL'
  | 'DATABASE_UNAVAILABLE'
  // Node's HTTP parser refused the request before Fastify saw it (answerClientError).
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'REQUEST_MALFORMED';

const STATUS: Readonly<Record<HttpErrorCode, number>> = {
  INPUT_INVALID: 400,
  REQUEST_MALFORMED: 400,
  BODY_INVALID: 400,
  CODE_MALFORMED: 400,
  CREDENTIALS_INVALID: 401,
  CHALLENGE_INVALID: 401,
  CODE_WRONG: 401,
  CODE_REUSED: 401,
  TOKEN_INVALID: 401,
  UNAUTHENTICATED: 401,
  SECOND_FACTOR_REQUIRED: 403,
  ENROLLMENT_REQUIRED: 403,
  ACCOUNT_DEACTIVATED: 403,
  PASSWORD_WRONG: 403,
  USER_NOT_FOUND: 404,
  NOT_FOUND: 404,
  USERNAME_TAKEN: 409,
  TWO_FACTOR_ENABLED: 409,
  TWO_FACTOR_NOT_ENABLED: 409,
  ENROLLMENT_NOT_STARTED: 409,
  AUTHENTICATOR_NOT_FOUND: 404,
  DEVICE_NOT_FOUND: 404,
  AUTHENTICATOR_LIMIT: 409,
  TWO_FACTOR_REQUIRED: 409,
  AUTHENTICATORS_CHANGED: 409,
  REQUEST_TIMEOUT: 408,
  BODY_TOO_LARGE: 413,
  MEDIA_TYPE_UNSUPPORTED: 415,
  HEADERS_TOO_LARGE: 431,
  SECOND_FACTOR_LOCKED: 429,
  RATE_LIMITED: 429,
  LOGIN_THROTTLED: 429,
  INTERNAL: 500,
  KEY_MISSING: 500,
  SERVER_BUSY: 503,
  DATABASE_UNAVAILABLE: 503,
};

class HttpError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
    /** More about the error, for a client to say (AttemptsLeft): fields beside code and message. */
    readonly details?: object,
  ) {
    super(message);
  }
}

/** Fastify's own errors for bad requests, as our codes. Their messages name fields, never values. */
function fromFastify(error: FastifyError): HttpError | undefined {
  // Ajv's messages name the field and the rule ("body/code must NOT have more than 32 characters"), never the value.
  if (error.validation) return new HttpError('INPUT_INVALID', error.message);
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError('BODY_TOO_LARGE', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError('MEDIA_TYPE_UNSUPPORTED', 'send JSON (Content-Type: application/json)');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError('BODY_INVALID', 'the request body is not valid JSON');
  }
  if (error instanceof SyntaxError) return new HttpError('BODY_INVALID', 'the request body is not valid JSON');
  // Anything else Fastify or a plugin refused as the client's fault (a URL that does not decode, a
  // static path that climbs out of its folder): in the one shape, saying nothing of the request.
  const status = error.statusCode ?? 0;
  if (status === 403 || status === 404) return new HttpError('NOT_FOUND', 'no such route');
  if (status >= 400 && status < 500) return new HttpError('REQUEST_MALFORMED', 'the request is not valid');
  return undefined;
}

/** Sent with every response, the web UI's and the docs' too: no sniffing, no framing, no referrer. */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * Sent with every API answer and every error (also those Fastify answers before
 * any route): the security headers, and no cache may keep a token, secret or code.
 */
const API_HEADERS = { ...SECURITY_HEADERS, 'cache-control': 'no-store' };

const JSON_TYPE = 'application/json; charset=utf-8';

/** Where failures are logged: pino's shape (the server's logger), or nothing. */
interface Log {
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** Any error as the one shape: status, headers (the API's, Retry-After) and the JSON body. Faults of ours are logged. */
function answerError(
  error: unknown,
  log?: Log,
): { status: number; headers: Record<string, string>; body: string; code: HttpErrorCode } {
  let known: HttpError | undefined;
  if (error instanceof HttpError) known = error;
  else if (error instanceof ServiceError)
    known = new HttpError(error.code, error.message, error.retryAfterSeconds, error.details);
  else if (error instanceof DatabaseUnavailable) {
    // An outage, not a bug: one warning per request, no stack. The message says where and what, never a value.
    log?.warn({ database: error.message }, 'database unavailable');
    known = new HttpError(
      'DATABASE_UNAVAILABLE',
      'the database is unavailable; try again shortly',
      DATABASE_RETRY_AFTER_SECONDS,
    );
  } else known = fromFastify(error as FastifyError);
  if (!known) {
    // Not the client's fault: log it (messages hold no secrets) and say nothing more.
    log?.error({ err: error }, 'request failed');
    known = new HttpError('INTERNAL', 'something went wrong on our side');
  }
  const headers: Record<string, string> = { ...API_HEADERS, 'content-type': JSON_TYPE };
  if (known.retryAfterSeconds !== undefined) headers['retry-after'] = String(known.retryAfterSeconds);
  return {
    status: STATUS[known.code],
    headers,
    body: JSON.stringify({ error: { code: known.code, message: known.message, ...known.details } }),
    code: known.code,
  };
}

/** Fastify's error handler: the same answer as every host's. */
function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const answer = answerError(error, request.log);
  reply.status(answer.status).headers(answer.headers).send(answer.body);
}

/** Node's HTTP parser refused the request (a header too large, bad framing): answer in the one shape and close. */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
  const known =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new HttpError('HEADERS_TOO_LARGE', 'the request headers are too large')
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new HttpError('REQUEST_TIMEOUT', 'the request took too long to arrive')
        : new HttpError('REQUEST_MALFORMED', 'the request is not valid HTTP');
  const status = STATUS[known.code];
  const body = JSON.stringify({ error: { code: known.code, message: known.message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${JSON_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => errorHandler(new HttpError('NOT_FOUND', 'no such route'), request, reply));
}

export type { HttpErrorCode, Log };
export {
  API_HEADERS,
  answerClientError,
  answerError,
  errorHandler,
  HttpError,
  installErrorHandler,
  JSON_TYPE,
  SECURITY_HEADERS,
};
