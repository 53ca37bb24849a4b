// The host-neutral HTTP handler: a request in (method, path, headers, body
// bytes, client address), a response out (status, headers, JSON text). It
// routes, parses and validates bodies, authenticates, throttles per client,
// runs the route and answers errors from the one table, so every host answers
// byte for byte the same.

import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { TSchema } from '@fastify/type-provider-typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Actor, Service } from '../service/index.js';
import { ADMIN_ROUTES } from './admin-routes.js';
import { AUTH_ROUTES } from './auth-routes.js';
import { API_HEADERS, answerError, HttpError, JSON_TYPE, type Log } from './errors.js';
import type { Route, RouteContext } from './routes.js';
import type { Throttle } from './throttle.js';
import { TOTP_ROUTES } from './totp-routes.js';

/** JSON bodies here are a few hundred bytes; 16 KiB is generous and bounded. */
const BODY_LIMIT_BYTES = 16 * 1024;

interface HttpRequest<Native = unknown> {
  method: string;
  /** Below the mount point, without the query string. */
  path: string;
  /** The query string without its '?' ('' for none). */
  query?: string;
  /** Lowercase names. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The raw body, or one a host middleware already parsed (express.json()). */
  body: { raw: Uint8Array } | { parsed: unknown } | undefined;
  /** The client's address as the host's proxy rules see it; null: unknown (then no per-client throttle). */
  ip: string | null;
  /** Whether the client reached us over HTTPS (the refresh cookie is then Secure). */
  secure: boolean;
  /** The host's own request, for currentUser. */
  native: Native;
}

interface HttpResponse {
  status: number;
  headers: Record<string, string | string[]>;
  /** JSON text, or undefined for no body (204). */
  body: string | undefined;
}

/** Who is signed in, as the embedding app says: its user id (it vouches), an otpkit Actor, or undefined (401). */
type CurrentUser<Native> = (request: Native) => string | Actor | undefined | Promise<string | Actor | undefined>;

interface HandlerOptions<Native = unknown> {
  service: Service;
  /**
   * Omitted: otpkit owns the accounts, and serves /api/auth/* and /api/totp/*
   * with its own bearer sessions. Given: the app owns them, and otpkit serves
   * the TOTP routes (/enroll, /confirm, ...) for the user this returns.
   */
  currentUser?: CurrentUser<Native>;
  /** Requests per client and window on the throttled routes; none: no per-client throttle. */
  throttle?: Throttle;
  /**
   * The operator token of /api/admin/* (OTPKIT_ADMIN_TOKEN: 32 or more random
   * bytes, base64url), sent as Authorization: Bearer; none: those routes do not exist.
   */
  adminToken?: string;
  log?: Log;
}

/** Strict: extra fields and wrong types are errors, never silently fixed (what Fastify's Ajv did here). */
const ajv = new Ajv({
  allErrors: false,
  coerceTypes: false,
  useDefaults: false,
  removeAdditional: false,
  strict: false,
});
const validators = new WeakMap<TSchema, ValidateFunction>();
/** Whether any string in `value` (a parsed JSON body or query) holds a NUL, which no field here may. */
function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value !== null && typeof value === 'object') return Object.values(value).some(holdsNul);
  return false;
}

function validate(schema: TSchema, body: unknown, where: 'body' | 'query' = 'body'): void {
  // PostgreSQL's text cannot hold a NUL (a 22021 error), and SQLite cuts a string at one: refuse it here.
  if (holdsNul(body)) throw new HttpError('INPUT_INVALID', `${where} holds a NUL character`);
  let check = validators.get(schema);
  if (!check) {
    check = ajv.compile(schema);
    validators.set(schema, check);
  }
  if (!check(body)) {
    const [first] = check.errors ?? [];
    // Ajv names the field and the rule ("body/code must NOT have more than 32 characters"), never the value.
    throw new HttpError(
      'INPUT_INVALID',
      first ? `${where}${first.instancePath} ${first.message}` : `${where} is invalid`,
    );
  }
}

/** A request target split at its first '?': the path and the query string. */
function splitTarget(target: string): { path: string; query: string } {
  const at = target.indexOf('?');
  return at < 0 ? { path: target, query: '' } : { path: target.slice(0, at), query: target.slice(at + 1) };
}

/** A query string as an object of its first values (what the route's querystring schema checks). */
function parseQuery(query: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(query ?? '')) if (!Object.hasOwn(out, name)) out[name] = value;
  return out;
}

/** The token of an `Authorization: Bearer <token>` header; undefined for none or another scheme. */
const bearerToken = (authorization: string | undefined) =>
  authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;

/**
 * The admin routes' check: every presented token (none, any length) is hashed
 * and compared in constant time with the configured one's hash, so a wrong
 * token takes as long as a right one and says nothing of how close it was.
 */
function adminGuard(token: string): (authorization: string | undefined) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (authorization) => {
    const presented = bearerToken(authorization) ?? '';
    return timingSafeEqual(createHash('sha256').update(presented).digest(), expected);
  };
}

function parseBody(request: HttpRequest, route: Route): unknown {
  const { body } = request;
  if (body === undefined) return undefined;
  if ('parsed' in body) return body.parsed;
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (body.raw.length === 0) {
    if (type === 'application/json' && route.schema.body)
      throw new HttpError('BODY_INVALID', 'the request body is empty');
    return undefined;
  }
  if (body.raw.length > BODY_LIMIT_BYTES) throw new HttpError('BODY_TOO_LARGE', 'the request body is too large');
  if (type !== 'application/json')
    throw new HttpError('MEDIA_TYPE_UNSUPPORTED', 'send JSON (Content-Type: application/json)');
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body.raw));
  } catch {
    throw new HttpError('BODY_INVALID', 'the request body is not valid JSON');
  }
}

