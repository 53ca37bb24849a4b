// Google Authenticator's export: otpauth-migration://offline?data=<base64 protobuf>,
// read as protobuf defines it and turned into ordinary key URIs. The payload,
// from Google Authenticator's published migration schema:
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
//
// Wire format (protobuf.dev/programming-guides/encoding): a field is a varint
// tag (number << 3 | wire type) and a value; varints are at most 10 bytes;
// a negative int32 or enum is sign-extended to 64 bits, so it takes all 10
// (the app writes batch_id that way). A singular field seen twice keeps the
// last value; each occurrence of a repeated message field is one more element.
// Fields this schema does not name are skipped by their wire type.

import { base64Decode } from './encoding.js';
import { OtpkitError } from './errors.js';
import type { Algorithm } from './hmac.js';
import { checkSecret, MAX_SECRET_BYTES } from './secret.js';
import type { KeyUri } from './uri.js';

/** Exports come from QR codes, which hold at most 2,953 bytes; this leaves room for percent-encoding. */
const MAX_MIGRATION_URI_LENGTH = 8192;
/** The largest counter a JavaScript number holds exactly; the schema's int64 allows more. */
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

const ALGORITHMS: readonly (Algorithm | undefined)[] = ['SHA-1', 'SHA-1', 'SHA-256', 'SHA-512'];
const MD5 = 4;
const DIGITS: readonly (number | undefined)[] = [6, 6, 8];

/** Where a QR code stands in its export: an export of many accounts spans several codes. */
interface MigrationBatch {
  /** How many QR codes the export spans; 1 when the payload leaves it out. */
  size: number;
  /** This code's place among them, from 0. */
  index: number;
  /** The export's id, the same in each of its codes: a signed 32-bit number, often negative. */
  id: number;
}

/** What one export QR code holds. */
interface MigrationExport {
  /** One key per account, in the app's order. */
  keys: KeyUri[];
  /** The payload format's version: 1 in the app's exports, 0 when left out. */
  version: number;
  batch: MigrationBatch;
}

interface MigrationOptions {
  /** Keys shorter than this many bytes are refused; 1 by default (keys are read as they are). */
  minSecretBytes?: number;
}

function invalid(message: string): OtpkitError {
  return new OtpkitError('MIGRATION_INVALID', `otpauth-migration URI: ${message}`);
}

/** Offsets count from 0 over the base64-decoded payload; messages never quote its bytes. */
function malformed(offset: number, message: string): OtpkitError {
  return invalid(`malformed payload at offset ${offset}: ${message}`);
}

