// A TOTP enrollment as something to store: its parameters, the sealed key and
// the last accepted counter, with a `changed` flag for what must be saved
// (the idea of passlib's TOTP to_json/from_json, with the key sealed).

import { OtpkitError } from '../errors.js';
import type { Algorithm } from '../hmac.js';
import { createTotp, type Totp, type TotpResult, type Window } from '../otp.js';
import { formatKeyUri } from '../uri.js';
import type { KeyRing } from './keyring.js';
import { openSecret, sealSecret } from './seal.js';

/** What is stored, as JSON. Version 1. */
interface EnrollmentJson {
  v: 1;
  account: string;
  issuer?: string;
  algorithm: Algorithm;
  digits: number;
  periodSeconds: number;
  /** `v1.<keyId>.<nonce>.<ciphertext>`: see seal.ts. */
  sealedSecret: string;
  /** The last accepted counter, or null before the first code. */
  lastCounter: number | null;
}

interface EnrollmentParameters {
  account: string;
  issuer?: string;
  algorithm?: Algorithm;
  digits?: number;
  periodSeconds?: number;
}

interface Enrollment {
  readonly account: string;
  readonly issuer: string | undefined;
  readonly lastCounter: number | undefined;
  /** True once something must be saved: a new enrollment, an accepted code, or a reseal. */
  readonly changed: boolean;
  /** Verifies a code and refuses a reused one; a match advances lastCounter. */
  verify(code: string, options: { nowSeconds: number; window?: Window }): TotpResult;
  /** The key URI, for the QR code an authenticator app scans. */
  keyUri(): string;
  toJSON(): EnrollmentJson;
}

interface VaultOptions {
  /** Binds the sealed key to its owner, e.g. "user:42/totp". */
  associatedData: string;
}

function build(json: EnrollmentJson, secret: Uint8Array, changed: boolean): Enrollment {
  const totp: Totp = createTotp({
    secret,
    algorithm: json.algorithm,
    digits: json.digits,
    periodSeconds: json.periodSeconds,
  });
  let lastCounter = json.lastCounter ?? undefined;
  let dirty = changed;
  return {
    account: json.account,
    issuer: json.issuer,
    get lastCounter() {
      return lastCounter;
    },
    get changed() {
      return dirty;
    },
    verify(code, options) {
      const result = totp.verify(code, { ...options, afterCounter: lastCounter });
      if (result.ok) {
        lastCounter = result.counter;
        dirty = true;
      }
      return result;
    },
    keyUri: () =>
      formatKeyUri({
        secret,
        account: json.account,
        issuer: json.issuer,
        algorithm: json.algorithm,
        digits: json.digits,
        periodSeconds: json.periodSeconds,
      }),
    toJSON: () => ({ ...json, lastCounter: lastCounter ?? null }),
  };
}

/** A new enrollment for `secret`, sealed under the ring's current key. */
async function createEnrollment(
  ring: KeyRing,
  secret: Uint8Array,
  parameters: EnrollmentParameters,
  options: VaultOptions,
): Promise<Enrollment> {
  const json: EnrollmentJson = {
    v: 1,
    account: parameters.account,
    ...(parameters.issuer === undefined ? {} : { issuer: parameters.issuer }),
    algorithm: parameters.algorithm ?? 'SHA-1',
    digits: parameters.digits ?? 6,
    periodSeconds: parameters.periodSeconds ?? 30,
    sealedSecret: '',
    lastCounter: null,
  };
  build(json, secret, true).keyUri(); // validates every parameter before anything is sealed
  json.sealedSecret = await sealSecret(ring, secret, options);
  return build(json, secret, true);
}

/**
 * Opens a stored enrollment. One sealed under a key that is no longer
 * current is resealed under the current one here, and comes back `changed`.
 */
async function openEnrollment(
  ring: KeyRing,
  stored: EnrollmentJson | string,
  options: VaultOptions,
): Promise<Enrollment> {
  let json: EnrollmentJson;
  try {
    json = typeof stored === 'string' ? (JSON.parse(stored) as EnrollmentJson) : stored;
  } catch {
    throw new OtpkitError('OPTION_INVALID', 'enrollment is not JSON');
  }
  if (typeof json !== 'object' || json === null || json.v !== 1) {
    throw new OtpkitError('OPTION_INVALID', 'enrollment must be a version 1 enrollment object');
  }
  const { lastCounter } = json;
  if (lastCounter !== null && !(Number.isSafeInteger(lastCounter) && lastCounter >= 0)) {
    throw new OtpkitError('OPTION_INVALID', 'enrollment lastCounter must be null or a non-negative integer');
  }
  const opened = await openSecret(ring, json.sealedSecret, options);
  if (!opened.needsReseal) return build(json, opened.secret, false);
  const resealed = { ...json, sealedSecret: await sealSecret(ring, opened.secret, options) };
  return build(resealed, opened.secret, true);
}

export type { Enrollment, EnrollmentJson, EnrollmentParameters, VaultOptions };
export { createEnrollment, openEnrollment };
