// otpkit as a Fastify plugin: the route table, through the one handler. With
// `currentUser` it serves the TOTP routes for the host app's user (what
// `totpRoutes` always was); without, otpkit's own accounts under /api/auth and
// /api/totp. Fastify only routes (for its OpenAPI document) and carries bytes.

import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { errorHandler } from './errors.js';
import {
  BODY_LIMIT_BYTES,
  clientAddress,
  createHandler,
  type HandlerOptions,
  type HttpRequest,
  type HttpResponse,
  splitTarget,
} from './handler.js';

type OtpkitFastifyOptions = HandlerOptions<FastifyRequest>;

function toRequest(request: FastifyRequest): HttpRequest<FastifyRequest> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const raw = request.body;
  return {
    method: request.method,
    ...splitTarget(request.url),
    headers,
    body: raw instanceof Uint8Array ? { raw } : undefined,
    ip: clientAddress(request.ip, request.socket.remoteAddress),
    secure: request.protocol === 'https',
    native: request,
  };
}

function send(reply: FastifyReply, response: HttpResponse): FastifyReply {
  reply.status(response.status).headers(response.headers);
  return response.body === undefined ? reply.send() : reply.send(response.body);
}

const otpkitFastify: FastifyPluginAsync<OtpkitFastifyOptions> = async (app: FastifyInstance, options) => {
  const handler = createHandler(options);
  const cookiePath = `${app.prefix}${options.currentUser ? '' : '/api/auth'}` || '/';
  // Bodies reach the handler as bytes, whatever their type: it parses, limits and validates them as every host does.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) =>
    done(null, body),
  );
  app.setValidatorCompiler(() => () => true); // the schemas below are for the docs; the handler validates
  app.setErrorHandler(errorHandler); // the one error shape, also inside a host app
  for (const route of handler.routes) {
    app.route({
      method: route.method,
      url: route.path,
      schema: route.schema,
      handler: async (request, reply) => send(reply, await handler.run(route, toRequest(request), cookiePath)),
    });
  }
};

/** The TOTP routes for a host app that says who its user is (`currentUser`). */
const totpRoutes = otpkitFastify;

export type { OtpkitFastifyOptions };
export { otpkitFastify, totpRoutes };
