// Password hashing: the cap on hashes at once, and an unknown user's sign-in
// costing exactly one KDF run, the first after start like any other.

import type * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { freshSqlite } from '../../../test/support/databases.js';
import { createHashGate } from '../src/service/passwords.js';
import { PASSWORD } from './api.js';
import { serverPerSuite } from './server.js';

// Count scrypt runs: the server's passwords.ts imports it from node:crypto.
const scryptRuns = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (original) => {
  const real = await original<typeof crypto>();
  return {
    ...real,
    scrypt: (...args: Parameters<typeof real.scrypt>) => {
      scryptRuns.count++;
      return (real.scrypt as (...a: unknown[]) => void)(...args);
    },
  };
});

describe('the hashing gate', () => {
  const busy = () => new Error('busy');
  /** Work that finishes when the test says so. */
  function held() {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    return { work: () => done, finish };
  }

  it('runs the cap at once, queues four per slot, refuses the rest at once, and hands slots on in order', async () => {
    const gated = createHashGate(2, busy);
    const jobs = Array.from({ length: 11 }, () => held());
    const started: number[] = [];
    const outcomes = jobs.map((job, i) =>
      gated(async () => {
        started.push(i);
        await job.work();
        return i;
      }).catch((error: Error) => error.message),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1]);
    expect(await outcomes[10]).toBe('busy'); // 2 running + 8 waiting: the eleventh is refused
    jobs[1]!.finish();
    await outcomes[1];
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1, 2]);
    for (const job of jobs) job.finish();
    expect(await Promise.all(outcomes.slice(0, 10))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('frees its slot when the work throws', async () => {
    const gated = createHashGate(1, busy);
    await expect(gated(() => Promise.reject(new Error('kdf failed')))).rejects.toThrow('kdf failed');
    expect(await gated(async () => 'next')).toBe('next');
  });
});

describe('an unknown user', () => {
  const { s } = serverPerSuite(freshSqlite);

  it('costs one KDF run, the first sign-in after start as much as any other', async () => {
    const signIn = async (username: string) => {
      const before = scryptRuns.count;
      const payload = { username, password: 'not the password' };
      const response = await s.app.inject({ method: 'POST', url: '/api/auth/login', payload });
      expect(response.statusCode).toBe(401);
      return scryptRuns.count - before;
    };
    expect(await signIn('nobody-first')).toBe(1);
    expect(await signIn('nobody-second')).toBe(1);
    await s.app.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { username: 'somebody', password: PASSWORD },
    });
    expect(await signIn('somebody')).toBe(1); // a wrong password of a real user: the same one run
  });
});
