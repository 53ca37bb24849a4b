// The otpkit CLI: in-process for every command and failure, then the built
// binary itself against oathtool, pyotp and passlib.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { base32Decode, base32Encode, createHotp, createTotp, parseKeyRing } from '@otpkit/core';
import protobuf from 'protobufjs';
import { afterAll, describe, expect, it } from 'vitest';
import { hasOathtool, hasPython, hasZbar, oathtool, python, zbarimg } from '../../../test/support/external.js';
import { runCli } from '../src/cli/index.js';
import type { Opened } from '../src/cli/io.js';

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // RFC 4226's "12345678901234567890"
const NOW = 1_750_000_000;
const BIN = fileURLToPath(new URL('../bin/otpkit.js', import.meta.url));

async function run(argv: string[], stdin = '', terminal = false, opened?: Opened) {
  let stdout = '';
  let stderr = '';
  const files = new Map<string, string | Uint8Array>();
  const status = await runCli(argv, {
    stdout: (data) => {
      stdout += typeof data === 'string' ? data : `<${data.length} bytes>`;
    },
    stderr: (text) => {
      stderr += text;
    },
    stdoutIsTerminal: terminal,
    writePrivateFile: async (path, data) => {
      files.set(path, data);
    },
    nowSeconds: () => NOW,
    randomBytes: (length: number) => new Uint8Array(randomBytes(length)),
    readStdin: async () => stdin,
    openService: async () => {
      if (!opened) throw new Error('this test opens no service');
      return opened;
    },
    serve: async () => {
      throw new Error('this test serves nothing');
    },
  });
  return { status, stdout, stderr, files };
}

