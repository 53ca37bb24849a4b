// The Redis running on this machine, for tests: keys under a prefix of the
// test's own, and a TCP proxy the test can cut and restore, to take Redis away
// from a server mid-run. CI sets OTPKIT_REQUIRE_SERVICES=1, and then a missing
// Redis fails the run instead of skipping.

import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createClient } from '@redis/client';

const REDIS_URL = process.env.OTPKIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function probe(): Promise<boolean> {
  const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 3000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}

const hasRedis = await probe();
if (!hasRedis) {
  if (process.env.OTPKIT_REQUIRE_SERVICES === '1') {
    throw new Error(`Redis is required (OTPKIT_REQUIRE_SERVICES=1) but not reachable at ${REDIS_URL}`);
  }
  console.warn(`\n!!! SKIPPING Redis tests: nothing answers at ${REDIS_URL} !!!\n`);
}

interface TestRedis {
  /** Every key this test makes starts with it (otpkit_test_<random>:). */
  prefix: string;
  /** The keys under the prefix and their values (counters are strings to Redis). */
  keys(): Promise<Record<string, string>>;
  /** Deletes the test's keys and closes its connection. */
  drop(): Promise<void>;
}

/** A connection to the Redis at REDIS_URL and a key prefix no other test uses. */
async function freshRedis(): Promise<TestRedis> {
  const prefix = `otpkit_test_${randomBytes(6).toString('hex')}:`;
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  const keys = async () => {
    const found: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) found.push(...batch);
    return found;
  };
  return {
    prefix,
    async keys() {
      const names = (await keys()).sort();
      const values = names.length === 0 ? [] : await client.mGet(names);
      return Object.fromEntries(names.map((name, i) => [name, String(values[i])]));
    },
    async drop() {
      const names = await keys();
      if (names.length > 0) await client.del(names);
      client.destroy();
    },
  };
}

interface CuttableProxy {
  port: number;
  /** Drops every connection and refuses new ones, on the same port: Redis as a client sees it go away. */
  cut(): Promise<void>;
  /** Accepts and forwards again. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1 to the Redis at REDIS_URL. */
async function cuttableProxy(): Promise<CuttableProxy> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    const opened = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      track(client);
      track(upstream);
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => opened.listen(port, '127.0.0.1', resolve));
    port = (opened.address() as { port: number }).port;
    server = opened;
  };
  const stop = async () => {
    const closing = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  await listen();
  return { port, cut: stop, restore: listen, close: stop };
}

export type { CuttableProxy, TestRedis };
export { cuttableProxy, freshRedis, hasRedis, REDIS_URL };
