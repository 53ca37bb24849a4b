// Trusted devices ("remember this browser"): trusting one after a passed
// second factor, signing in on one with the password alone (its token
// rotated; an older token means a copied cookie, and revokes the device), and
// the user's list and revocations.

import type { TrustedDevice, User } from '../store/store.js';
import type { Context } from './context.js';
import { ServiceError } from './errors.js';
import { hashToken } from './tokens.js';
import type { Actor, DeviceCookie, DeviceView, RequestContext, Service, Tokens } from './types.js';

const DAY_MS = 86_400_000;
/** The cookie's value: the device id (a UUID), a dot, and its current secret (32 bytes, base64url). */
const DEVICE_TOKEN = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

/** A name the user recognizes, from the User-Agent header: "Firefox on Linux". */
function deviceName(userAgent: string | null | undefined): string {
  const ua = userAgent ?? '';
  const browser =
    [
      [/Edg\//, 'Edge'],
      [/OPR\//, 'Opera'],
      [/Firefox\//, 'Firefox'],
      [/Chrom(e|ium)\//, 'Chrome'],
      [/Safari\//, 'Safari'],
    ].find(([pattern]) => (pattern as RegExp).test(ua))?.[1] ?? 'A browser';
  const os =
    [
      [/iPhone|iPad|iPod/, 'iOS'],
      [/Android/, 'Android'],
      [/Windows/, 'Windows'],
      [/Mac OS X|Macintosh/, 'macOS'],
      [/CrOS/, 'ChromeOS'],
      [/Linux/, 'Linux'],
    ].find(([pattern]) => (pattern as RegExp).test(ua))?.[1] ?? undefined;
  return os ? `${browser} on ${os}` : (browser as string);
}

/** A new device token for `id`: the cookie's value and its secret's hash. */
function deviceToken(c: Context, id: string) {
  const { token, hash } = c.newToken();
  return { value: `${id}.${token}`, hash };
}

const cookieFor = (c: Context, value: string, expiresAt: number): DeviceCookie => ({
  token: value,
  maxAgeSeconds: Math.max(1, Math.floor((expiresAt - c.nowMs()) / 1000)),
});

/** After a passed second factor at sign-in: trusts this browser for the configured days. */
async function trustDevice(c: Context, user: User, context: RequestContext): Promise<DeviceCookie> {
  const days = c.config.trustedDeviceDays; // above 0: loginVerify checked before the code
  const id = c.newId();
  const token = deviceToken(c, id);
  const now = c.nowMs();
  const expiresAt = now + days * DAY_MS;
  const name = deviceName(context.userAgent);
  await c.store.trustDevice({ id, userId: user.id, tokenHash: token.hash, name, now, expiresAt });
  await c.audit('trusted_device_added', user.id, context, { deviceId: id, device: name });
  return cookieFor(c, token.value, expiresAt);
}

/**
 * The password step passed on an account with 2FA on: if `cookie` is a live
 * device of this user whose token is the current one, a session with amr
 * pwd+device, its token rotated in the same transaction. An older token of a
 * live device is a copy used after the original moved on: the device is
 * revoked. Anything else (no device, another user's, expired): undefined,
 * and the sign-in asks for the second factor.
 */
async function signInOnDevice(
  c: Context,
  user: User,
  cookie: string | undefined,
  context: RequestContext,
): Promise<{ tokens: Tokens; device: DeviceCookie } | undefined> {
  const parts = cookie === undefined ? null : DEVICE_TOKEN.exec(cookie);
  if (!parts || c.config.trustedDeviceDays === 0) return undefined;
  const [, id, secret] = parts as unknown as [string, string, string];
  const now = c.nowMs();
  const device = await c.store.trustedDevice(id);
  if (!device || device.userId !== user.id || device.revokedAt !== null || device.expiresAt <= now) return undefined;
  const presented = hashToken(secret);
  if (presented === device.tokenHash) {
    const next = deviceToken(c, id);
    const session = c.newSession(user, ['pwd', 'device']);
    const event = c.event('login', user.id, context, { secondFactor: 'device', deviceId: id, device: device.name });
    const use = { id, userId: user.id, tokenHash: presented, nextHash: next.hash, now };
    if (await c.store.createSession(session.row, [event], use)) {
      c.emit(event);
      return { tokens: c.tokensFor(session), device: cookieFor(c, next.value, device.expiresAt) };
    }
    // Lost: 2FA changed meanwhile (every device revoked), or a racing use of this token moved it on.
    if ((await c.store.trustedDevice(id))?.tokenHash === presented) return undefined;
  }
  await c.store.revokeTrustedDevices(user.id, now, id);
  await c.audit('trusted_device_reused', user.id, context, { deviceId: id, device: device.name, revoked: true });
  return undefined;
}

function deviceView(d: TrustedDevice, current: string | undefined): DeviceView {
  return {
    id: d.id,
    name: d.name,
    createdAt: new Date(d.createdAt).toISOString(),
    lastUsedAt: new Date(d.lastUsedAt).toISOString(),
    expiresAt: new Date(d.expiresAt).toISOString(),
    current: current?.startsWith(`${d.id}.`) === true,
  };
}

function devices(c: Context): Pick<Service, 'trustedDevices' | 'revokeTrustedDevice' | 'revokeTrustedDevices'> {
  return {
    async trustedDevices(actor: Actor, cookie?: string) {
      const user = await c.userOrThrow(actor.userId);
      return (await c.store.trustedDevices(user.id, c.nowMs())).map((d) => deviceView(d, cookie));
    },
    async revokeTrustedDevice(actor, id, context) {
      if ((await c.store.revokeTrustedDevices(actor.userId, c.nowMs(), id)) === 0) {
        throw new ServiceError('DEVICE_NOT_FOUND', 'no such trusted device');
      }
      await c.audit('trusted_devices_revoked', actor.userId, context, { deviceId: id });
    },
    async revokeTrustedDevices(actor, context) {
      const revoked = await c.store.revokeTrustedDevices(actor.userId, c.nowMs());
      await c.audit('trusted_devices_revoked', actor.userId, context, { count: revoked });
    },
  };
}

export { deviceName, devices, signInOnDevice, trustDevice };
