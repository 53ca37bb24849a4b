// otpkit mounted in apps that own their accounts (currentUser), on every host:
// a Fastify plugin, Express 5 and Express 4 middleware (after the app's own
// express.json(), or before any body parser), and the Fetch handler under a
// base path. Each answers the same bytes to the same requests.

import { base32Decode, createHotp } from '@otpkit/core';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import inject from 'light-my-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSqlite, type TestDb } from '../../../test/support/databases.js';
import { otpkitExpress } from '../src/http/express.js';
import { otpkitFastify } from '../src/http/fastify.js';
import { otpkitFetch } from '../src/http/fetch.js';
import type { Injected } from './server.js';
import { startServer, type TestServer } from './server.js';

type Send = (request: Injected) => Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }>;

let t: TestDb;
let s: TestServer;
const hosts: [string, Send][] = [];

/** The app's notion of its user: here a header its own sign-in would have set. */
const userOf = (headers: Record<string, string | string[] | undefined> | Headers) => {
  const id = headers instanceof Headers ? headers.get('x-user') : (headers['x-user'] as string | undefined);
  return id ?? undefined;
};

beforeAll(async () => {
  t = await freshSqlite();
  s = await startServer(t);
  const options = {
    service: s.service,
    currentUser: async (request: { headers: Record<string, string | string[] | undefined> } | Request) => {
      const id = userOf(request.headers);
      if (id) await s.service.ensureUser(id, id);
      return id;
    },
  };
  const fastify = Fastify();
  await fastify.register(otpkitFastify, { ...options, prefix: '/2fa' });
  hosts.push(['Fastify plugin', (request) => fastify.inject(request)]);
  const five = express().use(express.json()).use('/2fa', otpkitExpress(options));
  hosts.push(['Express 5 after express.json()', (request) => inject(five, request)]);
  const four = express4().use(express4.json()).use('/2fa', otpkitExpress(options));
  hosts.push(['Express 4 after express.json()', (request) => inject(four, request)]);
  const bare = express().use('/2fa', otpkitExpress(options));
  hosts.push(['Express 5, no body parser', (request) => inject(bare, request)]);
  const handler = otpkitFetch({ ...options, basePath: '/2fa' });
  hosts.push([
    'Fetch handler',
    async ({ method = 'GET', url, payload, headers = {} }) => {
      const body = payload === undefined || typeof payload === 'string' ? payload : JSON.stringify(payload);
      const response = await handler(
        new Request(`http://localhost${url}`, { method, headers, ...(body === undefined ? {} : { body }) }),
      );
      const answered: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        answered[name] = value;
      });
      return { statusCode: response.status, headers: answered, body: await response.text() };
    },
  ]);
});
afterAll(async () => {
  await s.close();
  await t.drop();
});

describe('otpkit mounted in an app that owns its accounts', () => {
  it('enrolls and confirms through every host', async () => {
    for (const [name, send] of hosts) {
      const user = { 'x-user': `user-of-${name.replaceAll(/\W/g, '')}`, 'content-type': 'application/json' };
      const enrolled = await send({ method: 'POST', url: '/2fa/enroll', headers: user, payload: {} });
      expect(enrolled.statusCode, name).toBe(200);
      const { secret } = JSON.parse(enrolled.body);
      const code = createHotp({ secret: base32Decode(secret) }).generate(Math.floor(s.clock.now() / 30_000));
      const confirmed = await send({ method: 'POST', url: '/2fa/confirm', headers: user, payload: { code } });
      expect(JSON.parse(confirmed.body).backupCodes, name).toHaveLength(10);
      const status = await send({ method: 'GET', url: '/2fa/status', headers: { 'x-user': user['x-user'] } });
      expect(JSON.parse(status.body), name).toMatchObject({ enabled: true, backupCodesRemaining: 10 });
    }
  });

  it('answers the same bytes on every host: no user, bad input, wrong code, wrong method', async () => {
    const requests: Injected[] = [
      { method: 'GET', url: '/2fa/status' },
      {
        method: 'POST',
        url: '/2fa/validate',
        headers: { 'x-user': 'same', 'content-type': 'application/json' },
        payload: { code: 42 },
      },
      {
        method: 'POST',
        url: '/2fa/validate',
        headers: { 'x-user': 'same', 'content-type': 'application/json' },
        payload: { code: '123456', backupCode: 'x' },
      },
      {
        method: 'POST',
        url: '/2fa/confirm',
        headers: { 'x-user': 'same', 'content-type': 'application/json' },
        payload: { code: '123456' },
      },
      {
        method: 'POST',
        url: '/2fa/confirm',
        headers: { 'x-user': 'same', 'content-type': 'text/plain' },
        payload: 'code=1',
      },
      {
        method: 'POST',
        url: '/2fa/confirm',
        headers: { 'x-user': 'same', 'content-type': 'application/json' },
        payload: '{"code": ',
      },
    ];
    for (const request of requests) {
      const answers = [];
      // A body the app's own express.json() cannot parse is that parser's error, answered by the app.
      const malformed = typeof request.payload === 'string' && request.headers?.['content-type'] === 'application/json';
      for (const [name, send] of hosts.filter(([name]) => !(malformed && name.includes('express.json')))) {
        const { statusCode, headers, body } = await send(request);
        answers.push({ name, statusCode, body, cacheControl: headers['cache-control'] });
      }
      const [first] = answers;
      for (const answer of answers) {
        expect({ ...answer, name: first!.name }, `${answer.name}: ${request.method} ${request.url}`).toEqual(first);
      }
      expect(first!.cacheControl).toBe('no-store');
    }
  });
});