/** A 64-bit varint as two unsigned 32-bit halves. */
interface Varint {
  low: number;
  high: number;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

interface Tag {
  field: number;
  wireType: number;
  offset: number;
}

/** A cursor over one message, payload[start, end); `what` names it in errors ("the payload", "entry 2"). */
function reader(payload: Uint8Array, start: number, end: number, what: string) {
  let at = start;

  const varint = (): Varint => {
    const begin = at;
    let low = 0;
    let high = 0;
    for (let i = 0; ; i++) {
      if (i === 10) throw malformed(begin, 'a number longer than 10 bytes');
      if (at >= end) throw malformed(begin, `a number runs past the end of ${what}`);
      const byte = payload[at++]!;
      const bits = byte & 0x7f;
      if (i < 4) low |= bits << (7 * i);
      else if (i === 4) {
        low |= bits << 28;
        high = bits >>> 4;
      } else if (i < 9) high |= bits << (7 * i - 32);
      // The 10th byte holds bit 63 alone; more would overflow 64 bits.
      else if (bits > 1) throw malformed(begin, 'a number wider than 64 bits');
      else high |= bits << 31;
      if (byte < 0x80) return { low: low >>> 0, high: high >>> 0 };
    }
  };

  const take = (length: number, begin: number): number => {
    if (length > end - at) throw malformed(begin, `a field of ${length} bytes runs past the end of ${what}`);
    const from = at;
    at += length;
    return from;
  };

  /** A length-delimited value, as [start, end) within the payload. */
  const lengthDelimited = (): [number, number] => {
    const begin = at;
    const { low, high } = varint();
    if (high !== 0 || low > 0x7fffffff) throw malformed(begin, 'a field length out of range');
    const from = take(low, begin);
    return [from, from + low];
  };

  return {
    done: () => at >= end,
    varint,
    lengthDelimited,
    tag(): Tag {
      const offset = at;
      const { low, high } = varint();
      const field = low >>> 3;
      const wireType = low & 7;
      // Tags are uint32 and field numbers start at 1.
      if (high !== 0 || field === 0) throw malformed(offset, 'a field number out of range');
      if (wireType === 3 || wireType === 4)
        throw malformed(offset, 'a group (wire type 3 or 4), which this format never uses');
      if (wireType > 5) throw malformed(offset, `unknown wire type ${wireType}`);
      return { field, wireType, offset };
    },
    skip(wireType: number): void {
      const begin = at;
      if (wireType === WIRE_VARINT) varint();
      else if (wireType === WIRE_LENGTH_DELIMITED) lengthDelimited();
      else if (wireType === WIRE_FIXED64) take(8, begin);
      else if (wireType === WIRE_FIXED32) take(4, begin);
    },
  };
}

type Reader = ReturnType<typeof reader>;

/** int32 and enums: the low 32 bits of the varint, as a signed number. */
function int32(r: Reader): number {
  return r.varint().low | 0;
}

/**
 * A known field must come with its schema's wire type. protobuf's own runtime
 * would keep a mismatched one as an unknown field and leave the known one at
 * its default, quietly turning a corrupt entry into a different key; refused.
 */
function expectWireType(tag: Tag, wireType: number, name: string): void {
  if (tag.wireType !== wireType) {
    throw malformed(tag.offset, `field ${tag.field} (${name}) has wire type ${tag.wireType}, expected ${wireType}`);
  }
}

// ignoreBOM: a name that starts with U+FEFF keeps it, as protobuf would.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function parseParameters(payload: Uint8Array, [start, end]: [number, number], entry: number, minSecretBytes: number) {
  const where = `entry ${entry}`;
  const r = reader(payload, start, end, where);
  let secret = new Uint8Array(0);
  let name = '';
  let issuer = '';
  let algorithm = 0;
  let digits = 0;
  let type = 0;
  let counter: Varint = { low: 0, high: 0 };
  const string = (tag: Tag, field: string): string => {
    expectWireType(tag, WIRE_LENGTH_DELIMITED, field);
    const [from, to] = r.lengthDelimited();
    try {
      return utf8.decode(payload.subarray(from, to));
    } catch {
      throw invalid(`${where}: the ${field} is not UTF-8`);
    }
  };
  while (!r.done()) {
    const tag = r.tag();
    switch (tag.field) {
      case 1: {
        expectWireType(tag, WIRE_LENGTH_DELIMITED, 'secret');
        const [from, to] = r.lengthDelimited();
        secret = payload.slice(from, to);
        break;
      }
      case 2:
        name = string(tag, 'name');
        break;
      case 3:
        issuer = string(tag, 'issuer');
        break;
      case 4:
        expectWireType(tag, WIRE_VARINT, 'algorithm');
        algorithm = int32(r);
        break;
      case 5:
        expectWireType(tag, WIRE_VARINT, 'digits');
        digits = int32(r);
        break;
      case 6:
        expectWireType(tag, WIRE_VARINT, 'type');
        type = int32(r);
        break;
      case 7:
        expectWireType(tag, WIRE_VARINT, 'counter');
        counter = r.varint();
        break;
      default:
        r.skip(tag.wireType);
    }
  }

  if (secret.length === 0) throw invalid(`${where} has no key`);
  try {
    checkSecret(secret, minSecretBytes);
  } catch (error) {
    throw invalid(`${where}: ${(error as Error).message}`);
  }
  // Older exports put "Issuer:account" in the name alone.
  let account = name;
  const colon = account.indexOf(':');
  if (colon >= 0 && (issuer === '' || account.slice(0, colon) === issuer)) {
    issuer ||= account.slice(0, colon);
    account = account.slice(colon + 1).trimStart();
  }
  if (algorithm === MD5)
    throw invalid(`${where} uses MD5, which otpkit does not support (only SHA-1, SHA-256, SHA-512)`);
  const hash = ALGORITHMS[algorithm];
  if (!hash) throw invalid(`${where} has an unknown algorithm (${algorithm})`);
  const digitCount = DIGITS[digits];
  if (!digitCount) throw invalid(`${where} has an unknown digit count (${digits})`);
  if (type !== 0 && type !== 1 && type !== 2) throw invalid(`${where} has an unknown type (${type})`);

