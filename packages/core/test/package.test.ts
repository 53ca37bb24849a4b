// What ships: the packed tarball's contents, and that a plain Node project
// that installs it can import every export and type-check against it.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const TSC = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } });

describe('@otpkit/core as packed', () => {
  let dir: string;
  let files: string[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'otpkit-consumer-'));
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], PACKAGE)) as {
      filename: string;
      files: { path: string }[];
    }[];
    files = packed!.files.map((f) => f.path).sort();
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    npm(['install', '--no-audit', '--no-fund', '--offline', join(dir, packed!.filename)], dir);
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds only the built JavaScript, its types, the README and the licence', () => {
    for (const file of files) {
      expect(file).toMatch(/^(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts))$/);
    }
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('scripts/'))).toBe(false);
  });

  it('has no runtime dependencies', () => {
    const manifest = JSON.parse(readFileSync(join(dir, 'node_modules/@otpkit/core/package.json'), 'utf8'));
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
  });

  it('imports from a plain Node script, and keeps internals private', () => {
    const script = `
      const core = await import('@otpkit/core');
      const secret = core.base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
      const totp = core.createTotp({ secret, digits: 8 });
      let internal = 'reachable';
      try { await import('@otpkit/core/dist/hmac.js'); } catch (e) { internal = e.code; }
      console.log(JSON.stringify({ exports: Object.keys(core).sort(), code: totp.generate(59), internal }));
    `;
    const out = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' }),
    );
    expect(out.code).toBe('94287082');
    expect(out.internal).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    expect(out.exports).toEqual(
      expect.arrayContaining([
        'OtpkitError',
        'base32Decode',
        'base32Encode',
        'createHotp',
        'createTotp',
        'formatKeyUri',
        'generateSecret',
        'groupSecret',
        'hexDecode',
        'parseKeyUri',
      ]),
    );
  });

  it('computes SHA-512 codes where WebAssembly is refused (node --jitless has none)', () => {
    const script = `
      const { createTotp } = await import('@otpkit/core');
      const secret = new TextEncoder().encode('1234567890123456789012345678901234567890123456789012345678901234');
      console.log(typeof WebAssembly, createTotp({ secret, algorithm: 'SHA-512', digits: 8 }).generate(20000000000));
    `;
    const out = execFileSync(process.execPath, ['--jitless', '--input-type=module', '-e', script], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'], // node warns on stderr that --jitless turns WebAssembly off
    });
    expect(out.trim()).toBe('undefined 47863826');
  });

  it('type-checks a TypeScript consumer against the shipped declarations', () => {
    writeFileSync(
      join(dir, 'consumer.ts'),
      `import { createTotp, parseKeyUri, type TotpResult, type KeyUri, OtpkitError } from '@otpkit/core';
       const key: KeyUri = parseKeyUri('otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
       const result: TotpResult = createTotp(key).verify('123456', { nowSeconds: 59, window: [1, 0] });
       if (result.ok) { const n: number = result.expiresAt; void n; } else { const r: 'wrong' | 'malformed' | 'reused' = result.reason; void r; }
       // @ts-expect-error: window is a number or a [past, future] pair
       createTotp(key).verify('123456', { nowSeconds: 59, window: 'wide' });
       export const code: string | undefined = new OtpkitError('URI_INVALID', 'x').code;
      `,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          noEmit: true,
          types: [],
        },
        files: ['consumer.ts'],
      }),
    );
    execFileSync(process.execPath, [TSC, '-p', dir], { cwd: dir, encoding: 'utf8' });
  });
});
