// A plain Fetch-standard app, (request) => Response, with no framework: the
// shape Bun.serve, Deno.serve and Next.js route handlers take. otpkit's 2FA
// is one more Fetch handler, mounted at /2fa. Run it: `node examples/fetch/server.js`
// (after `npm install` at the repository's root), then follow examples/README.md.
// On Node, @hono/node-server's serve() hosts any Fetch handler; on Bun it is
// `Bun.serve({ fetch: app })` (with OTPKIT_DATABASE_URL: the embedded SQLite
// driver is Node's).
//
// The sign-in is a stand-in for yours: fixed users, sessions in memory.

import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import { compose, otpkitFetch, readConfig } from 'otpkit/server';

const USERS = { alice: 'correct horse battery staple', bob: 'tr0ub4dor&3' };
const sessions = new Map(); // session id -> { user, stage: 'second-factor' | 'in' }

const otpkit = await compose(readConfig(process.env, process.cwd()), { say: (line) => console.error(line) });
const sessionOf = (request) => sessions.get(/(?:^|;\s*)sid=([\w-]+)/.exec(request.headers.get('cookie') ?? '')?.[1]);
const json = (body, status = 200, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const asHostUser = (user) => ({ userId: user, sessionId: null, amr: null });

const twoFactor = otpkitFetch({
  service: otpkit.service,
  throttle: otpkit.throttle,
  basePath: '/2fa',
  clientIp: (request) => request.headers.get('x-client-ip'), // set below from the socket, never from the client
  currentUser: (request) => {
    const session = sessionOf(request);
    return session?.stage === 'in' ? session.user : undefined;
  },
});

async function app(request) {
  const { pathname } = new URL(request.url);
  if (pathname.startsWith('/2fa/')) return twoFactor(request);
  if (request.method === 'POST' && pathname === '/login') {
    const { username, password } = await request.json().catch(() => ({}));
    if (!Object.hasOwn(USERS, username) || USERS[username] !== password) {
      return json({ error: 'wrong username or password' }, 401);
    }
    await otpkit.service.ensureUser(username, username);
    const { enabled } = await otpkit.service.status(asHostUser(username));
    const id = randomUUID();
    sessions.set(id, { user: username, stage: enabled ? 'second-factor' : 'in' });
    return json({ stage: sessions.get(id).stage }, 200, {
      'set-cookie': `sid=${id}; Path=/; HttpOnly; SameSite=Strict`,
    });
  }
  if (request.method === 'POST' && pathname === '/login/2fa') {
    const session = sessionOf(request);
    if (session?.stage !== 'second-factor') return json({ error: 'sign in first' }, 401);
    const { code, backupCode } = await request.json().catch(() => ({}));
    try {
      const input = code !== undefined ? { code } : { backupCode };
      await otpkit.service.validate(asHostUser(session.user), input, { ip: request.headers.get('x-client-ip') });
    } catch (error) {
      return json({ error: error.code ?? 'INVALID' }, 401);
    }
    session.stage = 'in';
    return json({ stage: 'in' });
  }
  if (pathname === '/me') {
    const session = sessionOf(request);
    return session ? json(session) : json({ error: 'sign in first' }, 401);
  }
  return json({ error: 'not found' }, 404);
}

serve(
  {
    // The client's address from the socket, as a header the app sets itself (any the client sent is dropped).
    fetch: (request, env) => {
      const headers = new Headers(request.headers);
      headers.set('x-client-ip', env.incoming.socket.remoteAddress ?? '');
      return app(new Request(request, { headers }));
    },
    port: Number(process.env.PORT ?? 3003),
    hostname: '127.0.0.1',
  },
  (info) => console.error(`fetch example listening on http://127.0.0.1:${info.port}`),
);
