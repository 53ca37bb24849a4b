// A Hono app with its own accounts and sign-in, with otpkit's 2FA mounted at
// /2fa through otpkit's Fetch handler. Run it: `node examples/hono/server.js`
// (after `npm install` at the repository's root), then follow examples/README.md.
// On Node, @hono/node-server serves it; the same app runs on Bun or Deno as is.
//
// The sign-in is a stand-in for yours: fixed users, sessions in memory. Your
// sign-in checks the password; if 2FA is on, the session waits at "second
// factor" until POST /login/2fa passes a code; only a signed-in session
// reaches /2fa.

import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { compose, otpkitFetch, readConfig } from 'otpkit/server';

const USERS = { alice: 'correct horse battery staple', bob: 'tr0ub4dor&3' };
const sessions = new Map(); // session id -> { user, stage: 'second-factor' | 'in' }

const otpkit = await compose(readConfig(process.env, process.cwd()), { say: (line) => console.error(line) });
const clients = new WeakMap(); // Request -> the client's address, which a Request does not carry
const sessionOf = (cookieHeader) => sessions.get(/(?:^|;\s*)sid=([\w-]+)/.exec(cookieHeader ?? '')?.[1]);

const twoFactor = otpkitFetch({
  service: otpkit.service,
  throttle: otpkit.throttle,
  basePath: '/2fa',
  clientIp: (request) => clients.get(request),
  currentUser: (request) => {
    const session = sessionOf(request.headers.get('cookie'));
    return session?.stage === 'in' ? session.user : undefined;
  },
});

const app = new Hono();

app.post('/login', async (c) => {
  const { username, password } = await c.req.json().catch(() => ({}));
  if (!Object.hasOwn(USERS, username) || USERS[username] !== password) {
    return c.json({ error: 'wrong username or password' }, 401);
  }
  await otpkit.service.ensureUser(username, username);
  const { enabled } = await otpkit.service.status({ userId: username, sessionId: null, amr: null });
  const id = randomUUID();
  sessions.set(id, { user: username, stage: enabled ? 'second-factor' : 'in' });
  setCookie(c, 'sid', id, { path: '/', httpOnly: true, sameSite: 'Strict' });
  return c.json({ stage: sessions.get(id).stage });
});

app.post('/login/2fa', async (c) => {
  const session = sessions.get(getCookie(c, 'sid'));
  if (session?.stage !== 'second-factor') return c.json({ error: 'sign in first' }, 401);
  const { code, backupCode } = await c.req.json().catch(() => ({}));
  try {
    const input = code !== undefined ? { code } : { backupCode };
    const ip = getConnInfo(c).remote.address ?? null;
    await otpkit.service.validate({ userId: session.user, sessionId: null, amr: null }, input, { ip });
  } catch (error) {
    return c.json({ error: error.code ?? 'INVALID' }, 401);
  }
  session.stage = 'in';
  return c.json({ stage: 'in' });
});

app.get('/me', (c) => {
  const session = sessions.get(getCookie(c, 'sid'));
  return session ? c.json(session) : c.json({ error: 'sign in first' }, 401);
});

// otpkit's TOTP routes: the Fetch handler takes Hono's Request as it is.
app.all('/2fa/*', (c) => {
  clients.set(c.req.raw, getConnInfo(c).remote.address);
  return twoFactor(c.req.raw);
});

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3002), hostname: '127.0.0.1' }, (info) => {
  console.error(`hono example listening on http://127.0.0.1:${info.port}`);
});
