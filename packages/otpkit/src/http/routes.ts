// What every route shares: what a route sees of a request and answers, the
// cookies of the auth routes, and the helpers the route tables use. The tables
// are auth-routes.ts, totp-routes.ts and admin-routes.ts; hosts (Fastify,
// Express, Fetch) only translate requests and responses.

import type { TSchema } from '@fastify/type-provider-typebox';
import type { Actor, DeviceCookie, Tokens as IssuedTokens, SecondFactorInput, Service } from '../service/index.js';
import { HttpError } from './errors.js';
import { ErrorBody } from './schemas.js';

/** What a route sees of a request, whichever host it came through. */
interface RouteContext {
  // biome-ignore lint/suspicious/noExplicitAny: validated against the route's body schema before the handler runs
  body: any;
  /** The query string's first values, validated against the route's querystring schema. */
  query: Readonly<Record<string, string>>;
  headers: Readonly<Record<string, string | undefined>>;
  ip: string | null;
  /** The signed-in actor: otpkit's bearer session, or the embedding app's user. 401 if none. */
  actor(): Promise<Actor>;
  /** otpkit's own bearer session (for logout). */
  session(): Promise<Actor & { sessionId: string }>;
  /** Adds a Set-Cookie header to the answer. */
  setCookie(cookie: string): void;
  /** Where the refresh cookie lives: the auth routes' path. */
  cookiePath: string;
  secure: boolean;
}

interface RouteAnswer {
  status?: number;
  body?: unknown;
}

interface Route {
  method: 'GET' | 'POST';
  /** Below the routes' group: /api/auth/login, or /api/totp/enroll (/enroll in the embedded TOTP group). */
  path: string;
  group: 'auth' | 'totp' | 'admin';
  /** Counted by the per-client throttle. */
  throttled: boolean;
  /** Takes a session that may only turn 2FA on (requireTwoFactor; see Service.authenticate). */
  enrollment?: true;
  schema: {
    tags: string[];
    summary?: string;
    body?: TSchema;
    querystring?: TSchema;
    response: Record<number, TSchema>;
    security?: ({ bearer: [] } | { operator: [] })[];
  };
  handle(context: RouteContext, service: Service): Promise<RouteAnswer>;
}

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  429: ErrorBody,
  503: ErrorBody,
};
const bearer = [{ bearer: [] as [] }];

/**
 * Browsers ask for the refresh token as a cookie (header X-Otpkit-Session:
 * cookie): HttpOnly, so no script (and no injected script) can read it;
 * SameSite=Strict and only read when that header comes, which a cross-site
 * page cannot send, so no other site can use it.
 */
const REFRESH_COOKIE = 'otpkit_refresh';
/** A trusted device's token ("trust this browser"), sent to the auth routes only, as the refresh cookie is. */
const DEVICE_COOKIE = 'otpkit_device';
const wantsCookie = (c: RouteContext) => c.headers['x-otpkit-session'] === 'cookie';

function cookieOf(c: RouteContext, name: string): string | undefined {
  for (const pair of (c.headers.cookie ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie for the auth routes: `maxAgeSeconds` 0 deletes it, none makes it last until the browser closes. */
function authCookie(c: RouteContext, name: string, value: string, maxAgeSeconds?: number): string {
  const secure = c.secure ? '; Secure' : '';
  const expiry = maxAgeSeconds === undefined ? '' : `; Max-Age=${maxAgeSeconds}`;
  return `${name}=${value}; Path=${c.cookiePath}; HttpOnly; SameSite=Strict${secure}${expiry}`;
}

const refreshCookie = (c: RouteContext, token: string | undefined) =>
  authCookie(c, REFRESH_COOKIE, token ?? '', token === undefined ? 0 : undefined);

/** Sets the trusted device's next cookie, or deletes one that was sent and not honoured. */
function deviceCookie(c: RouteContext, device: DeviceCookie | undefined) {
  if (device) c.setCookie(authCookie(c, DEVICE_COOKIE, device.token, device.maxAgeSeconds));
  else if (cookieOf(c, DEVICE_COOKIE) !== undefined) c.setCookie(authCookie(c, DEVICE_COOKIE, '', 0));
}

/** The tokens as the client asked for them: all in the body, or the refresh token as a cookie. */
function deliver(c: RouteContext, tokens: IssuedTokens) {
  if (!wantsCookie(c)) return tokens;
  c.setCookie(refreshCookie(c, tokens.refreshToken));
  const { refreshToken: _, ...rest } = tokens;
  return rest;
}

/** Exactly one of code and backupCode. */
function secondFactor(body: { code?: string; backupCode?: string }): SecondFactorInput {
  if ((body.code === undefined) === (body.backupCode === undefined)) {
    throw new HttpError('INPUT_INVALID', 'give exactly one of code or backupCode');
  }
  return body.code !== undefined ? { code: body.code } : { backupCode: body.backupCode! };
}

const context = (c: RouteContext) => ({ ip: c.ip, userAgent: c.headers['user-agent'] ?? null });

export type { Route, RouteAnswer, RouteContext };
export {
  bearer,
  context,
  cookieOf,
  DEVICE_COOKIE,
  deliver,
  deviceCookie,
  errors,
  REFRESH_COOKIE,
  refreshCookie,
  secondFactor,
  wantsCookie,
};