function bin(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('otpkit code', () => {
  it('prints the TOTP code now or at --time, with any hash, digits and period', async () => {
    expect(await run(['code', '--secret', SECRET, '--time', '59', '--digits', '8'])).toMatchObject({
      status: 0,
      stdout: '94287082\n',
      stderr: '',
    });
    const totp = createTotp({ secret: new TextEncoder().encode('12345678901234567890') });
    expect((await run(['code', '--secret', SECRET])).stdout).toBe(`${totp.generate(NOW)}\n`);
    expect(
      (await run(['code', '--secret', SECRET.toLowerCase(), '--time', '59', '--algorithm', 'sha256'])).status,
    ).toBe(0);
    expect((await run(['code', '--secret', SECRET, '--period', '60', '--time', '119'])).stdout).toBe('287082\n');
  });

  it('prints the HOTP code at --counter, and reads keys from a URI or stdin', async () => {
    expect((await run(['code', '--secret', SECRET, '--counter', '3'])).stdout).toBe('969429\n');
    expect((await run(['code', '--uri', `otpauth://hotp/x?secret=${SECRET}&counter=4`])).stdout).toBe('338314\n');
    expect((await run(['code', '--uri', `otpauth://totp/x?secret=${SECRET}&digits=8`, '--time', '59'])).stdout).toBe(
      '94287082\n',
    );
    expect((await run(['code', '--secret', '-', '--time', '59'], ` ${SECRET}\n`)).stdout).toBe('287082\n');
  });

  it('prints Steam codes with --encoder steam', async () => {
    const { stdout } = await run(['code', '--secret', SECRET, '--encoder', 'steam']);
    expect(stdout).toMatch(/^[23456789BCDFGHJKMNPQRTVWXY]{5}\n$/);
  });

  it.each([
    [['code'], 'give the key'],
    [['code', '--secret', 'GEZDGNBVGY3TQOJ!GEZDGNBVGY3TQOJQ'], 'position 16'],
    [['code', '--secret', SECRET, '--digits', '12'], 'digits'],
    [['code', '--secret', SECRET, '--algorithm', 'md5'], 'algorithm'],
    [['code', '--secret', SECRET, '--time', '-5'], '--time'],
    [['code', '--secret', SECRET, '--period', '0'], 'period'],
    [['code', '--secret', SECRET, '--bogus'], 'unknown option'],
    [['code', '--secret', SECRET, 'extra'], 'expected 0 arguments'],
    [['code', '--uri', `otpauth://totp/x?secret=${SECRET}`, '--digits', '8'], 'drop --digits'],
    [['code', '--uri', 'otpauth://totp/x'], 'secret is missing'],
    [['nonsense'], 'unknown command'],
  ])('exits 2 on %j with a reason that never shows the key', async (argv, reason) => {
    const { status, stdout, stderr } = await run(argv);
    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(reason);
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
    for (const arg of argv.filter((a) => a.length > 8 && !a.startsWith('--'))) expect(stderr).not.toContain(arg);
    expect(stderr).not.toMatch(/GEZDGNBV|JBSWY3DP/i);
  });

  it('reads keys under 128 bits, as every authenticator app does, with one warning line and the same exit status', async () => {
    // Google's Key URI documentation's own example key: 80 bits.
    const uri = 'otpauth://totp/X:y?secret=JBSWY3DPEHPK3PXP&issuer=X';
    const warning = 'warning: the key is 80 bits; RFC 4226 asks for at least 128\n';
    const runs = {
      code: await run(['code', '--uri', uri, '--time', '59']),
      codeSecret: await run(['code', '--secret', 'JBSWY3DPEHPK3PXP', '--time', '59']),
      verify: await run(['verify', '996554', '--uri', uri, '--time', '59']),
      rejected: await run(['verify', '000000', '--uri', uri, '--time', '59']),
      inspect: await run(['inspect', uri]),
      qr: await run(['qr', uri, '--format', 'svg']),
      uri: await run(['uri', '--secret', 'JBSWY3DPEHPK3PXP', '--account', 'y']),
    };
    expect(runs.code).toMatchObject({ status: 0, stdout: '996554\n', stderr: `otpkit code: ${warning}` });
    expect(runs.codeSecret).toMatchObject({ status: 0, stdout: '996554\n', stderr: `otpkit code: ${warning}` });
    expect(runs.verify).toMatchObject({ status: 0, stderr: `otpkit verify: ${warning}` });
    expect(runs.rejected).toMatchObject({ status: 1, stderr: `otpkit verify: ${warning}` });
    expect(runs.inspect).toMatchObject({ status: 0, stderr: `otpkit inspect: ${warning}` });
    expect(JSON.parse(runs.inspect.stdout).secret).toBe('JBSWY3DPEHPK3PXP');
    expect(runs.qr).toMatchObject({ status: 0, stderr: `otpkit qr: ${warning}` });
    expect(runs.uri).toMatchObject({
      status: 0,
      stdout: 'otpauth://totp/y?secret=JBSWY3DPEHPK3PXP\n',
      stderr: `otpkit uri: ${warning}`,
    });
    expect((await run(['code', '--secret', SECRET, '--time', '59'])).stderr).toBe(''); // 160 bits: no warning
    // What issues keys keeps the floor.
    expect((await run(['secret', '--bytes', '10'])).status).toBe(2);
  });
});

describe('otpkit verify', () => {
  const hotp = createHotp({ secret: new TextEncoder().encode('12345678901234567890') });
  const T = Math.floor(NOW / 30);

  it('exits 0 for a valid code and prints counter and delta as JSON', async () => {
    const result = await run(['verify', hotp.generate(T - 1), '--secret', SECRET, '--json']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: true,
      counter: T - 1,
      expectedCounter: T,
      delta: -1,
      expiresAt: T * 30,
    });
    // People type codes with a space or a hyphen in the middle.
    const [a, b] = [hotp.generate(T).slice(0, 3), hotp.generate(T).slice(3)];
    expect((await run(['verify', `${a}-${b}`, '--secret', SECRET])).status).toBe(0);
    expect((await run(['verify', `${a} ${b}`, '--secret', SECRET])).status).toBe(0);
    expect((await run(['verify', hotp.generate(T), '--secret', SECRET])).stdout).toBe(`valid: counter ${T}, delta 0\n`);
  });

  it('exits 1 for wrong, reused and malformed codes, with the reason', async () => {
    const code = hotp.generate(T);
    const cases: [string[], string][] = [
      [['verify', hotp.generate(T + 2), '--secret', SECRET], 'wrong'],
      [['verify', hotp.generate(T + 3), '--secret', SECRET, '--window', '2'], 'wrong'],
      [['verify', code, '--secret', SECRET, '--after-counter', String(T)], 'reused'],
      [['verify', '１２３４５６', '--secret', SECRET], 'malformed'],
      [['verify', '12345', '--secret', SECRET], 'malformed'],
      [['verify', '--secret', SECRET, '--', '-12345'], 'malformed'],
    ];
    for (const [argv, reason] of cases) {
      const { status, stdout } = await run(['verify', '--json', ...argv.slice(1)]);
      expect(status, argv.join(' ')).toBe(1);
      expect(JSON.parse(stdout)).toMatchObject({ ok: false, reason, expectedCounter: T });
    }
    expect((await run(['verify', hotp.generate(T + 2), '--secret', SECRET])).stdout).toBe('rejected: wrong\n');
  });

  it('verifies HOTP with --counter and a --window look-ahead, and resists misuse', async () => {
    expect(
      JSON.parse(
        (await run(['verify', '969429', '--secret', SECRET, '--counter', '1', '--window', '3', '--json'])).stdout,
      ),
    ).toEqual({
      ok: true,
      counter: 3,
      expectedCounter: 1,
      delta: 2,
    });
    expect((await run(['verify', '969429', '--secret', SECRET, '--counter', '1'])).status).toBe(1);
    expect((await run(['verify', '969429', '--secret', SECRET, '--counter', '1', '--after-counter', '0'])).status).toBe(
      2,
    );
    expect((await run(['verify', '--secret', SECRET])).status).toBe(2);
    expect((await run(['verify', '969429', '--secret', SECRET, '--window', '11'])).status).toBe(2);
  });
});

