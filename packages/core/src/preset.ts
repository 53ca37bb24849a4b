// A server's TOTP defaults in one line, like passlib's TOTP.using(...): the
// issuer, algorithm, digits, period, window, clock skew and key-length floor,
// bound once; the factory then issues keys, writes key URIs and makes the
// Totp for any user's key.

import { OtpkitError } from './errors.js';
import type { Algorithm } from './hmac.js';
import { createTotp, type Totp, type Window } from './otp.js';
import { DEFAULT_SECRET_BYTES, generateSecret, type RandomBytes } from './secret.js';
import { formatKeyUri } from './uri.js';

interface TotpPresetOptions {
  /** The issuer authenticator apps show beside the account. */
  issuer?: string;
  algorithm?: Algorithm;
  digits?: number;
  periodSeconds?: number;
  window?: Window;
  skewSeconds?: number;
  separators?: boolean;
  /** Refuse users' keys shorter than this in `create` (1 by default; MIN_SECRET_BYTES for RFC 4226's floor). */
  minSecretBytes?: number;
  /** Length of keys `generateSecret` issues: 20 by default, 16 at least. */
  secretBytes?: number;
}

interface TotpPreset {
  readonly options: Readonly<TotpPresetOptions>;
  /** A new key for an enrollment. */
  generateSecret(randomBytes?: RandomBytes): Uint8Array;
  /** The Totp for a user's key, with the preset's parameters. */
  create(secret: Uint8Array): Totp;
  /** The key URI for the QR code of a user's key. */
  keyUri(secret: Uint8Array, account: string): string;
}

/**
 * Binds a server's defaults once. Every value is checked here, so a bad
 * preset fails at start, not at the first sign-in.
 *
 * @example
 * const totps = totpPreset({ issuer: 'ACME', window: 1, minSecretBytes: MIN_SECRET_BYTES });
 * const secret = totps.generateSecret();                    // enrollment
 * const uri = totps.keyUri(secret, 'alice@example.com');    // for the QR code
 * totps.create(secret).verify(code, { nowSeconds, afterCounter });
 */
function totpPreset(options: TotpPresetOptions = {}): TotpPreset {
  if (typeof options !== 'object' || options === null) {
    throw new OtpkitError('OPTION_INVALID', 'preset options must be an object');
  }
  const bound = Object.freeze({ ...options });
  const { issuer, secretBytes = DEFAULT_SECRET_BYTES, ...parameters } = bound;
  const newSecret = (randomBytes?: RandomBytes) =>
    generateSecret({ bytes: secretBytes, ...(randomBytes ? { randomBytes } : {}) });
  const create = (secret: Uint8Array) => createTotp({ ...parameters, secret });
  function keyUri(secret: Uint8Array, account: string): string {
    const totp = create(secret);
    return formatKeyUri({
      secret,
      account,
      ...(issuer === undefined ? {} : { issuer }),
      algorithm: totp.algorithm,
      digits: totp.digits,
      encoder: totp.encoder,
      periodSeconds: totp.periodSeconds,
    });
  }
  keyUri(newSecret(), 'preset-check'); // checks every option now, the issuer too
  return Object.freeze({ options: bound, generateSecret: newSecret, create, keyUri });
}

export type { TotpPreset, TotpPresetOptions };
export { totpPreset };
