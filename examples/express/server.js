// An Express app that already has its own accounts and sign-in, with otpkit's
// 2FA mounted at /2fa. Run it: `node examples/express/server.js` (after
// `npm install` at the repository's root), then follow examples/README.md.
//
// The sign-in here is a stand-in for yours: two users with fixed passwords
// and sessions in memory. What matters is the shape: your sign-in checks the
// password; if otpkit says 2FA is on, the session waits at "second factor"
// until POST /login/2fa passes a code; only a fully signed-in session reaches
// /2fa (enroll, confirm, status, disable, backup codes).

import { randomUUID } from 'node:crypto';
import express from 'express';
import { compose, otpkitExpress, readConfig } from 'otpkit/server';

const USERS = { alice: 'correct horse battery staple', bob: 'tr0ub4dor&3' };
const sessions = new Map(); // session id -> { user, stage: 'second-factor' | 'in' }

const otpkit = await compose(readConfig(process.env, process.cwd()), { say: (line) => console.error(line) });
const app = express();
app.use(express.json());

const sessionOf = (request) => sessions.get(/(?:^|;\s*)sid=([\w-]+)/.exec(request.headers.cookie ?? '')?.[1]);
const context = (request) => ({ ip: request.ip });

app.post('/login', async (request, response) => {
  const { username, password } = request.body ?? {};
  if (!Object.hasOwn(USERS, username) || USERS[username] !== password) {
    return response.status(401).json({ error: 'wrong username or password' });
  }
  await otpkit.service.ensureUser(username, username); // your user id, and the name apps show
  const actor = { userId: username, sessionId: null, amr: null };
  const { enabled } = await otpkit.service.status(actor);
  const id = randomUUID();
  sessions.set(id, { user: username, stage: enabled ? 'second-factor' : 'in' });
  response.setHeader('set-cookie', `sid=${id}; Path=/; HttpOnly; SameSite=Strict`);
  return response.json({ stage: sessions.get(id).stage });
});

// The second step of your sign-in: a TOTP code or a backup code, checked by otpkit.
app.post('/login/2fa', async (request, response) => {
  const session = sessionOf(request);
  if (session?.stage !== 'second-factor') return response.status(401).json({ error: 'sign in first' });
  const { code, backupCode } = request.body ?? {};
  try {
    const input = code !== undefined ? { code } : { backupCode };
    await otpkit.service.validate({ userId: session.user, sessionId: null, amr: null }, input, context(request));
  } catch (error) {
    return response.status(401).json({ error: error.code ?? 'INVALID' });
  }
  session.stage = 'in';
  return response.json({ stage: 'in' });
});

app.get('/me', (request, response) => {
  const session = sessionOf(request);
  return session ? response.json(session) : response.status(401).json({ error: 'sign in first' });
});

// otpkit's TOTP routes, for a fully signed-in user of this app.
app.use(
  '/2fa',
  otpkitExpress({
    service: otpkit.service,
    throttle: otpkit.throttle,
    currentUser: (request) => {
      const session = sessionOf(request);
      return session?.stage === 'in' ? session.user : undefined;
    },
  }),
);

const server = app.listen(Number(process.env.PORT ?? 3001), '127.0.0.1', () => {
  console.error(`express example listening on http://127.0.0.1:${server.address().port}`);
});