describe('otpkit secret, uri, inspect', () => {
  it('secret prints canonical base32 of the asked size', async () => {
    const { status, stdout } = await run(['secret']);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^[A-Z2-7]{32}\n$/);
    expect((await run(['secret', '--bytes', '32'])).stdout).toMatch(/^[A-Z2-7]{52}\n$/);
    expect((await run(['secret', '--bytes', '8'])).status).toBe(2);
  });

  it('uri renders and inspect reads back', async () => {
    const { stdout } = await run([
      'uri',
      '--secret',
      SECRET,
      '--account',
      'alice@example.com',
      '--issuer',
      'ACME Co',
      '--digits',
      '8',
    ]);
    expect(stdout).toBe(`otpauth://totp/ACME%20Co:alice@example.com?secret=${SECRET}&issuer=ACME%20Co&digits=8\n`);
    const inspected = await run(['inspect', stdout.trim()]);
    expect(JSON.parse(inspected.stdout)).toEqual({
      type: 'totp',
      issuer: 'ACME Co',
      account: 'alice@example.com',
      secret: SECRET,
      algorithm: 'SHA-1',
      digits: 8,
      encoder: 'decimal',
      period: 30,
      counter: null,
      image: null,
    });
    const hotp = await run(['uri', '--secret', SECRET, '--account', 'a', '--counter', '7']);
    expect(JSON.parse((await run(['inspect', hotp.stdout.trim()])).stdout)).toMatchObject({
      type: 'hotp',
      counter: 7,
      period: null,
    });
    expect((await run(['uri', '--secret', SECRET])).status).toBe(2);
    expect((await run(['inspect', 'otpauth://totp/A:x?secret=GEZDGNBV&issuer=B'])).status).toBe(2);
  });
});

