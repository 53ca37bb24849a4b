// buildApp(deps): the standalone otpkit server as a Fastify instance: the
// route table with otpkit's own accounts, the web UI, the OpenAPI document,
// /healthz, /readyz and (when asked) /metrics; and how it drains when closed.
// It never listens; main/ does, and the tests use app.inject().

import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Service } from '../service/index.js';
import { answerClientError, errorHandler, installErrorHandler, SECURITY_HEADERS } from './errors.js';
import { otpkitFastify } from './fastify.js';
import { BODY_LIMIT_BYTES } from './handler.js';
import { type Metrics, metricsRoute } from './metrics.js';
import type { Throttle } from './throttle.js';
import { webPages } from './web.js';

interface AppOptions {
  service: Service;
  /** A pino logger; none by default. */
  logger?: FastifyBaseLogger;
  /** The per-client throttle on the auth and TOTP routes; none: no throttling. */
  throttle?: Throttle;
  /**
   * Whom to believe about the client's address (X-Forwarded-For) and scheme
   * (X-Forwarded-Proto): false (nobody, the default), a number of proxy hops
   * in front of otpkit, or the proxies' addresses (CIDR ranges too). Never
   * true: then any client could name its own address. A hop count believes
   * whoever connects directly; addresses are safer where otpkit is reachable
   * other than through its proxy.
   */
  trustProxy?: false | number | string[];
  /** How long a connection may send nothing while a request is due (30 s by default); then 408 and closed. */
  requestTimeoutMs?: number;
  /**
   * What GET /readyz waits on (the database; Redis, when the throttle uses
   * it): each resolves when its service answers, or rejects with an error
   * the one table answers 503 (DatabaseUnavailable: DATABASE_UNAVAILABLE).
   * None: /readyz answers ready while the process runs.
   */
  readiness?: readonly ReadinessCheck[];
  /** The operator token of /api/admin/* (see HandlerOptions.adminToken); none: no admin routes. */
  adminToken?: string;
  /** Counts requests, latencies and second-step outcomes; none: nothing counted. */
  metrics?: Metrics;
  /** Serve GET /metrics on this app too (OTPKIT_METRICS=1); else main/ serves it on a listener of its own, or nowhere. */
  metricsRoute?: boolean;
}

/** Resolves when a service the server needs answers; rejects when it does not. */
type ReadinessCheck = () => Promise<void>;

/** A request's headers and body must arrive within this; otpkit's bodies are a few hundred bytes. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The docs page's own policy: swagger-ui's, with nothing from another host and no framing. */
const DOCS_CSP =
  "default-src 'self'; base-uri 'self'; img-src 'self' data:; object-src 'none'; script-src 'self'; " +
  "script-src-attr 'none'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'";

/**
 * While closing, idle connections are looked for this often: one whose answer
 * began before the close goes idle after it, and would otherwise hold the
 * close until its keep-alive timeout (72 s).
 */
const DRAIN_SWEEP_MS = 50;
/**
 * While closing, a connection that has sent nothing yet may still send its
 * first request for this long (it is then served); past it, it is closed.
 * Clients send theirs at once; a browser's preconnect may send none.
 */
const FIRST_REQUEST_GRACE_MS = 1_000;
/**
 * Closing, connections the kernel has already queued are accepted (and
 * served) before the listener closes, for at most this long: its close would
 * reset them, requests and all.
 */
const ACCEPT_QUEUED_MS = 2_000;

/**
 * A socket idle past the timeout: if no answer has begun, say 408 in the coded
 * shape, then close it either way (Node's own would just cut it).
 */
