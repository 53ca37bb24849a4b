// Key rotation at scale, on SQLite and the real PostgreSQL: batches written
// whole, a run stopped part-way and run again, a change made between a
// batch's read and its write (an enrollment, or a rotation in another
// process) never overwritten, and `keys rotate`'s progress off a terminal.

import { randomBytes, randomUUID } from 'node:crypto';
import { generateKeyRingEntry, type KeyRing, openSecret, parseKeyRing, sealSecret } from '@otpkit/core';
import { describe, expect, it, vi } from 'vitest';
import { DATABASES, type TestDb } from '../../../test/support/databases.js';
import { runCli } from '../src/cli/index.js';
import { nodeAead } from '../src/service/node-aead.js';
import type { Db } from '../src/store/db.js';
import { startServer } from './server.js';

const K1 = generateKeyRingEntry({ id: 'k1' });
const K2 = generateKeyRingEntry({ id: 'k2' });
const TOKEN_KEY = Buffer.alloc(32, 5).toString('base64url');
/** More than two of rotateKeys' batches (2,000 secrets each), so a run has a middle to stop in. */
const MANY = 4_500;

interface Seeded {
  userId: string;
  factorId: string;
  secret: Uint8Array;
}

/** `count` users with an active factor sealed under `ring`, written straight to the database. */
async function seed(db: Db, ring: KeyRing, count: number): Promise<Seeded[]> {
  const seeded: Seeded[] = [];
  for (let at = 0; at < count; at += 500) {
    const part: (Seeded & { sealed: string })[] = [];
    for (let i = at; i < Math.min(count, at + 500); i++) {
      const userId = randomUUID();
      const factorId = randomUUID();
      const secret = new Uint8Array(randomBytes(20));
      const sealed = await sealSecret(ring, secret, { associatedData: `user:${userId}/factor:${factorId}` });
      part.push({ userId, factorId, secret, sealed });
    }
    await db.batch([
      {
        sql: `INSERT INTO users (id, username, password_hash, created_at) VALUES ${part.map(() => "(?, ?, 'x', 0)").join(', ')}`,
        params: part.flatMap((p) => [p.userId, `user-${p.userId}`]),
      },
      {
        sql:
          'INSERT INTO totp_factors (user_id, id, status, sealed_secret, algorithm, digits, period_seconds, created_at) ' +
          `VALUES ${part.map(() => "(?, ?, 'active', ?, 'SHA-1', 6, 30, 0)").join(', ')}`,
        params: part.flatMap((p) => [p.userId, p.factorId, p.sealed]),
      },
    ]);
    seeded.push(...part.map(({ userId, factorId, secret }) => ({ userId, factorId, secret })));
  }
  return seeded;
}

