// otpkit import: Google Authenticator exports (a real one, and ones protobufjs
// writes from the published schema) to key URIs, in-process and through the
// built binary.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { base32Encode } from '@otpkit/core';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/index.js';

const BIN = fileURLToPath(new URL('../bin/otpkit.js', import.meta.url));

// Exported by Google Authenticator (issue 11); its batch_id is negative.
const REAL =
  'otpauth-migration://offline?data=CjUKEPqlBekzoNEukL7qlsjBCDYSDnBpQHJhc3BiZXJyeXBpGgtyYXNwYmVycnlwaSABKAEwAhABGAEgACjr4JKK%2B%2F%2F%2F%2F%2F8B';

const Payload = protobuf
  .parse(
    `syntax = "proto3";
    message P {
      message O { bytes secret = 1; string name = 2; string issuer = 3; int32 algorithm = 4; int32 digits = 5; int32 type = 6; int64 counter = 7; }
      repeated O otp_parameters = 1; int32 version = 2; int32 batch_size = 3; int32 batch_index = 4; int32 batch_id = 5;
    }`,
  )
  .root.lookupType('P');

function exportUri(fields: Record<string, unknown>): string {
  const payload = Payload.encode(Payload.fromObject({ version: 1, ...fields })).finish();
  return `otpauth-migration://offline?data=${encodeURIComponent(Buffer.from(payload).toString('base64'))}`;
}

const key = (n: number, length: number) => new Uint8Array(length).map((_, i) => (i * 37 + n) & 0xff);

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(argv, {
    stdout: (data) => {
      stdout += typeof data === 'string' ? data : `<${data.length} bytes>`;
    },
    stderr: (text) => {
      stderr += text;
    },
    stdoutIsTerminal: false,
    writePrivateFile: async () => {
      throw new Error('import writes no files');
    },
    nowSeconds: () => 1_750_000_000,
    randomBytes: (length: number) => new Uint8Array(length), // imports draw nothing
    readStdin: async () => '',
    openService: async () => {
      throw new Error('import opens no service');
    },
    serve: async () => {
      throw new Error('import serves nothing');
    },
  });
  return { status, stdout, stderr };
}

