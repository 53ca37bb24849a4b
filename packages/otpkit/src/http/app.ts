// buildApp(deps): the otpkit HTTP API as a Fastify instance. It never listens;
// main/ does, and the tests use app.inject().

import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Actor, Tokens as IssuedTokens, Service } from '../service/index.js';
import { answerClientError, HttpError, installErrorHandler } from './errors.js';
import { Credentials, ErrorBody, LoginResponse, LoginVerify, Me, Refresh, Tokens } from './schemas.js';
import { secondFactor, totpRoutes } from './totp-plugin.js';
import { webPages } from './web.js';

/** JSON bodies here are a few hundred bytes; 16 KiB is generous and bounded. */
const BODY_LIMIT_BYTES = 16 * 1024;

interface AppOptions {
  service: Service;
  /** A pino logger; none by default. */
  logger?: FastifyBaseLogger;
  /** Requests per minute per IP on /api/auth and /api/totp; false turns throttling off. */
  rateLimitPerMinute?: number | false;
  /**
   * Whom to believe about the client's address (X-Forwarded-For) and scheme
   * (X-Forwarded-Proto): false (nobody, the default), a number of proxy hops
   * in front of otpkit, or the proxies' addresses (CIDR ranges too). Never
   * true: then any client could name its own address. A hop count believes
   * whoever connects directly; addresses are safer where otpkit is reachable
   * other than through its proxy.
   */
  trustProxy?: false | number | string[];
}

/** Sent with every response: no sniffing, no framing, no referrer. */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** The docs page's own policy: swagger-ui's, with nothing from another host and no framing. */
const DOCS_CSP =
  "default-src 'self'; base-uri 'self'; img-src 'self' data:; object-src 'none'; script-src 'self'; " +
  "script-src-attr 'none'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'";

/**
 * Browsers ask for the refresh token as a cookie (header X-Otpkit-Session:
 * cookie): HttpOnly, so no script (and no injected script) can read it;
 * SameSite=Strict and only read when that header comes, which a cross-site
 * page cannot send, so no other site can use it.
 */
const REFRESH_COOKIE = 'otpkit_refresh';
const wantsCookie = (request: FastifyRequest) => request.headers['x-otpkit-session'] === 'cookie';

function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const pair of (request.headers.cookie ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

function setRefreshCookie(request: FastifyRequest, reply: FastifyReply, token: string | undefined): void {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  const expiry = token === undefined ? '; Max-Age=0' : ''; // no Max-Age: gone when the browser closes
  reply.header(
    'Set-Cookie',
    `${REFRESH_COOKIE}=${token ?? ''}; Path=/api/auth; HttpOnly; SameSite=Strict${secure}${expiry}`,
  );
}

/** The tokens as the client asked for them: all in the body, or the refresh token as a cookie. */
function deliver(request: FastifyRequest, reply: FastifyReply, tokens: IssuedTokens) {
  if (!wantsCookie(request)) return tokens;
  setRefreshCookie(request, reply, tokens.refreshToken);
  const { refreshToken: _, ...rest } = tokens;
  return rest;
}

/**
 * Fastify's own hop count trusts nobody (it cannot check the nearest peer);
 * proxy-addr's function form is the classic one: the nearest `hops` addresses
 * (the socket's peer first) are proxies, the next one is the client.
 */
function trusted(trust: false | number | string[]) {
  return typeof trust === 'number' ? (_address: string, hop: number) => hop < trust : trust;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth?: Actor & { sessionId: string };
  }
}

