// The 2FA routes, /api/totp/* (or an embedding app's mount point): enrollment,
// status, step-up, turning off, backup codes and the authenticators.

import { qrDataUrl, qrSvg } from '../qr/index.js';
import { bearer, context, errors, type Route, secondFactor } from './routes.js';
import {
  Authenticators,
  BackupCodes,
  CodeOnly,
  Confirm,
  Confirmed,
  Enrollment,
  Remove,
  Removed,
  Rename,
  SecondFactor,
  Status,
  Validated,
} from './schemas.js';

const totp = ['totp'];

const enroll = (method: 'GET' | 'POST'): Route => ({
  method,
  path: '/enroll',
  group: 'totp',
  throttled: true,
  enrollment: true,
  schema: {
    tags: totp,
    summary: 'Start enrollment, or show the pending one again',
    security: bearer,
    response: { 200: Enrollment, ...errors },
  },
  async handle(c, service) {
    const enrollment = await service.enroll(await c.actor(), context(c));
    return { body: { ...enrollment, qrSvg: await qrSvg(enrollment.uri), qrPng: await qrDataUrl(enrollment.uri) } };
  },
});

const TOTP_ROUTES: Route[] = [
  enroll('POST'),
  enroll('GET'),
  {
    method: 'POST',
    path: '/enroll/cancel',
    group: 'totp',
    throttled: true,
    enrollment: true,
    schema: {
      tags: totp,
      summary: "Cancel this session's pending enrollment (its secret is discarded)",
      security: bearer,
      response: { 204: {}, ...errors },
    },
    async handle(c, service) {
      await service.cancelEnrollment(await c.actor());
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/confirm',
    group: 'totp',
    throttled: true,
    enrollment: true,
    schema: {
      tags: totp,
      summary:
        'Turn the pending authenticator on with a code; the first one turns 2FA on and returns the backup codes, once',
      security: bearer,
      body: Confirm,
      response: { 200: Confirmed, ...errors },
    },
    async handle(c, service) {
      return { body: await service.confirm(await c.actor(), c.body.code, context(c), c.body.name) };
    },
  },
  {
    method: 'GET',
    path: '/status',
    group: 'totp',
    throttled: true,
    enrollment: true,
    schema: { tags: totp, summary: '2FA status', security: bearer, response: { 200: Status, ...errors } },
    async handle(c, service) {
      return { body: await service.status(await c.actor()) };
    },
  },
  {
    method: 'POST',
    path: '/validate',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'Step-up check of a code',
      security: bearer,
      body: SecondFactor,
      response: { 200: Validated, ...errors },
    },
    async handle(c, service) {
      return { body: await service.validate(await c.actor(), secondFactor(c.body), context(c)) };
    },
  },
  {
    method: 'POST',
    path: '/disable',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'Turn 2FA off (takes a code or a backup code)',
      security: bearer,
      body: SecondFactor,
      response: { 204: {}, ...errors },
    },
    async handle(c, service) {
      await service.disable(await c.actor(), secondFactor(c.body), context(c));
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/backup-codes',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'New backup codes (takes a current code)',
      security: bearer,
      body: CodeOnly,
      response: { 200: BackupCodes, ...errors },
    },
    async handle(c, service) {
      return { body: await service.rotateBackupCodes(await c.actor(), c.body.code, context(c)) };
    },
  },
  {
    method: 'GET',
    path: '/authenticators',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'The active authenticators (add one with /enroll and /confirm)',
      security: bearer,
      response: { 200: Authenticators, ...errors },
    },
    async handle(c, service) {
      return { body: { authenticators: await service.authenticators(await c.actor()) } };
    },
  },
  {
    method: 'POST',
    path: '/authenticators/rename',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'Rename an authenticator',
      security: bearer,
      body: Rename,
      response: { 204: {}, ...errors },
    },
    async handle(c, service) {
      await service.renameAuthenticator(await c.actor(), c.body.id, c.body.name, context(c));
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/authenticators/remove',
    group: 'totp',
    throttled: true,
    schema: {
      tags: totp,
      summary: 'Remove an authenticator (takes a code from another one or a backup code; the last one turns 2FA off)',
      security: bearer,
      body: Remove,
      response: { 200: Removed, ...errors },
    },
    async handle(c, service) {
      const { id, ...factor } = c.body;
      return { body: await service.removeAuthenticator(await c.actor(), id, secondFactor(factor), context(c)) };
    },
  },
];

export { TOTP_ROUTES };