describe('otpkit qr, import, keys', () => {
  const URI = `otpauth://totp/ACME:alice?secret=${SECRET}&issuer=ACME`;

  it('qr draws for the terminal on a terminal, SVG otherwise, PNG on request', async () => {
    expect((await run(['qr', URI], '', true)).stdout).toContain('\u2588');
    expect((await run(['qr', URI])).stdout).toMatch(/^<svg /);
    expect((await run(['qr', URI, '--format', 'png'])).stdout).toMatch(/^<\d+ bytes>$/);
    const toFile = await run(['qr', URI, '--format', 'png', '--out', 'key.png'], '', true);
    expect(toFile.status).toBe(0);
    expect(toFile.files.get('key.png')).toBeInstanceOf(Uint8Array);
  });

  it('qr refuses a PNG to a terminal, an unknown format and a broken URI', async () => {
    expect((await run(['qr', URI, '--format', 'png'], '', true)).stderr).toContain('--out FILE');
    expect((await run(['qr', URI, '--format', 'gif'])).status).toBe(2);
    const broken = await run(['qr', `otpauth://totp/x?secret=${SECRET}&digits=4`]);
    expect(broken.status).toBe(2);
    expect(broken.stderr).not.toContain(SECRET);
  });

  it('import turns a Google Authenticator export into key URIs', async () => {
    const Payload = GaPayload;
    const secret = new TextEncoder().encode('12345678901234567890');
    const payload = Payload.encode(
      Payload.fromObject({
        otpParameters: [
          { secret, name: 'alice', issuer: 'ACME', algorithm: 1, digits: 1, type: 2 },
          { secret, name: 'bob', algorithm: 2, digits: 2, type: 1, counter: 5 },
        ],
      }),
    ).finish();
    const uri = `otpauth-migration://offline?data=${encodeURIComponent(Buffer.from(payload).toString('base64'))}`;
    expect(await run(['import', uri])).toMatchObject({
      status: 0,
      stdout: `otpauth://totp/ACME:alice?secret=${SECRET}&issuer=ACME\notpauth://hotp/bob?secret=${SECRET}&algorithm=SHA256&digits=8&counter=5\n`,
    });
    expect((await run(['import', 'otpauth-migration://offline?data=%%'])).status).toBe(2);
  });

  it('keys generate prints an entry that parses as a key ring, named by time unless --id', async () => {
    const { stdout } = await run(['keys', 'generate']);
    expect(stdout).toMatch(/^k20250615T150640:[A-Za-z0-9_-]{43}\n$/);
    expect((await parseKeyRing(stdout.trim())).currentId).toBe('k20250615T150640');
    expect((await run(['keys', 'generate', '--id', 'k2'])).stdout).toMatch(/^k2:/);
    expect((await run(['keys', 'generate', '--id', 'bad.id'])).status).toBe(2);
    expect((await run(['keys', 'spin'])).status).toBe(2);
  });
});

describe('the built binary', () => {
  it('prints help and exits 0', () => {
    const result = bin(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('otpkit verify CODE');
  });

  it('computes codes, reads stdin and uses exit codes 0, 1, 2', () => {
    expect(bin(['code', '--secret', SECRET, '--time', '59', '--digits', '8'])).toMatchObject({
      status: 0,
      stdout: '94287082\n',
    });
    expect(bin(['code', '--secret', '-', '--counter', '0'], SECRET)).toMatchObject({ status: 0, stdout: '755224\n' });
    expect(bin(['verify', '000000', '--secret', SECRET, '--time', '59']).status).toBe(1);
    const bad = bin(['code', '--secret', 'GEZDGNBVGY3TQOJ0GEZDGNBVGY3TQOJQ']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).not.toContain('GEZDGNBV');
  });
});

describe.runIf(hasZbar)('the binary draws QR codes a scanner reads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otpkit-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const URI = `otpauth://totp/Big%20Co:alice@example.com?secret=${SECRET}&issuer=Big%20Co&algorithm=SHA256`;

  it.each(['png', 'svg'])('as %s, to a file only its owner can read', (format) => {
    const out = join(dir, `key.${format}`);
    writeFileSync(out, 'old and world-readable', { mode: 0o644 });
    expect(bin(['qr', URI, '--format', format, '--out', out]).status).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(zbarimg(out)).toBe(URI);
  });

  it('of a short (80-bit) key too, with the warning', () => {
    const short = 'otpauth://totp/X:y?secret=JBSWY3DPEHPK3PXP&issuer=X';
    const out = join(dir, 'short.png');
    const result = bin(['qr', short, '--format', 'png', '--out', out]);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('otpkit qr: warning: the key is 80 bits; RFC 4226 asks for at least 128\n');
    expect(zbarimg(out)).toBe(short);
  });
});