describe('otpkit import', () => {
  // What the real export holds, read by protobufjs.
  const real = Payload.toObject(
    Payload.decode(Buffer.from(decodeURIComponent(REAL.slice(REAL.indexOf('data=') + 5)), 'base64')),
  );
  const realUri = `otpauth://totp/raspberrypi:pi@raspberrypi?secret=${base32Encode(real.otpParameters[0].secret)}&issuer=raspberrypi`;

  it('imports a real Google Authenticator export', async () => {
    expect(real.batchId).toBeLessThan(0);
    expect(await run(['import', REAL])).toEqual({ status: 0, stdout: `${realUri}\n`, stderr: '' });
  });

  it('imports it through the built binary too, exit status 0', () => {
    const result = spawnSync(process.execPath, [BIN, 'import', REAL], { encoding: 'utf8' });
    expect(result).toMatchObject({ status: 0, stdout: `${realUri}\n`, stderr: '' });
  });

  it('imports short keys with one warning line each, never showing the key', async () => {
    const short = [key(1, 10), key(2, 1), key(3, 15)];
    const uri = exportUri({
      otpParameters: [
        { secret: key(0, 20), name: 'fine', type: 2 },
        { secret: short[0], name: 'legacy', issuer: 'Old', type: 2 },
        { secret: short[1], name: 'tiny', type: 1, counter: 3 },
        { secret: short[2], name: 'almost', type: 2 },
      ],
    });
    const result = await run(['import', uri]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(
      [
        `otpauth://totp/fine?secret=${base32Encode(key(0, 20))}`,
        `otpauth://totp/Old:legacy?secret=${base32Encode(short[0]!)}&issuer=Old`,
        `otpauth://hotp/tiny?secret=${base32Encode(short[1]!)}&counter=3`,
        `otpauth://totp/almost?secret=${base32Encode(short[2]!)}`,
        '',
      ].join('\n'),
    );
    expect(result.stderr).toBe(
      [
        'otpkit import: warning: the key of entry 2 is 80 bits; RFC 4226 asks for at least 128',
        'otpkit import: warning: the key of entry 3 is 8 bits; RFC 4226 asks for at least 128',
        'otpkit import: warning: the key of entry 4 is 120 bits; RFC 4226 asks for at least 128',
        '',
      ].join('\n'),
    );
    for (const short of [key(1, 10), key(2, 1), key(3, 15)]) {
      expect(result.stderr).not.toContain(base32Encode(short));
    }
  });

  it('says which part of a multi-code export it read', async () => {
    const part = (batchIndex: number, count: number) =>
      exportUri({
        otpParameters: Array.from({ length: count }, (_, i) => ({ secret: key(i, 20), name: `u${i}`, type: 2 })),
        batchSize: 3,
        batchIndex,
        batchId: -1234567,
      });
    const first = await run(['import', part(0, 2)]);
    expect(first.status).toBe(0);
    expect(first.stdout.trim().split('\n')).toHaveLength(2);
    expect(first.stderr).toBe('otpkit import: part 1 of 3 of export -1234567 (2 keys); import the other parts too\n');
    expect((await run(['import', part(2, 1)])).stderr).toBe(
      'otpkit import: part 3 of 3 of export -1234567 (1 key); import the other parts too\n',
    );
    // A single-code export says nothing about parts.
    expect(
      (await run(['import', exportUri({ otpParameters: [{ secret: key(1, 20), name: 'x' }], batchSize: 1 })])).stderr,
    ).toBe('');
  });

  it('prints the entries it can and names the ones a key URI cannot hold, exit 2', async () => {
    const uri = exportUri({
      otpParameters: [
        { secret: key(1, 20), name: 'alice', issuer: 'ACME', type: 2 },
        { secret: key(2, 20), name: 'bob:work', issuer: 'ACME', type: 2 },
        { secret: key(3, 20), name: '', type: 2 },
      ],
    });
    const result = await run(['import', uri]);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe(`otpauth://totp/ACME:alice?secret=${base32Encode(key(1, 20))}&issuer=ACME\n`);
    expect(result.stderr).toBe(
      "otpkit import: entry 2 not imported: account cannot contain ':' (the label separator) [OPTION_INVALID]\n" +
        'otpkit import: entry 3 not imported: account must be a string of 1 to 256 characters [OPTION_INVALID]\n',
    );
  });

  it('refuses MD5, corrupt payloads and bad usage with exit 2 and a reason, printing no key', async () => {
    const md5 = await run(['import', exportUri({ otpParameters: [{ secret: key(1, 20), name: 'x', algorithm: 4 }] })]);
    expect(md5).toEqual({
      status: 2,
      stdout: '',
      stderr:
        'otpkit import: otpauth-migration URI: entry 1 uses MD5, which otpkit does not support (only SHA-1, SHA-256, SHA-512) [MIGRATION_INVALID]\n',
    });

    // The real export cut short inside its batch_id.
    const cut = Buffer.from(decodeURIComponent(REAL.slice(REAL.indexOf('data=') + 5)), 'base64').subarray(0, 70);
    const truncated = await run([
      'import',
      `otpauth-migration://offline?data=${encodeURIComponent(cut.toString('base64'))}`,
    ]);
    expect(truncated).toEqual({
      status: 2,
      stdout: '',
      stderr:
        'otpkit import: otpauth-migration URI: malformed payload at offset 62: a number runs past the end of the payload [MIGRATION_INVALID]\n',
    });
    expect(truncated.stderr).not.toContain(base32Encode(real.otpParameters[0].secret));

    expect((await run(['import'])).status).toBe(2);
    expect((await run(['import', REAL, REAL])).status).toBe(2);
    expect((await run(['import', REAL, '--verbose'])).status).toBe(2);
  });
});