/** How many secrets are sealed under each key id. */
async function keyCounts(db: Db): Promise<Record<string, number>> {
  const rows = await db.all<{ sealed_secret: string }>('SELECT sealed_secret FROM totp_factors', []);
  const counts: Record<string, number> = {};
  for (const { sealed_secret } of rows) {
    const id = sealed_secret.split('.')[1]!;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

/** Every seeded secret opens, under k2 and bound to its own row, to the bytes sealed. */
async function expectAllOpenUnderK2(db: Db, seeded: Seeded[]): Promise<void> {
  const ring = await parseKeyRing(`${K2},${K1}`, { aead: nodeAead });
  const rows = await db.all<{ user_id: string; sealed_secret: string }>(
    'SELECT user_id, sealed_secret FROM totp_factors',
    [],
  );
  const byUser = new Map(rows.map((r) => [r.user_id, r.sealed_secret]));
  for (const s of seeded) {
    const sealed = byUser.get(s.userId)!;
    expect(sealed.startsWith('v1.k2.')).toBe(true);
    const opened = await openSecret(ring, sealed, { associatedData: `user:${s.userId}/factor:${s.factorId}` });
    expect(Buffer.from(opened.secret).equals(Buffer.from(s.secret))).toBe(true);
  }
}

/** The service over `t` with k2 current and k1 still in the ring: what an operator runs rotate with. */
const rotating = (t: TestDb) => startServer(t, { OTPKIT_KEYS: `${K2},${K1}`, OTPKIT_TOKEN_KEY: TOKEN_KEY });

describe.each(DATABASES)('keys rotate on %s', (_name, open) => {
  it('reseals in batches, each written whole: one progress call per batch', async () => {
    const t = await open();
    const seeded = await seed(t.db, await parseKeyRing(K1, { aead: nodeAead }), MANY);
    const s = await rotating(t);
    try {
      const progress: [number, number][] = [];
      const result = await s.service.rotateKeys((done, total) => progress.push([done, total]));
      expect(result).toEqual({ checked: MANY, resealed: MANY, backupCodesOnOldKeys: [] });
      expect(progress).toEqual([
        [2000, MANY],
        [4000, MANY],
        [MANY, MANY],
      ]);
      await expectAllOpenUnderK2(t.db, seeded);
    } finally {
      await s.close();
      await t.drop();
    }
  });

  it('stopped part-way (a batch that never commits), a second run finishes what the first left', async () => {
    const t = await open();
    const seeded = await seed(t.db, await parseKeyRing(K1, { aead: nodeAead }), MANY);
    const s = await rotating(t);
    try {
      // The second batch's write dies, as if the process were killed: its transaction never commits.
      const real = s.store.resealFactors.bind(s.store);
      let writes = 0;
      const dying = vi.spyOn(s.store, 'resealFactors').mockImplementation(async (changes) => {
        if (++writes === 2) throw new Error('killed');
        return real(changes);
      });
      await expect(s.service.rotateKeys()).rejects.toThrow('killed');
      dying.mockRestore();
      expect(await keyCounts(t.db)).toEqual({ k2: 2000, k1: MANY - 2000 }); // the first batch whole, nothing of the second
      const second = await s.service.rotateKeys();
      expect(second).toEqual({ checked: MANY, resealed: MANY - 2000, backupCodesOnOldKeys: [] });
      await expectAllOpenUnderK2(t.db, seeded);
    } finally {
      await s.close();
      await t.drop();
    }
  });

  it('never overwrites what changed between a batch’s read and its write: an enrollment, another rotation', async () => {
    const t = await open();
    const seeded = await seed(t.db, await parseKeyRing(K1, { aead: nodeAead }), MANY);
    const s = await rotating(t);
    const other = await rotating(t); // another process, on connections of its own
    try {
      // Before the first batch is written, two of its users change: one enrols anew (a new factor id
      // and secret, under k2), and another process reseals the other's secret first.
      const real = s.store.resealFactors.bind(s.store);
      const byFactor = new Map(seeded.map((x) => [x.factorId, x]));
      const ring = await parseKeyRing(`${K2},${K1}`, { aead: nodeAead });
      const reenrolled = { id: randomUUID(), secret: new Uint8Array(randomBytes(20)) };
      let first: Seeded | undefined;
      vi.spyOn(s.store, 'resealFactors').mockImplementation(async (changes) => {
        if (!first) {
          first = byFactor.get(changes[0]!.factorId)!;
          const second = byFactor.get(changes[1]!.factorId)!;
          const sealed = await sealSecret(ring, reenrolled.secret, {
            associatedData: `user:${first.userId}/factor:${reenrolled.id}`,
          });
          await other.db.run('UPDATE totp_factors SET id = ?, sealed_secret = ? WHERE user_id = ?', [
            reenrolled.id,
            sealed,
            first.userId,
          ]);
          const data = { associatedData: `user:${second.userId}/factor:${second.factorId}` };
          const before = changes[1]!.before;
          const after = await sealSecret(ring, (await openSecret(ring, before, data)).secret, data);
          expect(await other.store.resealFactors([{ factorId: second.factorId, before, after }])).toBe(1);
        }
        return real(changes);
      });
      const result = await s.service.rotateKeys();
      expect(result.resealed).toBe(MANY - 2); // the two changed meanwhile keep their new values
      const opened = await openSecret(ring, (await s.store.factors(first!.userId))[0]!.sealedSecret, {
        associatedData: `user:${first!.userId}/factor:${reenrolled.id}`,
      });
      expect(Buffer.from(opened.secret).equals(Buffer.from(reenrolled.secret))).toBe(true);
      await expectAllOpenUnderK2(
        t.db,
        seeded.filter((x) => x !== first),
      );
    } finally {
      await other.close();
      await s.close();
      await t.drop();
    }
  });

  it('two rotations at once, in two processes, reseal each secret once between them', async () => {
    const t = await open();
    const seeded = await seed(t.db, await parseKeyRing(K1, { aead: nodeAead }), MANY);
    const [a, b] = [await rotating(t), await rotating(t)];
    try {
      const [ra, rb] = await Promise.all([a.service.rotateKeys(), b.service.rotateKeys()]);
      expect(ra.resealed + rb.resealed).toBe(MANY);
      await expectAllOpenUnderK2(t.db, seeded);
    } finally {
      await a.close();
      await b.close();
      await t.drop();
    }
  });

  it('off a terminal, keys rotate prints a line at each tenth done, at most ten', async () => {
    const t = await open();
    await seed(t.db, await parseKeyRing(K1, { aead: nodeAead }), MANY);
    const s = await rotating(t);
    let stdout = '';
    let stderr = '';
    try {
      const status = await runCli(['keys', 'rotate'], {
        stdout: (data) => {
          stdout += String(data);
        },
        stderr: (text) => {
          stderr += text;
        },
        stdoutIsTerminal: false,
        writePrivateFile: async () => undefined,
        nowSeconds: () => 0,
        randomBytes: (length: number) => new Uint8Array(randomBytes(length)),
        readStdin: async () => '',
        openService: async () => ({ service: s.service, applied: [], close: async () => undefined }),
        serve: async () => '',
      });
      expect(status).toBe(0);
      expect(stderr).toBe(
        'otpkit keys rotate: 40% (2000/4500)\notpkit keys rotate: 80% (4000/4500)\notpkit keys rotate: 100% (4500/4500)\n',
      );
      expect(stdout).toBe(`checked ${MANY} secrets, resealed ${MANY} under the current key\n`);
    } finally {
      await s.close();
      await t.drop();
    }
  });
});
