// Google Authenticator exports, built from the published schema with protobufjs
// (an encoder nobody here wrote), read back as key URIs.

import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { base32Encode, formatKeyUri, OtpkitError, parseMigrationUri } from '../src/index.js';

// Google Authenticator's migration payload schema.
const SCHEMA = `
syntax = "proto3";
message MigrationPayload {
  enum Algorithm { ALGORITHM_UNSPECIFIED = 0; SHA1 = 1; SHA256 = 2; SHA512 = 3; MD5 = 4; }
  enum DigitCount { DIGIT_COUNT_UNSPECIFIED = 0; SIX = 1; EIGHT = 2; }
  enum OtpType { OTP_TYPE_UNSPECIFIED = 0; HOTP = 1; TOTP = 2; }
  message OtpParameters {
    bytes secret = 1;
    string name = 2;
    string issuer = 3;
    Algorithm algorithm = 4;
    DigitCount digits = 5;
    OtpType type = 6;
    int64 counter = 7;
  }
  repeated OtpParameters otp_parameters = 1;
  int32 version = 2;
  int32 batch_size = 3;
  int32 batch_index = 4;
  int32 batch_id = 5;
}`;
const Payload = protobuf.parse(SCHEMA).root.lookupType('MigrationPayload');

function exportUri(entries: Record<string, unknown>[], extra: Record<string, unknown> = {}): string {
  const message = Payload.fromObject({
    otpParameters: entries,
    version: 1,
    batchSize: 1,
    batchIndex: 0,
    batchId: 42,
    ...extra,
  });
  const data = Buffer.from(Payload.encode(message).finish()).toString('base64');
  return `otpauth-migration://offline?data=${encodeURIComponent(data)}`;
}

const key = (n: number, length = 20) => new Uint8Array(length).map((_, i) => (i * 31 + n) & 0xff);

describe('parseMigrationUri', () => {
  it('reads every account of an export into key URIs', () => {
    const uri = exportUri([
      { secret: key(1), name: 'alice@example.com', issuer: 'ACME', algorithm: 1, digits: 1, type: 2 },
      { secret: key(2, 32), name: 'Big Co:bob', issuer: 'Big Co', algorithm: 2, digits: 2, type: 2 },
      { secret: key(3, 64), name: 'Legacy:carol', algorithm: 3, digits: 1, type: 1, counter: 2 ** 40 },
      { secret: key(4), name: 'dave', type: 0 },
    ]);
    expect(parseMigrationUri(uri).map((k) => formatKeyUri(k))).toEqual([
      `otpauth://totp/ACME:alice@example.com?secret=${base32Encode(key(1))}&issuer=ACME`,
      `otpauth://totp/Big%20Co:bob?secret=${base32Encode(key(2, 32))}&issuer=Big%20Co&algorithm=SHA256&digits=8`,
      `otpauth://hotp/Legacy:carol?secret=${base32Encode(key(3, 64))}&issuer=Legacy&algorithm=SHA512&counter=${2 ** 40}`,
      `otpauth://totp/dave?secret=${base32Encode(key(4))}`,
    ]);
  });

  it('accepts an unescaped + in the data and skips unknown fields', () => {
    const uri = exportUri([{ secret: key(5), name: 'x', type: 2 }]);
    expect(parseMigrationUri(decodeURIComponent(uri))[0]!.account).toBe('x');
  });

  it('admits legacy 10-byte keys only when asked', () => {
    const uri = exportUri([{ secret: key(6, 10), name: 'old', type: 2 }]);
    expect(() => parseMigrationUri(uri)).toThrow(/entry 1: secret must be at least 16 bytes/);
    expect(parseMigrationUri(uri, { allowShortSecret: true })[0]!.secret).toHaveLength(10);
  });

  it.each([
    ['otpauth://totp/x?secret=AAAA', 'expected otpauth-migration'],
    ['otpauth-migration://offline?other=1', 'data is missing'],
    ['otpauth-migration://offline?data=%%%', 'not base64'],
    ['otpauth-migration://offline?data=!!!!', 'not base64'],
    ['otpauth-migration://offline?data=CgIK', 'truncated'],
    [
      `otpauth-migration://offline?data=${encodeURIComponent(Buffer.from([0x10, 0x01]).toString('base64'))}`,
      'no accounts',
    ],
    ['MD5', 'MD5'],
    ['long', 'longer than'],
  ])('refuses %s with a coded error', (input, reason) => {
    const uri =
      input === 'MD5'
        ? exportUri([{ secret: key(7), name: 'x', algorithm: 4, type: 2 }])
        : input === 'long'
          ? `otpauth-migration://offline?data=${'A'.repeat(9000)}`
          : input;
    try {
      parseMigrationUri(uri);
      throw new Error('expected a refusal');
    } catch (error) {
      expect(error).toBeInstanceOf(OtpkitError);
      expect((error as OtpkitError).code).toBe('MIGRATION_INVALID');
      expect((error as OtpkitError).message).toContain(reason);
    }
  });
});
