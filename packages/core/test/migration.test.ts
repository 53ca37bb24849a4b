// Google Authenticator exports, built from the published schema with protobufjs
// (an encoder nobody here wrote), read back as key URIs and batch information;
// a real export from the app; and corrupt payloads, by hand and by fuzzing.

import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { base32Encode, formatKeyUri, hexEncode, type KeyUri, OtpkitError, parseMigrationUri } from '../src/index.js';
import type { MigrationExport } from '../src/migration.js';

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
const Parameters = Payload.lookupType('OtpParameters');

// The same messages as a later version of the app might write them: fields of
// every skippable wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32)
// that the schema above does not name, with small and large field numbers.
const Future = protobuf
  .parse(`
syntax = "proto3";
message Payload {
  message Parameters {
    bytes secret = 1; string name = 2; string issuer = 3;
    int32 algorithm = 4; int32 digits = 5; int32 type = 6; int64 counter = 7;
    uint64 varint8 = 8; fixed64 fixed9 = 9; string text10 = 10; fixed32 fixed11 = 11; sint32 varint5000 = 5000;
  }
  repeated Parameters otp_parameters = 1;
  int32 version = 2; int32 batch_size = 3; int32 batch_index = 4; int32 batch_id = 5;
  int64 varint6 = 6; sfixed64 fixed7 = 7; bytes blob8 = 8; float fixed9 = 9; Parameters message10 = 10;
  fixed32 fixed100000 = 100000;
}`)
  .root.lookupType('Payload');

const encode = (type: protobuf.Type, object: Record<string, unknown>) => type.encode(type.fromObject(object)).finish();

function uriOf(payload: Uint8Array): string {
  return `otpauth-migration://offline?data=${encodeURIComponent(Buffer.from(payload).toString('base64'))}`;
}

function exportUri(entries: Record<string, unknown>[], extra: Record<string, unknown> = {}): string {
  return uriOf(
    encode(Payload, { otpParameters: entries, version: 1, batchSize: 1, batchIndex: 0, batchId: 42, ...extra }),
  );
}

const key = (n: number, length = 20) => new Uint8Array(length).map((_, i) => (i * 31 + n) & 0xff);

/** The error a refusal throws: always an OtpkitError with MIGRATION_INVALID. */
function refusal(uri: string, options?: { minSecretBytes?: number }): OtpkitError {
  try {
    parseMigrationUri(uri, options);
  } catch (error) {
    expect(error).toBeInstanceOf(OtpkitError);
    expect((error as OtpkitError).code).toBe('MIGRATION_INVALID');
    return error as OtpkitError;
  }
  throw new Error('expected a refusal');
}

// What a payload means, from protobufjs's own decoding of it: the test's
// independent reading to compare ours with.
const ALGORITHM_NAMES = ['SHA-1', 'SHA-1', 'SHA-256', 'SHA-512'] as const;
interface Decoded {
  secret: Uint8Array;
  name: string;
  issuer: string;
  algorithm: 0 | 1 | 2 | 3;
  digits: number;
  type: number;
  counter: string;
}
function expectedFrom(payload: Uint8Array): MigrationExport {
  const decoded = Payload.toObject(Payload.decode(payload), { longs: String, defaults: true, arrays: true });
  return {
    version: decoded.version,
    batch: { size: decoded.batchSize || 1, index: decoded.batchIndex, id: decoded.batchId },
    keys: (decoded.otpParameters as Decoded[]).map((p) => {
      const key: KeyUri = {
        type: p.type === 1 ? 'hotp' : 'totp',
        secret: new Uint8Array(p.secret),
        account: p.name,
        algorithm: ALGORITHM_NAMES[p.algorithm],
        digits: p.digits === 2 ? 8 : 6,
        encoder: 'decimal',
        periodSeconds: 30,
      };
      if (p.issuer !== '') key.issuer = p.issuer;
      if (p.type === 1) key.counter = Number(p.counter);
      return key;
    }),
  };
}

// Exported by Google Authenticator (issue 11): one TOTP key, batch_id negative,
// so written as a 10-byte varint.
const REAL =
  'otpauth-migration://offline?data=CjUKEPqlBekzoNEukL7qlsjBCDYSDnBpQHJhc3BiZXJyeXBpGgtyYXNwYmVycnlwaSABKAEwAhABGAEgACjr4JKK%2B%2F%2F%2F%2F%2F8B';

