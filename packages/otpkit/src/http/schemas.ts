// Route schemas: the single source of request validation, response shape,
// handler types (through the TypeBox type provider) and the OpenAPI document.

import { Type } from '@fastify/type-provider-typebox';

const strict = { additionalProperties: false } as const;

const Username = Type.String({ minLength: 1, maxLength: 64 });
const Password = Type.String({ minLength: 1, maxLength: 256 });
const Code = Type.String({ minLength: 1, maxLength: 32, description: 'the 6-10 digits the authenticator app shows' });
const BackupCode = Type.String({ minLength: 1, maxLength: 64, description: 'one of the backup codes' });
const OpaqueToken = Type.String({ minLength: 1, maxLength: 128 });

const Credentials = Type.Object({ username: Username, password: Password }, strict);
const PasswordChange = Type.Object(
  {
    currentPassword: Password,
    newPassword: Password,
    code: Type.Optional(Code),
    backupCode: Type.Optional(BackupCode),
  },
  { ...strict, description: 'with 2FA on, also exactly one of code or backupCode' },
);
const SecondFactor = Type.Object(
  { code: Type.Optional(Code), backupCode: Type.Optional(BackupCode) },
  {
    ...strict,
    description: 'exactly one of code or backupCode',
  },
);
const CodeOnly = Type.Object({ code: Code }, strict);
const AuthenticatorName = Type.String({ minLength: 1, maxLength: 64, description: 'what the user calls it ("Phone")' });
const AuthenticatorId = Type.String({ minLength: 1, maxLength: 64 });
const Confirm = Type.Object(
  { code: Code, name: Type.Optional(AuthenticatorName) },
  {
    ...strict,
    description:
      'a code from the new authenticator, and a name for it (default "Authenticator", "Authenticator 2", ...)',
  },
);
const Rename = Type.Object({ id: AuthenticatorId, name: AuthenticatorName }, strict);
const Remove = Type.Object(
  { id: AuthenticatorId, code: Type.Optional(Code), backupCode: Type.Optional(BackupCode) },
  {
    ...strict,
    description: 'exactly one of code (from another authenticator; from this one only if it is the last) or backupCode',
  },
);
const LoginVerify = Type.Object(
  {
    challenge: OpaqueToken,
    code: Type.Optional(Code),
    backupCode: Type.Optional(BackupCode),
    trustDevice: Type.Optional(
      Type.Boolean({
        description:
          'trust this browser (a cookie, with X-Otpkit-Session: cookie): its next sign-ins take the password alone, with amr pwd+device',
      }),
    ),
  },
  strict,
);
const DeviceId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
const Devices = Type.Object({
  devices: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String({ description: 'from the user agent that was trusted' }),
      createdAt: Type.String({ format: 'date-time' }),
      lastUsedAt: Type.String({ format: 'date-time' }),
      expiresAt: Type.String({ format: 'date-time' }),
      current: Type.Boolean({ description: 'the browser asking' }),
    }),
  ),
});
const Refresh = Type.Object(
  { refreshToken: Type.Optional(OpaqueToken) },
  { ...strict, description: 'the refresh token, or none to use the cookie (with X-Otpkit-Session: cookie)' },
);

