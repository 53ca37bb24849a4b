// What the server benches share: `otpkit serve` as a child process, and users
// written straight to the database (with 2FA on and a fresh login challenge each).

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createHotp, generateSecret, parseKeyRing, sealSecret } from '@otpkit/core';
import { opaqueToken } from '../packages/otpkit/src/service/tokens.js';
import type { Db } from '../packages/otpkit/src/store/db.js';

const BIN = fileURLToPath(new URL('../packages/otpkit/bin/otpkit.js', import.meta.url));
/** Login challenges live this long here: longer than any run, however slow the seeding or the server. */
const CHALLENGE_TTL_MS = 30 * 60_000;

interface Prepared {
  challenge: string;
  /** The user's authenticator: the code is computed when the request is sent, so a long seeding cannot stale it. */
  code(nowSeconds: number): string;
}

/** `count` users named `${prefix}-0`, ... with 2FA on and a fresh login challenge each. */
async function seed(db: Db, keys: string, { count, prefix }: { count: number; prefix: string }): Promise<Prepared[]> {
  const ring = await parseKeyRing(keys);
  const now = Date.now();
  const rows: { user: unknown[]; factor: unknown[]; challenge: unknown[]; prepared: Prepared }[] = [];
  for (let i = 0; i < count; i++) {
    const userId = randomUUID();
    const factorId = randomUUID();
    const secret = generateSecret();
    const sealed = await sealSecret(ring, secret, { associatedData: `user:${userId}/factor:${factorId}` });
    const challenge = opaqueToken(randomBytes);
    const hotp = createHotp({ secret });
    rows.push({
      user: [userId, `${prefix}-${i}`, 'not-a-password-hash', now],
      factor: [userId, factorId, 'active', sealed, 'SHA-1', 6, 30, -1, now, now],
      challenge: [challenge.hash, userId, now, now + CHALLENGE_TTL_MS],
      prepared: { challenge: challenge.token, code: (now: number) => hotp.generate(Math.floor(now / 30)) },
    });
  }
  const insert = async (table: string, columns: string, pick: (r: (typeof rows)[number]) => unknown[]) => {
    for (let at = 0; at < rows.length; at += 500) {
      const chunk = rows.slice(at, at + 500);
      const width = pick(chunk[0]!).length;
      const values = chunk.map(() => `(${Array(width).fill('?').join(', ')})`).join(', ');
      await db.run(`INSERT INTO ${table} (${columns}) VALUES ${values}`, chunk.flatMap(pick) as (string | number)[]);
    }
  };
  // Only columns every schema version has: the rest take their defaults (a fresh account's).
  await insert('users', 'id, username, password_hash, created_at', (r) => r.user);
  await insert(
    'totp_factors',
    'user_id, id, status, sealed_secret, algorithm, digits, period_seconds, last_counter, created_at, confirmed_at',
    (r) => r.factor,
  );
  await insert('login_challenges', 'token_hash, user_id, created_at, expires_at', (r) => r.challenge);
  return rows.map((r) => r.prepared);
}

/** A user without 2FA whose password has this stored hash: its login answers tokens at once. */
async function addUser(db: Db, username: string, passwordHash: string): Promise<void> {
  await db.run('INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)', [
    randomUUID(),
    username,
    passwordHash,
    Date.now(),
  ]);
}

/** `node args...` with only PATH, LOG_LEVEL=warn and `env`; resolves once it says where it listens. */
function start(args: string[], env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) resolve({ url: match[1]!, child });
    });
    child.on('exit', (status) => reject(new Error(`server exited with ${status}: ${stderr}`)));
  });
}

export type { Prepared };
export { addUser, BIN, seed, start };