describe('parseMigrationUri', () => {
  it('reads a real export from the app, negative batch_id and all', () => {
    const payload = Buffer.from(decodeURIComponent(REAL.slice(REAL.indexOf('data=') + 5)), 'base64');
    const expected = expectedFrom(payload);
    expect(expected.batch.id).toBeLessThan(0);
    expect(expected.keys).toHaveLength(1);
    expect(parseMigrationUri(REAL)).toEqual(expected);
    expect(parseMigrationUri(REAL)).toMatchObject({
      version: 1,
      batch: { size: 1, index: 0, id: -1320898453 },
      keys: [{ type: 'totp', account: 'pi@raspberrypi', issuer: 'raspberrypi', algorithm: 'SHA-1', digits: 6 }],
    });
    expect(formatKeyUri(parseMigrationUri(REAL).keys[0]!)).toBe(
      `otpauth://totp/raspberrypi:pi@raspberrypi?secret=${base32Encode(expected.keys[0]!.secret)}&issuer=raspberrypi`,
    );
  });

  it('reads every account: TOTP and HOTP, SHA-1/256/512, 6 and 8 digits, with or without issuer', () => {
    const uri = exportUri([
      { secret: key(1), name: 'alice@example.com', issuer: 'ACME', algorithm: 1, digits: 1, type: 2 },
      { secret: key(2, 32), name: 'Big Co:bob', issuer: 'Big Co', algorithm: 2, digits: 2, type: 2 },
      { secret: key(3, 64), name: 'Legacy:carol', algorithm: 3, digits: 1, type: 1, counter: 2 ** 40 },
      { secret: key(4), name: 'dave', issuer: '', type: 0 },
      { secret: key(5), name: 'erin', issuer: 'Counter', algorithm: 2, digits: 2, type: 1, counter: 0 },
    ]);
    expect(parseMigrationUri(uri).keys.map((k) => formatKeyUri(k))).toEqual([
      `otpauth://totp/ACME:alice@example.com?secret=${base32Encode(key(1))}&issuer=ACME`,
      `otpauth://totp/Big%20Co:bob?secret=${base32Encode(key(2, 32))}&issuer=Big%20Co&algorithm=SHA256&digits=8`,
      `otpauth://hotp/Legacy:carol?secret=${base32Encode(key(3, 64))}&issuer=Legacy&algorithm=SHA512&counter=${2 ** 40}`,
      `otpauth://totp/dave?secret=${base32Encode(key(4))}`,
      `otpauth://hotp/Counter:erin?secret=${base32Encode(key(5))}&issuer=Counter&algorithm=SHA256&digits=8&counter=0`,
    ]);
    expect(parseMigrationUri(uri)).toMatchObject({ version: 1, batch: { size: 1, index: 0, id: 42 } });
  });

  it('splits an "Issuer:account" name only when it repeats the issuer or there is none', () => {
    const { keys } = parseMigrationUri(
      exportUri([
        { secret: key(1), name: 'GitHub:octocat', issuer: 'GitHub', type: 2 },
        { secret: key(2), name: 'GitLab: octocat', type: 2 },
        { secret: key(3), name: 'alice:work', issuer: 'ACME', type: 2 },
        { secret: key(4), name: 'a:b:c', type: 2 },
        { secret: key(5), name: ':x', issuer: '', type: 2 },
      ]),
    );
    expect(keys.map(({ issuer, account }) => ({ issuer, account }))).toEqual([
      { issuer: 'GitHub', account: 'octocat' },
      { issuer: 'GitLab', account: 'octocat' },
      { issuer: 'ACME', account: 'alice:work' },
      { issuer: 'a', account: 'b:c' },
      { issuer: undefined, account: 'x' },
    ]);
  });

  it('reads non-ASCII names and issuers as UTF-8, a leading U+FEFF included', () => {
    const { keys } = parseMigrationUri(
      exportUri([
        { secret: key(1), name: 'zoë@exämple.de', issuer: 'Bäckerei Müller', type: 2 },
        { secret: key(2), name: '山田:太郎', type: 2 },
        { secret: key(3), name: '🔑 keys', issuer: '\u{feff}BOM', type: 2 },
      ]),
    );
    expect(keys.map(({ issuer, account }) => [issuer, account])).toEqual([
      ['Bäckerei Müller', 'zoë@exämple.de'],
      ['山田', '太郎'],
      ['\u{feff}BOM', '🔑 keys'],
    ]);
    expect(formatKeyUri(keys[0]!)).toBe(
      `otpauth://totp/B%C3%A4ckerei%20M%C3%BCller:zo%C3%AB@ex%C3%A4mple.de?secret=${base32Encode(key(1))}&issuer=B%C3%A4ckerei%20M%C3%BCller`,
    );
  });

  it('reads each part of a multi-code export with its place in the batch', () => {
    const id = -2_000_000_000;
    const parts = [0, 1, 2].map((index) =>
      exportUri([{ secret: key(index), name: `user${index}`, type: 2 }], {
        batchSize: 3,
        batchIndex: index,
        batchId: id,
      }),
    );
    expect(parts.map((uri) => parseMigrationUri(uri).batch)).toEqual([
      { size: 3, index: 0, id },
      { size: 3, index: 1, id },
      { size: 3, index: 2, id },
    ]);
    expect(parseMigrationUri(parts[2]!).keys[0]!.account).toBe('user2');
  });

  it('reads batch_id and version across the int32 range, and a payload that leaves them out', () => {
    for (const id of [-1, -(2 ** 31), 2 ** 31 - 1, 0, 1]) {
      expect(parseMigrationUri(exportUri([{ secret: key(1), name: 'x' }], { batchId: id, version: id })).batch.id).toBe(
        id,
      );
    }
    const bare = parseMigrationUri(uriOf(encode(Payload, { otpParameters: [{ secret: key(1), name: 'x' }] })));
    expect(bare).toMatchObject({ version: 0, batch: { size: 1, index: 0, id: 0 } });
  });

  it('truncates an int32 written with more than 32 bits, as protobuf does', () => {
    // batch_id (field 5) as the uint64 2^32 + 7: an int32 reader keeps the low 32 bits.
    const head = encode(Payload, { otpParameters: [{ secret: key(1), name: 'x' }] });
    const tail = protobuf.Writer.create()
      .uint32(0x28)
      .uint64(2 ** 32 + 7)
      .finish();
    expect(parseMigrationUri(uriOf(Buffer.concat([head, tail]))).batch.id).toBe(7);
  });

  it('reads HOTP counters up to 2^53 - 1 and refuses larger or negative ones by name', () => {
    const hotp = (counter: number | string) => exportUri([{ secret: key(1), name: 'x', type: 1, counter }]);
    expect(parseMigrationUri(hotp(Number.MAX_SAFE_INTEGER)).keys[0]!.counter).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseMigrationUri(hotp(2 ** 32)).keys[0]!.counter).toBe(2 ** 32);
    expect(parseMigrationUri(hotp(2 ** 32 - 1)).keys[0]!.counter).toBe(2 ** 32 - 1);
    expect(refusal(hotp(2 ** 53)).message).toContain('entry 1 has a counter above 9007199254740991');
    expect(refusal(hotp('9223372036854775807')).message).toContain('counter above');
    expect(refusal(hotp(-1)).message).toContain('entry 1 has a negative counter');
    // A TOTP entry's counter means nothing; it is not checked.
    expect(
      parseMigrationUri(exportUri([{ secret: key(1), name: 'x', type: 2, counter: -1 }])).keys[0],
    ).not.toHaveProperty('counter');
  });

  it('skips fields it does not know, of every wire type, in the payload and in entries', () => {
    const payload = encode(Future, {
      otpParameters: [
        {
          secret: key(1),
          name: 'x',
          issuer: 'Y',
          type: 1,
          counter: 9,
          varint8: '18446744073709551615',
          fixed9: 5,
          text10: 'later',
          fixed11: 7,
          varint5000: -3,
        },
      ],
      version: 2,
      batchSize: 1,
      batchId: -5,
      varint6: -1,
      fixed7: -1,
      blob8: key(2),
      fixed9: 1.5,
      message10: { secret: key(3), name: 'not an entry' },
      fixed100000: 1,
    });
    const result = parseMigrationUri(uriOf(payload));
    expect(result).toEqual(expectedFrom(payload));
    expect(result).toMatchObject({ version: 2, batch: { id: -5 }, keys: [{ account: 'x', issuer: 'Y', counter: 9 }] });
  });

  it('keeps the last value of a field seen twice and appends repeated entries (protobuf merge)', () => {
    // Concatenated messages merge: singular fields take the later value, repeated ones append.
    const first = encode(Payload, { otpParameters: [{ secret: key(1), name: 'a' }], version: 1, batchId: 5 });
    const second = encode(Payload, { otpParameters: [{ secret: key(2), name: 'b' }], batchId: -7, batchSize: 2 });
    const merged = Buffer.concat([first, second]);
    expect(parseMigrationUri(uriOf(merged))).toEqual(expectedFrom(merged));
    expect(parseMigrationUri(uriOf(merged))).toMatchObject({ version: 1, batch: { size: 2, index: 0, id: -7 } });

    // Inside one entry too: the second secret, name and algorithm win.
    const entry = Buffer.concat([
      encode(Parameters, { secret: key(3), name: 'old', algorithm: 1, type: 1, counter: 4 }),
      encode(Parameters, { secret: key(4, 32), name: 'new', algorithm: 3 }),
    ]);
    const payload = protobuf.Writer.create().uint32(0x0a).bytes(entry).finish();
    expect(parseMigrationUri(uriOf(payload))).toEqual(expectedFrom(payload));
    expect(parseMigrationUri(uriOf(payload)).keys[0]).toMatchObject({
      secret: key(4, 32),
      account: 'new',
      algorithm: 'SHA-512',
      type: 'hotp',
      counter: 4,
    });
  });

  it('reads short keys unless minSecretBytes asks for more, and refuses empty or oversized ones', () => {
    const uri = exportUri([{ secret: key(6, 20) }, { secret: key(6, 10), name: 'old', type: 2 }]);
    expect(parseMigrationUri(uri).keys[1]!.secret).toEqual(key(6, 10));
    expect(parseMigrationUri(exportUri([{ secret: key(6, 1), name: 'one' }])).keys[0]!.secret).toHaveLength(1);
    expect(refusal(uri, { minSecretBytes: 16 }).message).toContain('entry 2: secret must be at least 16 bytes, got 10');
    expect(refusal(exportUri([{ name: 'none', type: 2 }])).message).toContain('entry 1 has no key');
    expect(refusal(exportUri([{ secret: key(1, 129), name: 'x' }])).message).toContain('at most 128 bytes, got 129');
    for (const minSecretBytes of [0, 1.5, 129, Number.NaN]) {
      expect(() => parseMigrationUri(uri, { minSecretBytes })).toThrow(
        expect.objectContaining({ code: 'OPTION_INVALID' }),
      );
    }
  });

  it('refuses MD5 by name, and unknown algorithms, digit counts and types by number', () => {
    expect(
      refusal(
        exportUri([
          { secret: key(1), name: 'a' },
          { secret: key(7), name: 'x', algorithm: 4 },
        ]),
      ).message,
    ).toBe('otpauth-migration URI: entry 2 uses MD5, which otpkit does not support (only SHA-1, SHA-256, SHA-512)');
    // Enums are open in proto3: a value the schema lacks still arrives, negative ones as 10-byte varints.
    const loose = (fields: Record<string, unknown>) =>
      uriOf(encode(Future, { otpParameters: [{ secret: key(1), ...fields }] }));
    expect(refusal(loose({ algorithm: 9 })).message).toContain('entry 1 has an unknown algorithm (9)');
    expect(refusal(loose({ algorithm: -1 })).message).toContain('entry 1 has an unknown algorithm (-1)');
    expect(refusal(loose({ digits: 3 })).message).toContain('entry 1 has an unknown digit count (3)');
    expect(refusal(loose({ type: 3 })).message).toContain('entry 1 has an unknown type (3)');
  });

  it('refuses batch places that do not fit the batch size', () => {
    const part = (batchSize: number, batchIndex: number) =>
      exportUri([{ secret: key(1), name: 'x' }], { batchSize, batchIndex });
    expect(refusal(part(3, 3)).message).toContain('batch_index 3 does not fit batch_size 3');
    expect(refusal(part(-2, 0)).message).toContain('batch_size -2');
    expect(refusal(part(2, -1)).message).toContain('batch_index -1');
  });

  it('names the offset of a corrupt payload, and never its bytes', () => {
    const entry = [...encode(Payload, { otpParameters: [{ secret: key(1), name: 'x' }] })];
    const at = entry.length;
    const cases: [number[], string][] = [
      [[0x0a, 0x02, 0x0a], 'at offset 1: a field of 2 bytes runs past the end of the payload'],
      [[0x0b], 'at offset 0: a group (wire type 3 or 4)'],
      [[...entry, 0x0c], `at offset ${at}: a group`],
      [[...entry, 0x0e], `at offset ${at}: unknown wire type 6`],
      [[...entry, 0x0f], `at offset ${at}: unknown wire type 7`],
      [[0x00, 0x00], 'at offset 0: a field number out of range'],
      [[...entry, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], `at offset ${at}: a field number out of range`],
      [[...entry, 0x10, 0x80], `at offset ${at + 1}: a number runs past the end of the payload`],
      [[...entry, 0x10, ...Array(9).fill(0xff), 0x81, 0x01], `at offset ${at + 1}: a number longer than 10 bytes`],
      [[...entry, 0x10, ...Array(9).fill(0xff), 0x02], `at offset ${at + 1}: a number wider than 64 bits`],
      [[...entry, 0x31, 1, 2, 3], `at offset ${at + 1}: a field of 8 bytes runs past the end of the payload`],
      [[...entry, 0x35, 1, 2, 3], `at offset ${at + 1}: a field of 4 bytes runs past the end of the payload`],
      [[...entry, 0x2a, 0x00], `at offset ${at}: field 5 (batch_id) has wire type 2, expected 0`],
      [[0x08, 0x01], 'field 1 (otp_parameters) has wire type 0, expected 2'],
      [[0x0a, 0x02, 0x20, 0x80], 'at offset 3: a number runs past the end of entry 1'],
      [[0x0a, 0x03, 0x0a, 0x05, 0x00], 'at offset 3: a field of 5 bytes runs past the end of entry 1'],
      [[0x0a, 0x02, 0x09, 0x00], 'at offset 2: field 1 (secret) has wire type 1, expected 2'],
      [[0x0a, 0x06, 0x0a, 0x01, 0x01, 0x12, 0x01, 0xff], 'entry 1: the name is not UTF-8'],
      [[0x0a, 0x06, 0x0a, 0x01, 0x01, 0x1a, 0x01, 0xc3], 'entry 1: the issuer is not UTF-8'],
      [[0x10, 0x01], 'holds no accounts'],
    ];
    for (const [bytes, reason] of cases) {
      const error = refusal(uriOf(new Uint8Array(bytes)));
      expect(error.message, reason).toContain(reason);
      expect(error.message).not.toContain(base32Encode(key(1)));
    }
  });

  it.each([
    ['another scheme', 'otpauth://totp/x?secret=AAAA', 'expected otpauth-migration'],
    ['no data', 'otpauth-migration://offline?other=1', 'data is missing'],
    ['empty data', 'otpauth-migration://offline?data=', 'data is missing'],
    ['data twice', 'otpauth-migration://offline?data=CgIK&data=CgIK', 'data appears twice'],
    ['bad percent-encoding', 'otpauth-migration://offline?data=%%%', 'not base64 (bad percent-encoding)'],
    ['not base64', 'otpauth-migration://offline?data=!!!!', 'not base64 (base64: unexpected character at position 1)'],
    ['a truncated payload', 'otpauth-migration://offline?data=CgIK', 'runs past the end'],
    ['a URI too long for a QR code', `otpauth-migration://offline?data=${'A'.repeat(9000)}`, 'longer than 8192'],
  ])('refuses %s with a coded error', (_, uri, reason) => {
    expect(refusal(uri).message).toContain(reason);
  });

  it('accepts an unescaped + in the data, and a scheme in capitals', () => {
    const uri = exportUri([{ secret: new Uint8Array(20).fill(0xfb), name: 'x', type: 2 }]);
    expect(decodeURIComponent(uri)).toContain('+');
    expect(parseMigrationUri(decodeURIComponent(uri)).keys[0]!.account).toBe('x');
    expect(parseMigrationUri(uri.replace('otpauth-migration', 'OTPAUTH-MIGRATION')).keys[0]!.account).toBe('x');
  });
});

