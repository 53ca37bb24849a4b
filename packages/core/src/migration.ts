// Google Authenticator's export: otpauth-migration://offline?data=<base64 protobuf>,
// turned into ordinary key URIs. The payload, from Google Authenticator's
// published migration schema:
//
//   message MigrationPayload {
//     repeated OtpParameters otp_parameters = 1;
//     int32 version = 2; int32 batch_size = 3; int32 batch_index = 4; int32 batch_id = 5;
//   }
//   message OtpParameters {
//     bytes secret = 1; string name = 2; string issuer = 3;
//     Algorithm algorithm = 4;   // 0 unspecified, 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5
//     DigitCount digits = 5;     // 0 unspecified, 1 SIX, 2 EIGHT
//     OtpType type = 6;          // 0 unspecified, 1 HOTP, 2 TOTP
//     int64 counter = 7;
//   }

import { base64Decode } from './encoding.js';
import { OtpkitError } from './errors.js';
import type { Algorithm } from './hmac.js';
import { checkSecret } from './secret.js';
import type { KeyUri } from './uri.js';

/** Exports come from QR codes, which hold at most 2,953 bytes. */
const MAX_MIGRATION_URI_LENGTH = 8192;

const ALGORITHMS: readonly (Algorithm | undefined)[] = ['SHA-1', 'SHA-1', 'SHA-256', 'SHA-512']; // MD5 (4): unsupported
const DIGITS: readonly (number | undefined)[] = [6, 6, 8];

function invalid(message: string): OtpkitError {
  return new OtpkitError('MIGRATION_INVALID', `otpauth-migration URI: ${message}`);
}

/** Protobuf wire format: a cursor over varints and length-delimited fields. */
function reader(bytes: Uint8Array) {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (at >= bytes.length || shift > 63) throw invalid('truncated or malformed payload');
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    if (value > Number.MAX_SAFE_INTEGER) throw invalid('a number in the payload is too large');
    return value;
  };
  return {
    done: () => at >= bytes.length,
    /** The next field as [number, wire type, value]: a number for varints, bytes for the rest. */
    field(): [number, number, number | Uint8Array] {
      const key = varint();
      const wireType = key & 7;
      const field = Math.floor(key / 8);
      if (wireType === 0) return [field, wireType, varint()];
      const length = wireType === 2 ? varint() : wireType === 1 ? 8 : wireType === 5 ? 4 : -1;
      if (length < 0 || at + length > bytes.length) throw invalid('truncated or malformed payload');
      const value = bytes.subarray(at, at + length);
      at += length;
      return [field, wireType, value];
    },
  };
}

const text = new TextDecoder('utf-8', { fatal: true });

function parseParameters(bytes: Uint8Array, entry: number, allowShortSecret: boolean): KeyUri {
  const fields = new Map<number, number | Uint8Array>();
  const r = reader(bytes);
  while (!r.done()) {
    const [field, , value] = r.field();
    fields.set(field, value);
  }
  const bytesOf = (field: number) => {
    const value = fields.get(field) ?? new Uint8Array(0);
    if (!(value instanceof Uint8Array)) throw invalid(`entry ${entry} has a malformed field ${field}`);
    return value;
  };
  const numberOf = (field: number) => {
    const value = fields.get(field) ?? 0;
    if (typeof value !== 'number') throw invalid(`entry ${entry} has a malformed field ${field}`);
    return value;
  };
  const stringOf = (field: number) => {
    try {
      return text.decode(bytesOf(field));
    } catch {
      throw invalid(`entry ${entry} has text that is not UTF-8`);
    }
  };

  const secret = bytesOf(1).slice();
  try {
    checkSecret(secret, allowShortSecret);
  } catch (error) {
    throw invalid(`entry ${entry}: ${(error as Error).message}`);
  }
  let account = stringOf(2);
  let issuer = stringOf(3);
  // Older exports put "Issuer:account" in the name alone.
  const colon = account.indexOf(':');
  if (colon >= 0 && (issuer === '' || account.slice(0, colon) === issuer)) {
    issuer ||= account.slice(0, colon);
    account = account.slice(colon + 1).trimStart();
  }
  const algorithm = ALGORITHMS[numberOf(4)];
  if (!algorithm) throw invalid(`entry ${entry} uses an algorithm otpkit does not support (MD5 or unknown)`);
  const digits = DIGITS[numberOf(5)];
  if (!digits) throw invalid(`entry ${entry} has an unknown digit count`);
  const type = numberOf(6) === 1 ? 'hotp' : 'totp';
  const key: KeyUri = { type, secret, account, algorithm, digits, encoder: 'decimal', periodSeconds: 30 };
  if (issuer !== '') key.issuer = issuer;
  if (type === 'hotp') key.counter = numberOf(7);
  return key;
}

/**
 * Reads the accounts in a Google Authenticator export QR code
 * (`otpauth-migration://offline?data=...`) as key URIs.
 *
 * @example parseMigrationUri(scanned).map((key) => formatKeyUri(key))
 */
function parseMigrationUri(uri: string, options: { allowShortSecret?: boolean } = {}): KeyUri[] {
  if (typeof uri !== 'string') throw invalid('must be a string');
  if (uri.length > MAX_MIGRATION_URI_LENGTH) throw invalid(`longer than ${MAX_MIGRATION_URI_LENGTH} characters`);
  const match = /^otpauth-migration:\/\/offline\?(.*)$/i.exec(uri);
  if (!match) throw invalid('expected otpauth-migration://offline?data=...');
  const data = match[1]!
    .split('&')
    .find((pair) => pair.startsWith('data='))
    ?.slice(5);
  if (!data) throw invalid('data is missing');
  let payload: Uint8Array;
  try {
    // '+' is base64 here, not a space: some scanners leave it unescaped.
    payload = base64Decode(decodeURIComponent(data).replaceAll(' ', '+'), 'MIGRATION_INVALID');
  } catch {
    throw invalid('data is not base64');
  }
  const keys: KeyUri[] = [];
  const r = reader(payload);
  while (!r.done()) {
    const [field, wireType, value] = r.field();
    if (field === 1 && wireType === 2) {
      keys.push(parseParameters(value as Uint8Array, keys.length + 1, options.allowShortSecret ?? false));
    }
  }
  if (keys.length === 0) throw invalid('holds no accounts');
  return keys;
}

export { parseMigrationUri };
