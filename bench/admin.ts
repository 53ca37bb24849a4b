// BENCH_ONLY=admin: how long /api/admin refuses a token, by how wrong it is.
// The check hashes whatever was sent and compares the hashes in constant time
// (http/handler.ts adminGuard), so a missing token, one of the wrong length, a
// wrong one and one wrong in its last character should take the same time:
// this measures it over HTTP on loopback, the kinds interleaved so that the
// machine's noise falls on all of them alike, and prints each median and the
// largest ratio between them.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyRingEntry } from '@otpkit/core';
import { BIN, start } from './harness.js';

const ROUNDS = 2_000;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function adminTiming(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'otpkit-admin-'));
  const token = randomBytes(32).toString('base64url');
  const server = await start([BIN, 'serve', '--port', '0'], {
    OTPKIT_DATA_DIR: dir,
    OTPKIT_KEYS: generateKeyRingEntry({ id: 'k1' }),
    OTPKIT_TOKEN_KEY: Buffer.alloc(32, 3).toString('base64url'),
    OTPKIT_ADMIN_TOKEN: token,
    OTPKIT_RATE_LIMIT: '0', // one client asking thousands of times would measure the throttle
  });
  try {
    const kinds: Record<string, string | undefined> = {
      missing: undefined,
      'wrong, same length': randomBytes(32).toString('base64url'),
      'wrong in the last character': `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`,
      short: token.slice(0, 8),
      long: `${token}${token}`,
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(kinds).map((kind) => [kind, []]));
    const url = `${server.url}/api/admin/users`;
    for (let round = -50; round < ROUNDS; round++) {
      for (const [kind, value] of Object.entries(kinds)) {
        const started = process.hrtime.bigint();
        const response = await fetch(url, { headers: value === undefined ? {} : { authorization: `Bearer ${value}` } });
        await response.arrayBuffer();
        if (response.status !== 401) throw new Error(`${kind}: expected 401, got ${response.status}`);
        if (round >= 0) times[kind]!.push(Number(process.hrtime.bigint() - started) / 1000); // the first 50: warm-up
      }
    }
    const medians = Object.entries(times).map(([kind, values]) => [kind, median(values)] as const);
    console.log(`\nadmin token refused, median of ${ROUNDS} each, interleaved:`);
    for (const [kind, us] of medians) console.log(`  ${kind.padEnd(28)} ${us.toFixed(1)} us`);
    const values = medians.map(([, us]) => us);
    console.log(`  largest ratio between kinds: ${(Math.max(...values) / Math.min(...values)).toFixed(3)}`);
  } finally {
    server.child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

export { adminTiming };