  const key: KeyUri = {
    type: type === 1 ? 'hotp' : 'totp',
    secret,
    account,
    algorithm: hash,
    digits: digitCount,
    encoder: 'decimal',
    periodSeconds: 30,
  };
  if (issuer !== '') key.issuer = issuer;
  if (key.type === 'hotp') {
    // int64: the high half's top bit is the sign; 2^53 and above do not fit a number exactly.
    if (counter.high >= 0x80000000) throw invalid(`${where} has a negative counter`);
    if (counter.high >= 2 ** 21)
      throw invalid(`${where} has a counter above ${MAX_COUNTER}, the largest otpkit supports`);
    key.counter = counter.high * 2 ** 32 + counter.low;
  }
  return key;
}

function payloadOf(uri: string): Uint8Array {
  if (typeof uri !== 'string') throw invalid('must be a string');
  if (uri.length > MAX_MIGRATION_URI_LENGTH) throw invalid(`longer than ${MAX_MIGRATION_URI_LENGTH} characters`);
  const match = /^otpauth-migration:\/\/offline\?(.*)$/i.exec(uri);
  if (!match) throw invalid('expected otpauth-migration://offline?data=...');
  const data = match[1]!.split('&').filter((pair) => pair.startsWith('data='));
  if (data.length > 1) throw invalid('data appears twice');
  const text = data[0]?.slice(5);
  if (!text) throw invalid('data is missing');
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    throw invalid('data is not base64 (bad percent-encoding)');
  }
  try {
    // '+' is base64 here, not a space: some scanners leave it unescaped.
    return base64Decode(decoded.replaceAll(' ', '+'), 'MIGRATION_INVALID');
  } catch (error) {
    throw invalid(`data is not base64 (${(error as Error).message})`);
  }
}

/**
 * Reads a Google Authenticator export QR code
 * (`otpauth-migration://offline?data=...`): its accounts as key URIs, and
 * which part of a multi-code export it is. Keys of any length from
 * `minSecretBytes` (default 1) are read; MD5 entries and corrupt payloads
 * throw `MIGRATION_INVALID`.
 *
 * @example
 * const { keys, batch } = parseMigrationUri(scanned);
 * for (const key of keys) console.log(formatKeyUri(key));
 * if (batch.size > 1) console.log(`part ${batch.index + 1} of ${batch.size}`);
 */
function parseMigrationUri(uri: string, options: MigrationOptions = {}): MigrationExport {
  const { minSecretBytes = 1 } = options;
  if (!Number.isInteger(minSecretBytes) || minSecretBytes < 1 || minSecretBytes > MAX_SECRET_BYTES) {
    throw new OtpkitError('OPTION_INVALID', `minSecretBytes must be an integer from 1 to ${MAX_SECRET_BYTES}`);
  }
  const payload = payloadOf(uri);
  const keys: KeyUri[] = [];
  let version = 0;
  let size = 0;
  let index = 0;
  let id = 0;
  const r = reader(payload, 0, payload.length, 'the payload');
  while (!r.done()) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        expectWireType(tag, WIRE_LENGTH_DELIMITED, 'otp_parameters');
        keys.push(parseParameters(payload, r.lengthDelimited(), keys.length + 1, minSecretBytes));
        break;
      case 2:
        expectWireType(tag, WIRE_VARINT, 'version');
        version = int32(r);
        break;
      case 3:
        expectWireType(tag, WIRE_VARINT, 'batch_size');
        size = int32(r);
        break;
      case 4:
        expectWireType(tag, WIRE_VARINT, 'batch_index');
        index = int32(r);
        break;
      case 5:
        expectWireType(tag, WIRE_VARINT, 'batch_id');
        id = int32(r);
        break;
      default:
        r.skip(tag.wireType);
    }
  }
  if (keys.length === 0) throw invalid('holds no accounts');
  // proto3 leaves out zeros: no batch_size means a single code.
  if (size === 0) size = 1;
  if (size < 0 || index < 0 || index >= size) throw invalid(`batch_index ${index} does not fit batch_size ${size}`);
  return { keys, version, batch: { size, index, id } };
}

export type { MigrationBatch, MigrationExport, MigrationOptions };
export { parseMigrationUri };
