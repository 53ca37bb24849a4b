// The 2FA routes as a Fastify plugin an existing app can register: it tells
// the plugin who the current user is, and gets enrollment, confirmation,
// status, validation, disabling and backup codes.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Actor, SecondFactorInput, Service } from '../service/index.js';
import { errorHandler, HttpError } from './errors.js';
import { BackupCodes, CodeOnly, Enrollment, ErrorBody, SecondFactor, Status, Validated } from './schemas.js';

interface TotpPluginOptions {
  service: Service;
  /**
   * Who is signed in, or undefined (then 401): the otpkit user id (the host
   * app's own sign-in vouches for it), or an otpkit Actor (otpkit's own sessions).
   */
  currentUser(request: FastifyRequest): string | Actor | undefined | Promise<string | Actor | undefined>;
}

/** Exactly one of code and backupCode. */
function secondFactor(body: { code?: string; backupCode?: string }): SecondFactorInput {
  if ((body.code === undefined) === (body.backupCode === undefined)) {
    throw new HttpError('INPUT_INVALID', 'give exactly one of code or backupCode');
  }
  return body.code !== undefined ? { code: body.code } : { backupCode: body.backupCode! };
}

const errors = { 400: ErrorBody, 401: ErrorBody, 409: ErrorBody, 429: ErrorBody };

const totpRoutes: FastifyPluginAsyncTypebox<TotpPluginOptions> = async (app, { service, currentUser }) => {
  app.setErrorHandler(errorHandler); // the one error shape, also inside a host app
  async function userOf(request: FastifyRequest): Promise<Actor> {
    const user = await currentUser(request);
    if (!user) throw new HttpError('UNAUTHENTICATED', 'sign in first');
    return typeof user === 'string' ? { userId: user, sessionId: null, amr: null } : user;
  }
  const context = (request: FastifyRequest) => ({ ip: request.ip });
  const tags = ['totp'];

  const enroll = {
    schema: {
      tags,
      summary: 'Start enrollment, or show the pending one again',
      response: { 200: Enrollment, ...errors },
    },
  };
  app.post('/enroll', enroll, async (request) => service.enroll(await userOf(request), context(request)));
  app.get('/enroll', enroll, async (request) => service.enroll(await userOf(request), context(request)));

  app.post(
    '/confirm',
    {
      schema: {
        tags,
        summary: 'Turn 2FA on with a code; returns the backup codes, once',
        body: CodeOnly,
        response: { 200: BackupCodes, ...errors },
      },
    },
    async (request) => service.confirm(await userOf(request), request.body.code, context(request)),
  );
  app.get(
    '/status',
    { schema: { tags, summary: '2FA status', response: { 200: Status, ...errors } } },
    async (request) => service.status(await userOf(request)),
  );
  app.post(
    '/validate',
    {
      schema: { tags, summary: 'Step-up check of a code', body: SecondFactor, response: { 200: Validated, ...errors } },
    },
    async (request) => service.validate(await userOf(request), secondFactor(request.body), context(request)),
  );
  app.post(
    '/disable',
    {
      schema: {
        tags,
        summary: 'Turn 2FA off (takes a code or a backup code)',
        body: SecondFactor,
        response: { 204: {}, ...errors },
      },
    },
    async (request, reply) => {
      await service.disable(await userOf(request), secondFactor(request.body), context(request));
      return reply.status(204).send();
    },
  );
  app.post(
    '/backup-codes',
    {
      schema: {
        tags,
        summary: 'New backup codes (takes a current code)',
        body: CodeOnly,
        response: { 200: BackupCodes, ...errors },
      },
    },
    async (request) => service.rotateBackupCodes(await userOf(request), request.body.code, context(request)),
  );
};

export type { TotpPluginOptions };
export { secondFactor, totpRoutes };