const Tokens = Type.Object({
  accessToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'seconds' }),
  refreshToken: Type.Optional(
    Type.String({ description: 'absent when the request asked for a cookie (X-Otpkit-Session: cookie)' }),
  ),
});
const LoginResponse = Type.Union([
  Type.Object({ status: Type.Literal('authenticated'), tokens: Tokens }),
  Type.Object(
    { status: Type.Literal('enrollment_required'), tokens: Tokens },
    { description: 'requireTwoFactor: a session that may only enroll, confirm, read status and sign out' },
  ),
  Type.Object({
    status: Type.Literal('second_factor_required'),
    challenge: Type.String({ description: 'send to /api/auth/login/verify within 5 minutes' }),
    expiresAt: Type.String({ format: 'date-time' }),
    methods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('backup_code')])),
    trustDeviceDays: Type.Integer({
      description: 'days /login/verify with trustDevice trusts this browser; 0: not offered',
    }),
  }),
]);
const Me = Type.Object({
  id: Type.String(),
  username: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  twoFactorEnabled: Type.Boolean(),
});
const Authenticator = Type.Object({
  id: Type.String(),
  name: Type.String(),
  algorithm: Type.String(),
  digits: Type.Integer(),
  periodSeconds: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  confirmedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastUsedAt: Type.Union([
    Type.String({ format: 'date-time', description: 'the start of the time step of the last code it accepted' }),
    Type.Null(),
  ]),
});
const Authenticators = Type.Object({ authenticators: Type.Array(Authenticator) });
const Removed = Type.Object({
  twoFactorEnabled: Type.Boolean({ description: 'false when it was the last one: 2FA is off' }),
});
const Enrollment = Type.Object({
  authenticatorId: Type.String(),
  name: Type.String({ description: 'its name until the confirm names it' }),
  secret: Type.String({ description: 'canonical base32' }),
  secretGrouped: Type.String({ description: 'the secret in groups of four, for typing' }),
  uri: Type.String({ description: 'the otpauth:// key URI' }),
  qrSvg: Type.String(),
  qrPng: Type.String({ description: 'a data: URL' }),
  algorithm: Type.String(),
  digits: Type.Integer(),
  periodSeconds: Type.Integer(),
});
const BackupCodes = Type.Object({ backupCodes: Type.Array(Type.String()) });
const Confirmed = Type.Object({
  backupCodes: Type.Optional(
    Type.Array(Type.String(), { description: 'with the first authenticator only (2FA turned on): shown once' }),
  ),
  authenticator: Authenticator,
});
const Status = Type.Object({
  enabled: Type.Boolean(),
  pending: Type.Boolean(),
  algorithm: Type.Union([Type.String(), Type.Null()]),
  digits: Type.Union([Type.Integer(), Type.Null()]),
  periodSeconds: Type.Union([Type.Integer(), Type.Null()]),
  confirmedAt: Type.Union([Type.String(), Type.Null()]),
  required: Type.Boolean({ description: 'the server requires 2FA: users cannot turn it off' }),
  authenticators: Type.Array(Authenticator, {
    description: 'the active ones, oldest first (algorithm, digits, periodSeconds, confirmedAt: the first one)',
  }),
  backupCodesRemaining: Type.Integer(),
  locked: Type.Boolean(),
  lockedUntil: Type.Union([Type.String(), Type.Null()]),
});
const Validated = Type.Object({ valid: Type.Literal(true), method: Type.String() });
// The admin API's query strings arrive as text; numbers are checked as digits.
const Limit = Type.String({ pattern: '^[0-9]{1,3}$', description: 'page size, 1 to 200 (default 50)' });
const Cursor = Type.String({ minLength: 1, maxLength: 400, description: 'nextCursor of the page before' });
const UsersQuery = Type.Object(
  {
    search: Type.Optional(Type.String({ maxLength: 64, description: 'a part of the name' })),
    cursor: Type.Optional(Cursor),
    limit: Type.Optional(Limit),
  },
  strict,
);
const UserName = Type.Object({ username: Username }, strict);
const AuditQuery = Type.Object(
  {
    username: Type.Optional(Username),
    type: Type.Optional(Type.String({ maxLength: 64, description: 'an event type, e.g. login_failed' })),
    since: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601, inclusive' })),
    until: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601, exclusive' })),
    cursor: Type.Optional(Cursor),
    limit: Type.Optional(Limit),
  },
  strict,
);
const AdminUser = Type.Object({
  id: Type.String(),
  username: Type.String(),
  twoFactor: Type.Union([Type.Literal('active'), Type.Literal('pending'), Type.Literal('off')]),
  lockedUntil: Type.Union([Type.String(), Type.Null()]),
  lockedPermanently: Type.Boolean(),
  deactivatedAt: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});
const UsersPage = Type.Object({ users: Type.Array(AdminUser), nextCursor: Type.Union([Type.String(), Type.Null()]) });
const AdminUserState = Type.Object({
  user: AdminUser,
  twoFactor: Type.Object({
    enabled: Type.Boolean(),
    pending: Type.Boolean(),
    authenticators: Type.Array(Authenticator),
    backupCodesRemaining: Type.Integer(),
    failedAttempts: Type.Integer(),
  }),
  trustedDevices: Type.Integer(),
});
const AuditLogPage = Type.Object({
  events: Type.Array(
    Type.Object({
      id: Type.String(),
      at: Type.String({ format: 'date-time' }),
      type: Type.String(),
      userId: Type.Union([Type.String(), Type.Null()]),
      username: Type.Union([Type.String(), Type.Null()]),
      ip: Type.Union([Type.String(), Type.Null()]),
      detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    }),
  ),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    attemptsLeft: Type.Optional(
      Type.Integer({ description: 'CODE_WRONG, CODE_REUSED: wrong codes before the account locks (0: locked now)' }),
    ),
    challengeAttemptsLeft: Type.Optional(
      Type.Integer({ description: 'at sign-in: codes this challenge still takes before the password is needed again' }),
    ),
    lockedUntil: Type.Optional(
      Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
        description: 'the lock this attempt started ends then (null: until an operator unlocks)',
      }),
    ),
  }),
});

export {
  AdminUserState,
  AuditLogPage,
  AuditQuery,
  Authenticators,
  BackupCodes,
  CodeOnly,
  Confirm,
  Confirmed,
  Credentials,
  DeviceId,
  Devices,
  Enrollment,
  ErrorBody,
  LoginResponse,
  LoginVerify,
  Me,
  PasswordChange,
  Refresh,
  Remove,
  Removed,
  Rename,
  SecondFactor,
  Status,
  Tokens,
  UserName,
  UsersPage,
  UsersQuery,
  Validated,
};