async function buildApp(options: AppOptions) {
  const { service } = options;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: trusted(options.trustProxy ?? false),
    // A header too large, or a request that is not HTTP: the coded error shape too.
    clientErrorHandler: answerClientError,
    // Strict schemas: extra fields and wrong types are errors, never silently fixed.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandler(app);
  app.addHook('onSend', async (request, reply) => {
    reply.headers(SECURITY_HEADERS);
    // Tokens, challenges, secrets, QR codes and backup codes travel here: no cache may keep them.
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'otpkit',
        version: '0.1.0',
        description: 'Accounts, TOTP two-factor authentication and two-step login',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null },
    staticCSP: DOCS_CSP,
  });
  if (options.rateLimitPerMinute !== false) {
    await app.register(rateLimit, {
      global: false,
      max: options.rateLimitPerMinute ?? 120,
      timeWindow: 60_000,
      errorResponseBuilder: (_request, context) =>
        new HttpError('RATE_LIMITED', 'too many requests: slow down', Math.ceil(context.ttl / 1000)),
    });
  }
  const throttled = options.rateLimitPerMinute === false ? {} : { config: { rateLimit: {} } };

  /** The bearer access token's user, with a live session; 401 otherwise. */
  async function authenticate(request: FastifyRequest) {
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (!token) throw new HttpError('UNAUTHENTICATED', 'send an access token: Authorization: Bearer <token>');
    request.auth = await service.authenticate(token);
    return request.auth;
  }
  const context = (request: FastifyRequest) => ({ ip: request.ip });
  const errors = { 400: ErrorBody, 401: ErrorBody, 409: ErrorBody, 429: ErrorBody, 503: ErrorBody };
  const tags = ['auth'];

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  await app.register(webPages);

  await app.register(
    async (plugin) => {
      const auth = plugin.withTypeProvider<TypeBoxTypeProvider>();
      auth.post(
        '/register',
        { ...throttled, schema: { tags, body: Credentials, response: { 201: Me, ...errors } } },
        async (request, reply) => {
          const user = await service.register(request.body.username, request.body.password, context(request));
          return reply.status(201).send(await service.me(user.id));
        },
      );
      auth.post(
        '/login',
        {
          ...throttled,
          schema: {
            tags,
            summary: 'Step one: username and password',
            body: Credentials,
            response: { 200: LoginResponse, ...errors },
          },
        },
        async (request, reply) => {
          const result = await service.login(request.body.username, request.body.password, context(request));
          return result.status === 'authenticated'
            ? { ...result, tokens: deliver(request, reply, result.tokens) }
            : result;
        },
      );
      auth.post(
        '/login/verify',
        {
          ...throttled,
          schema: {
            tags,
            summary: 'Step two: the challenge and a TOTP or backup code',
            body: LoginVerify,
            response: { 200: Tokens, ...errors },
          },
        },
        async (request, reply) => {
          const { challenge, ...factor } = request.body;
          return deliver(request, reply, await service.loginVerify(challenge, secondFactor(factor), context(request)));
        },
      );
      auth.post(
        '/refresh',
        {
          ...throttled,
          schema: {
            tags,
            summary: 'A new access token; the refresh token rotates',
            body: Refresh,
            response: { 200: Tokens, ...errors },
          },
        },
        async (request, reply) => {
          let token = request.body.refreshToken;
          if (token === undefined) {
            if (!wantsCookie(request)) throw new HttpError('INPUT_INVALID', 'send refreshToken');
            token = cookieOf(request, REFRESH_COOKIE);
            if (!token) throw new HttpError('TOKEN_INVALID', 'no session: sign in');
          }
          return deliver(request, reply, await service.refresh(token, context(request)));
        },
      );
      auth.post(
        '/logout',
        { schema: { tags, security: [{ bearer: [] }], response: { 204: {}, ...errors } } },
        async (request, reply) => {
          await service.logout(await authenticate(request), context(request));
          if (wantsCookie(request)) setRefreshCookie(request, reply, undefined);
          return reply.status(204).send();
        },
      );
      auth.get(
        '/me',
        { schema: { tags, security: [{ bearer: [] }], response: { 200: Me, ...errors } } },
        async (request) => service.me((await authenticate(request)).userId),
      );
    },
    { prefix: '/api/auth' },
  );

  await app.register(
    async (totp) => {
      if (options.rateLimitPerMinute !== false) {
        totp.addHook('onRoute', (route) => {
          route.config = { ...(route.config as object), rateLimit: {} } as typeof route.config;
        });
      }
      await totp.register(totpRoutes, { service, currentUser: authenticate });
    },
    { prefix: '/api/totp' },
  );

  return app;
}

type App = Awaited<ReturnType<typeof buildApp>>;

export type { App, AppOptions };
export { buildApp };
