// The web UI: sign up, two-step sign in, and an account page to turn 2FA on
// and off and manage backup codes. Three static files (packages/otpkit/web),
// served from memory with a Content-Security-Policy that allows nothing but
// this server: no inline script, no CDN, no frames.

import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const WEB = new URL('../../web/', import.meta.url);

const FILES = [
  { path: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { path: '/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { path: '/style.css', file: 'style.css', type: 'text/css; charset=utf-8' },
  { path: '/favicon.svg', file: 'favicon.svg', type: 'image/svg+xml' },
];

const HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

async function webPages(app: FastifyInstance): Promise<void> {
  for (const { path, file, type } of FILES) {
    const body = readFileSync(new URL(file, WEB));
    app.get(path, { schema: { hide: true } }, async (_request, reply) =>
      reply.headers({ ...HEADERS, 'content-type': type }).send(body),
    );
  }
}

export { webPages };