describe('parseMigrationUri, fuzzed', () => {
  const text = fc.string({ maxLength: 30, unit: 'grapheme' }).filter((s) => !s.includes(':'));
  const entry = fc.record({
    secret: fc.uint8Array({ minLength: 1, maxLength: 128 }),
    name: text,
    issuer: text,
    algorithm: fc.integer({ min: 0, max: 3 }),
    digits: fc.integer({ min: 0, max: 2 }),
    type: fc.integer({ min: 0, max: 2 }),
    counter: fc.maxSafeNat(),
  });
  const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  const exportPayload = fc
    .record({
      entries: fc.array(entry, { minLength: 1, maxLength: 5 }),
      version: int32,
      batchSize: fc.integer({ min: 1, max: 10 }),
      batchIndexSeed: fc.nat(),
      batchId: int32,
      future: fc.boolean(),
    })
    .map(({ entries, batchSize, batchIndexSeed, future, ...rest }) =>
      encode(future ? Future : Payload, {
        otpParameters: entries.map((e) => (future ? { ...e, fixed9: 3, text10: 'later', varint5000: -1 } : e)),
        batchSize,
        batchIndex: batchIndexSeed % batchSize,
        ...rest,
        ...(future ? { varint6: -9, blob8: new Uint8Array([1, 2]), fixed100000: 4 } : {}),
      }),
    );

  /** Either a result that holds together or a MIGRATION_INVALID refusal; anything else fails. */
  function outcome(payload: Uint8Array, secrets: Uint8Array[] = []): MigrationExport | OtpkitError {
    let result: MigrationExport;
    try {
      result = parseMigrationUri(uriOf(payload));
    } catch (error) {
      if (!(error instanceof OtpkitError) || error.code !== 'MIGRATION_INVALID') throw error;
      expect(error.message).toMatch(/^otpauth-migration URI: /);
      for (const secret of secrets) {
        expect(error.message).not.toContain(base32Encode(secret));
        expect(error.message).not.toContain(hexEncode(secret));
      }
      return error;
    }
    expect(result.keys.length).toBeGreaterThan(0);
    expect(result.batch.index).toBeGreaterThanOrEqual(0);
    expect(result.batch.index).toBeLessThan(result.batch.size);
    for (const key of result.keys) {
      expect(key.secret.length).toBeGreaterThanOrEqual(1);
      expect(key.secret.length).toBeLessThanOrEqual(128);
      if (key.type === 'hotp') expect(Number.isSafeInteger(key.counter) && key.counter! >= 0).toBe(true);
    }
    return result;
  }

  it('reads what protobufjs writes exactly as protobufjs reads it back', () => {
    fc.assert(
      fc.property(exportPayload, (payload) => {
        expect(parseMigrationUri(uriOf(payload))).toEqual(expectedFrom(payload));
      }),
    );
  });

  it('answers random bytes with a result or MIGRATION_INVALID', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        outcome(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('answers truncated payloads with a result or MIGRATION_INVALID', () => {
    fc.assert(
      fc.property(exportPayload, fc.nat(), (payload, cut) => {
        outcome(payload.subarray(0, cut % payload.length));
      }),
      { numRuns: 500 },
    );
  });

  it('answers payloads with flipped bits with a result or MIGRATION_INVALID, never quoting a key', () => {
    const secrets = [key(1, 16), key(2, 32)];
    const base = encode(Payload, {
      otpParameters: [
        { secret: secrets[0], name: 'alice', issuer: 'ACME', algorithm: 2, digits: 2, type: 1, counter: 2 ** 40 },
        { secret: secrets[1], name: 'bob', type: 2 },
      ],
      version: 1,
      batchSize: 2,
      batchIndex: 1,
      batchId: -123456789,
    });
    fc.assert(
      fc.property(fc.array(fc.nat({ max: base.length * 8 - 1 }), { minLength: 1, maxLength: 4 }), (bits) => {
        const flipped = base.slice();
        for (const bit of bits) flipped[bit >> 3]! ^= 1 << (bit & 7);
        outcome(flipped, secrets);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(exportPayload, fc.nat(), fc.nat({ max: 7 }), (payload, at, bit) => {
        const flipped = payload.slice();
        flipped[at % flipped.length]! ^= 1 << bit;
        outcome(flipped);
      }),
      { numRuns: 500 },
    );
  });
});