function answerStalled(socket: Socket & { _httpMessage?: { headersSent?: boolean } }): void {
  if (socket._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  answerClientError(Object.assign(new Error('request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
  socket.destroySoon();
}

/**
 * Fastify's own hop count trusts nobody (it cannot check the nearest peer);
 * proxy-addr's function form is the classic one: the nearest `hops` addresses
 * (the socket's peer first) are proxies, the next one is the client.
 */
function trusted(trust: false | number | string[]) {
  return typeof trust === 'number' ? (_address: string, hop: number) => hop < trust : trust;
}

async function buildApp(options: AppOptions) {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: trusted(options.trustProxy ?? false),
    // A header too large, or a request that is not HTTP: the coded error shape too.
    clientErrorHandler: answerClientError,
    // A URL that does not decode, and other errors before routing: the coded shape, no echo of the URL.
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
    // A connection that stalls (headers, then a body that never comes) is answered 408 and closed; see below.
    connectionTimeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    // Closing, a request that comes on a kept-alive connection is served (then the connection closes, below),
    // not refused with Fastify's own 503 in another shape.
    return503OnClosing: false,
  });
  app.server.on('timeout', answerStalled);
  installErrorHandler(app);
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  drainOnClose(app);
  options.metrics?.instrument(app);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'otpkit',
        version: '0.1.0',
        description: 'Accounts, TOTP two-factor authentication and two-step login',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          operator: { type: 'http', scheme: 'bearer', description: 'OTPKIT_ADMIN_TOKEN (the /api/admin routes)' },
        },
      },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null },
    staticCSP: DOCS_CSP,
  });
  // Liveness: the process answers. Readiness: so do the services it needs (a load balancer's check).
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  const checks = options.readiness ?? [];
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    await Promise.all(checks.map((check) => check())); // a rejection: the error handler's coded 503
    return reply.header('cache-control', 'no-store').send({ status: 'ready' });
  });
  if (options.metrics && options.metricsRoute) await app.register(metricsRoute, { metrics: options.metrics });
  await app.register(webPages);
  await app.register(otpkitFastify, {
    service: options.service,
    ...(options.throttle ? { throttle: options.throttle } : {}),
    ...(options.logger ? { log: options.logger } : {}),
    ...(options.adminToken ? { adminToken: options.adminToken } : {}),
  });
  return app;
}

/**
 * What close() does to connections. Fastify stops accepting and waits for the
 * requests in flight; Node's server.close() would also destroy at once every
 * connection not mid-request, including one just accepted whose request is
 * still in the kernel's buffers, whose client then sees a reset after sending
 * it. Instead, while closing: every answer says Connection: close, so a
 * keep-alive client never sends on a socket we are about to close; a
 * connection answered and waiting is closed at once (a FIN, nothing unread);
 * one mid-request finishes; one that has sent nothing yet gets
 * FIRST_REQUEST_GRACE_MS to send its request, which is served. And before
 * the listener closes, the connections the kernel has queued are accepted,
 * so they are served rather than reset with it.
 */
function drainOnClose(app: FastifyInstance): void {
  const server = app.server;
  // Per connection: a request in progress, answers sent, and bytes read when the last one was sent.
  const connections = new Map<Socket, { busy: boolean; answered: number; readAtRest: number }>();
  let accepted = 0;
  server.on('connection', (socket: Socket) => {
    accepted++;
    connections.set(socket, { busy: false, answered: 0, readAtRest: 0 });
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (request, response) => {
    const state = connections.get(request.socket);
    if (!state) return;
    state.busy = true;
    response.once('close', () => {
      state.busy = false;
      state.answered++;
      state.readAtRest = request.socket.bytesRead;
    });
  });

  let closing = false;
  let graceOver = false;
  const timers: ReturnType<typeof setTimeout>[] = [];
  // Called by server.close() and by the sweep below, in place of Node's own.
  server.closeIdleConnections = () => {
    for (const [socket, state] of connections) {
      if (state.busy || socket.bytesRead > state.readAtRest) continue; // a request is in progress or arriving
      if (state.answered === 0 && !graceOver) continue; // its first request may be on the way
      socket.destroy();
    }
  };
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('preClose', async () => {
    closing = true;
    let acceptOver = false;
    timers.push(
      setInterval(() => server.closeIdleConnections(), DRAIN_SWEEP_MS),
      setTimeout(() => {
        graceOver = true;
      }, FIRST_REQUEST_GRACE_MS),
      setTimeout(() => {
        acceptOver = true;
      }, ACCEPT_QUEUED_MS),
    );
    for (const timer of timers) timer.unref();
    // libuv accepts one connection per turn of the event loop: turn until one brings none.
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    await turn();
    for (let before = -1; before !== accepted && !acceptOver; ) {
      before = accepted;
      await turn();
    }
  });
  app.addHook('onClose', async () => {
    for (const timer of timers) clearTimeout(timer);
  });
}

type App = Awaited<ReturnType<typeof buildApp>>;

export type { App, AppOptions, ReadinessCheck };
export { buildApp };
