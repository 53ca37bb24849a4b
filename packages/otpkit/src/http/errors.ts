// One error shape, {"error": {"code", "message"}}, and one table from codes
// to HTTP statuses. Messages never carry a code, secret, password or token.

import type { OtpkitError } from '@otpkit/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError, type ServiceErrorCode } from '../service/errors.js';

type HttpErrorCode =
  | ServiceErrorCode
  | 'UNAUTHENTICATED'
  | 'BODY_INVALID'
  | 'BODY_TOO_LARGE'
  | 'MEDIA_TYPE_UNSUPPORTED'
  | 'NOT_FOUND'
  | 'RATE_LIMITED'
  | 'INTERNAL';

const STATUS: Readonly<Record<HttpErrorCode, number>> = {
  INPUT_INVALID: 400,
  BODY_INVALID: 400,
  CODE_MALFORMED: 400,
  CREDENTIALS_INVALID: 401,
  CHALLENGE_INVALID: 401,
  CODE_WRONG: 401,
  CODE_REUSED: 401,
  TOKEN_INVALID: 401,
  UNAUTHENTICATED: 401,
  USER_NOT_FOUND: 404,
  NOT_FOUND: 404,
  USERNAME_TAKEN: 409,
  TWO_FACTOR_ENABLED: 409,
  TWO_FACTOR_NOT_ENABLED: 409,
  ENROLLMENT_NOT_STARTED: 409,
  BODY_TOO_LARGE: 413,
  MEDIA_TYPE_UNSUPPORTED: 415,
  SECOND_FACTOR_LOCKED: 429,
  RATE_LIMITED: 429,
  INTERNAL: 500,
};

class HttpError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
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
  if (error instanceof SyntaxError || error.statusCode === 400)
    return new HttpError('BODY_INVALID', 'the request body is not valid JSON');
  return undefined;
}

/** Answers any error in the one shape; used by the app and by the embeddable plugin. */
function errorHandler(
  error: FastifyError | ServiceError | HttpError | OtpkitError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  let known: HttpError | undefined;
  if (error instanceof HttpError) known = error;
  else if (error instanceof ServiceError) known = new HttpError(error.code, error.message, error.retryAfterSeconds);
  else known = fromFastify(error as FastifyError);
  if (!known) {
    // Not the client's fault: log it (messages hold no secrets) and say nothing more.
    request.log.error({ err: error }, 'request failed');
    known = new HttpError('INTERNAL', 'something went wrong on our side');
  }
  if (known.retryAfterSeconds !== undefined) reply.header('Retry-After', String(known.retryAfterSeconds));
  reply.status(STATUS[known.code]).send({ error: { code: known.code, message: known.message } });
}

function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((_request, reply) => {
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such route' } });
  });
}

export type { HttpErrorCode };
export { errorHandler, HttpError, installErrorHandler };