function createHandler<Native>(options: HandlerOptions<Native>) {
  const { service, currentUser, throttle } = options;
  const accounts = currentUser === undefined;
  const routes = [
    ...(accounts
      ? [
          ...AUTH_ROUTES.map((r) => ({ ...r, path: `/api/auth${r.path}` })),
          ...TOTP_ROUTES.map((r) => ({ ...r, path: `/api/totp${r.path}` })),
        ]
      : TOTP_ROUTES),
    ...(options.adminToken ? ADMIN_ROUTES.map((r) => ({ ...r, path: `/api/admin${r.path}` })) : []),
  ];
  const isAdmin = options.adminToken ? adminGuard(options.adminToken) : () => false;
  const byKey = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));

  /** otpkit's own bearer session; 401 without a live one (403 for an enrollment-only one, unless `route` takes it). */
  async function bearer(request: HttpRequest<Native>, route: Route) {
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new HttpError('UNAUTHENTICATED', 'send an access token: Authorization: Bearer <token>');
    return service.authenticate(token, { enrollment: route.enrollment === true });
  }
  async function appUser(request: HttpRequest<Native>): Promise<Actor> {
    const user = await currentUser!(request.native);
    if (!user) throw new HttpError('UNAUTHENTICATED', 'sign in first');
    return typeof user === 'string' ? { userId: user, sessionId: null, amr: null } : user;
  }

  /**
   * Every admin request leaves an admin_action event: the route, the user it
   * named (once the request was read), and how it ended (ok, or the error's
   * code: UNAUTHENTICATED for a wrong token). A failure to store it is logged
   * and does not change the answer: the action itself is done or not.
   */
  async function recordAdmin(route: Route, request: HttpRequest<Native>, named: unknown, outcome: string) {
    const username = typeof named === 'string' ? named : null;
    await service
      .recordAdminAction(`${route.method} ${route.path}`, username, { ip: request.ip }, outcome)
      .catch((error: unknown) => options.log?.warn({ err: error }, 'admin_action event not stored'));
  }

  async function run(route: Route, request: HttpRequest<Native>, cookiePath: string): Promise<HttpResponse> {
    const headers: Record<string, string | string[]> = { ...API_HEADERS };
    const cookies: string[] = [];
    let named: unknown;
    try {
      if (route.throttled && throttle && request.ip !== null) {
        const verdict = await throttle.hit(request.ip);
        if (!verdict.allowed)
          throw new HttpError('RATE_LIMITED', 'too many requests: slow down', verdict.retryAfterSeconds);
      }
      if (route.group === 'admin' && !isAdmin(request.headers.authorization)) {
        throw new HttpError('UNAUTHENTICATED', 'send the operator token: Authorization: Bearer <OTPKIT_ADMIN_TOKEN>');
      }
      const body = parseBody(request, route);
      if (route.schema.body) validate(route.schema.body, body);
      const query = parseQuery(request.query);
      if (route.schema.querystring) validate(route.schema.querystring, query, 'query');
      named = (body as { username?: unknown } | undefined)?.username ?? query.username;
      const context: RouteContext = {
        body,
        query,
        headers: request.headers,
        ip: request.ip,
        secure: request.secure,
        cookiePath,
        actor: () => (accounts ? bearer(request, route) : appUser(request)),
        session: () => bearer(request, route),
        setCookie: (cookie) => void cookies.push(cookie),
      };
      const answer = await route.handle(context, service);
      if (route.group === 'admin') await recordAdmin(route, request, named, 'ok');
      if (cookies.length > 0) headers['set-cookie'] = cookies.length === 1 ? cookies[0]! : cookies;
      const status = answer.status ?? 200;
      if (answer.body === undefined) return { status, headers, body: undefined };
      headers['content-type'] = JSON_TYPE;
      return { status, headers, body: JSON.stringify(answer.body) };
    } catch (error) {
      const { code, ...answer } = answerError(error, options.log);
      if (route.group === 'admin') await recordAdmin(route, request, named, code);
      return answer;
    }
  }

  return {
    routes,
    /** Runs one route of `routes` (hosts that route themselves, as Fastify does for its docs). */
    run,
    /** Routes and runs a request; undefined if no route matches (the host answers 404 or passes it on). */
    async handle(request: HttpRequest<Native>, mountPath = ''): Promise<HttpResponse | undefined> {
      const route = byKey.get(`${request.method.toUpperCase()} ${request.path}`);
      if (!route) return undefined;
      return run(route, request, `${mountPath}${accounts ? '/api/auth' : ''}` || '/');
    },
  };
}

/**
 * The client's address as the host's proxy rules give it, if it is an
 * address: a trusted proxy may pass on whatever a client wrote in
 * X-Forwarded-For, and text that is no IP must not become the key of the
 * throttle or an audit event's address. Then the peer's own address stands.
 */
function clientAddress(forwarded: string | undefined, peer: string | undefined): string | null {
  if (forwarded !== undefined && isIP(forwarded) !== 0) return forwarded;
  return peer !== undefined && isIP(peer) !== 0 ? peer : null;
}

/** The answer for a path no route serves. */
const notFound = (): HttpResponse => answerError(new HttpError('NOT_FOUND', 'no such route'));

type Handler<Native> = ReturnType<typeof createHandler<Native>>;

export type { CurrentUser, Handler, HandlerOptions, HttpRequest, HttpResponse };
export { BODY_LIMIT_BYTES, clientAddress, createHandler, notFound, splitTarget };