describe.runIf(hasOathtool)('the binary against oathtool', () => {
  it('agrees on keys of 1 to 15 bytes too', () => {
    for (const bytes of [1, 3, 5, 10, 15]) {
      const secret = base32Encode(crypto.getRandomValues(new Uint8Array(bytes)));
      const theirs = oathtool(['--totp', '-N', '@1750000000', '-b', secret]);
      const ours = bin(['code', '--secret', secret, '--time', '1750000000']);
      expect(ours.stdout.trim(), `${bytes} bytes`).toBe(theirs);
      expect(ours.stderr).toContain(`the key is ${bytes * 8} bits`);
      expect(bin(['verify', theirs, '--secret', secret, '--time', '1750000000']).status).toBe(0);
    }
  });

  it('accepts what oathtool generates and generates what oathtool accepts', () => {
    for (const [mode, algorithm, digits, period, time] of [
      ['sha1', 'sha1', 6, 30, 1_111_111_109],
      ['sha256', 'sha256', 8, 60, 2_000_000_000],
      ['sha512', 'sha512', 7, 15, 20_000_000_000],
    ] as const) {
      const secret = base32Encode(crypto.getRandomValues(new Uint8Array(20)));
      const totp = [`--totp=${mode}`, '-d', String(digits), '-s', `${period}s`, '-N', `@${time}`];
      const theirs = oathtool([...totp, '-b', secret]);
      const options = [
        '--secret',
        secret,
        '--algorithm',
        algorithm,
        '--digits',
        String(digits),
        '--period',
        String(period),
        '--time',
        String(time),
      ];
      const verified = bin(['verify', theirs, ...options, '--json']);
      expect(verified.status).toBe(0);
      expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, counter: Math.floor(time / period), delta: 0 });
      const ours = bin(['code', ...options]).stdout.trim();
      expect(ours).toBe(theirs);
      // oathtool -w N prints the matching position, or fails.
      expect(oathtool([...totp, '-w', '0', '-b', secret, ours])).toBe('0');
      expect(bin(['verify', theirs, ...options, '--after-counter', String(Math.floor(time / period))]).stdout).toBe(
        'rejected: reused\n',
      );
    }
  });
});

/** Google Authenticator's migration payload, as far as these tests write it (protobufjs, from the published schema). */
const GaPayload = protobuf
  .parse(
    `syntax = "proto3"; message P { message O { bytes secret = 1; string name = 2; string issuer = 3; int32 algorithm = 4; int32 digits = 5; int32 type = 6; int64 counter = 7; } repeated O otp_parameters = 1; }`,
  )
  .root.lookupType('P');

describe.runIf(hasPython)('the binary against pyotp and passlib', () => {
  it('agrees on short keys: codes, and URIs read both ways', () => {
    for (const bytes of [1, 10, 15]) {
      const secret = base32Encode(crypto.getRandomValues(new Uint8Array(bytes)));
      const time = 1_750_000_123;
      const common = { secret, algorithm: 'SHA-1', digits: 6, period: 30, time };
      const [py, pass, pyUri] = python<string>([
        { op: 'pyotp.totp', ...common },
        { op: 'passlib.totp', ...common },
        { op: 'pyotp.uri', type: 'totp', account: 'bob', issuer: 'Old Co', ...common },
      ]);
      const ours = bin(['code', '--secret', secret, '--time', String(time)]).stdout.trim();
      expect(py).toEqual({ ok: ours });
      expect(pass).toEqual({ ok: ours });
      const theirUri = (pyUri as { ok: string }).ok;
      expect(bin(['code', '--uri', theirUri, '--time', String(time)]).stdout.trim()).toBe(ours);
      expect(JSON.parse(bin(['inspect', theirUri]).stdout).secret).toBe(secret);
      const uriOurs = bin(['uri', '--secret', secret, '--account', 'alice']).stdout.trim();
      const [pyRead, passRead] = python<unknown>([
        { op: 'pyotp.parse', uri: uriOurs, time },
        { op: 'passlib.parse', uri: uriOurs, time },
      ]);
      expect(pyRead).toMatchObject({ ok: { code: ours } });
      expect(passRead).toMatchObject({ ok: { code: ours } });
      // A Google Authenticator export of the same short key, imported, reads the same in pyotp and passlib.
      const exported = `otpauth-migration://offline?data=${encodeURIComponent(
        Buffer.from(
          GaPayload.encode(
            GaPayload.fromObject({ otpParameters: [{ secret: base32Decode(secret), name: 'carol', type: 2 }] }),
          ).finish(),
        ).toString('base64'),
      )}`;
      const imported = bin(['import', exported]);
      expect(imported.stderr).toContain(`the key of entry 1 is ${bytes * 8} bits`);
      const [pyImported, passImported] = python<unknown>([
        { op: 'pyotp.parse', uri: imported.stdout.trim(), time },
        { op: 'passlib.parse', uri: imported.stdout.trim(), time },
      ]);
      expect(pyImported).toMatchObject({ ok: { code: ours, account: 'carol' } });
      expect(passImported).toMatchObject({ ok: { code: ours, account: 'carol' } });
    }
  });

  it('agrees on codes and URIs both ways', () => {
    const secret = base32Encode(crypto.getRandomValues(new Uint8Array(32)));
    const time = 1_750_000_123;
    const key = ['--secret', secret, '--algorithm', 'sha256', '--digits', '8', '--period', '45'];
    const options = [...key, '--time', String(time)];
    const ours = bin(['code', ...options]).stdout.trim();
    const common = { secret, algorithm: 'SHA-256', digits: 8, period: 45, time };
    const uriOurs = bin(['uri', ...key, '--account', 'alice', '--issuer', 'ACME']).stdout.trim();
    const [py, pass, pyRead, passRead, pyUri] = python<unknown>([
      { op: 'pyotp.totp', ...common },
      { op: 'passlib.totp', ...common },
      { op: 'pyotp.parse', uri: uriOurs, time },
      { op: 'passlib.parse', uri: uriOurs, time },
      { op: 'pyotp.uri', type: 'totp', account: 'bob', issuer: 'Big Co', ...common },
    ]);
    expect(py).toEqual({ ok: ours });
    expect(pass).toEqual({ ok: ours });
    expect(pyRead).toMatchObject({ ok: { code: ours, account: 'alice', issuer: 'ACME' } });
    expect(passRead).toMatchObject({ ok: { code: ours, account: 'alice', issuer: 'ACME' } });
    const theirUri = (pyUri as { ok: string }).ok;
    expect(bin(['code', '--uri', theirUri, '--time', String(time)]).stdout.trim()).toBe(ours);
    expect(JSON.parse(bin(['inspect', theirUri]).stdout)).toMatchObject({
      account: 'bob',
      issuer: 'Big Co',
      secret,
      algorithm: 'SHA-256',
      digits: 8,
      period: 45,
    });
    expect(bin(['verify', ours, '--uri', theirUri, '--time', String(time + 45)]).status).toBe(0);
  });
});
