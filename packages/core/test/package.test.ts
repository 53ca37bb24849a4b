// What ships: the package packed from a clean clone (no dist/ yet, so `prepack`
// must build it), its contents and what they refer to, and that a plain Node
// project that installs it can import every export and type-check against it.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoDanglingReferences } from '../../../test/support/packed.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PACKAGE = join(ROOT, 'packages/core');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_loglevel: 'error' },
  });

// What a fresh clone of packages/core holds: no build output, no build state.
const BUILT = new Set(['dist', 'node_modules', 'tsconfig.tsbuildinfo']);

/** Copies the package as a clone has it (and the base tsconfig it extends) into `dir`; the working tree is left alone. */
function cleanClone(dir: string): string {
  const copy = join(dir, 'clone/packages/core');
  cpSync(PACKAGE, copy, {
    recursive: true,
    filter: (source) => !BUILT.has(basename(source)) && !source.endsWith('.tgz'),
  });
  cpSync(join(ROOT, 'tsconfig.base.json'), join(dir, 'clone/tsconfig.base.json'));
  // The toolchain only (tsc), as `npm ci` would have put it beside the clone.
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'clone/node_modules'), 'dir');
  return copy;
}

describe('@otpkit/core as packed from a clean clone', () => {
  let dir: string;
  let clone: string;
  let files: string[];
  let installed: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'otpkit-consumer-'));
    clone = cleanClone(dir);
    expect(existsSync(join(clone, 'dist'))).toBe(false);
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], clone)) as {
      filename: string;
      files: { path: string }[];
    }[];
    files = packed!.files.map((f) => f.path).sort();
    mkdirSync(join(dir, 'consumer'));
    writeFileSync(
      join(dir, 'consumer/package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    npm(['install', '--no-audit', '--no-fund', '--offline', join(dir, packed!.filename)], join(dir, 'consumer'));
    installed = join(dir, 'consumer/node_modules/@otpkit/core');
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds dist/ itself (prepack), and holds only the built JavaScript, its types, the README and the licence', () => {
    for (const file of files) {
      expect(file).toMatch(/^(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts))$/);
    }
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/hash/sha512-wasm.js');
    expect(files).toContain('LICENSE');
    expect(files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('scripts/'))).toBe(false);
  });

  it('refers to no file it does not ship (no source maps, no missing modules)', () => {
    expectNoDanglingReferences(installed, files);
    const shipped = new Set(files);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    for (const target of Object.values(manifest.exports['.']) as string[]) {
      expect(shipped, `exports names ${target}`).toContain(posix.normalize(target));
    }
  });

  it('has no runtime dependencies', () => {
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
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
      const ring = await core.parseKeyRing('k1:' + 'A'.repeat(43));
      let base64 = 'accepted';
      try { core.base64Decode('A*'); } catch (e) { base64 = e.code; }
      console.log(JSON.stringify({
        exports: Object.keys(core).sort(), code: totp.generate(59), internal,
        ring: { keys: Object.keys(ring), json: JSON.stringify(ring) }, base64,
      }));
    `;
    const out = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: join(dir, 'consumer'),
        encoding: 'utf8',
      }),
    );
    expect(out.code).toBe('94287082');
    expect(out.internal).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    // The ring's keys are in no enumerable property: logging a ring shows ids only.
    expect(out.ring).toEqual({ keys: ['currentId', 'ids'], json: '{"currentId":"k1","ids":["k1"]}' });
    expect(out.base64).toBe('OPTION_INVALID');
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
      cwd: join(dir, 'consumer'),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'], // node warns on stderr that --jitless turns WebAssembly off
    });
    expect(out.trim()).toBe('undefined 47863826');
  });

  it('type-checks a TypeScript consumer against the shipped declarations, which hide the internals', () => {
    const consumer = join(dir, 'consumer');
    writeFileSync(
      join(consumer, 'consumer.ts'),
      `import { base64Decode, createTotp, parseKeyRing, parseKeyUri, type KeyRing, type TotpResult, type KeyUri, OtpkitError } from '@otpkit/core';
       const key: KeyUri = parseKeyUri('otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
       const result: TotpResult = createTotp(key).verify('123456', { nowSeconds: 59, window: [1, 0] });
       if (result.ok) { const n: number = result.expiresAt; void n; } else { const r: 'wrong' | 'malformed' | 'reused' = result.reason; void r; }
       // @ts-expect-error: window is a number or a [past, future] pair
       createTotp(key).verify('123456', { nowSeconds: 59, window: 'wide' });
       export const code: string | undefined = new OtpkitError('URI_INVALID', 'x').code;
       const ring: KeyRing = await parseKeyRing('k1:' + 'A'.repeat(43));
       export const ids: readonly string[] = [ring.currentId, ...ring.ids];
       // @ts-expect-error: the ring's keys are not part of the API
       void ring.keys;
       // @ts-expect-error: a KeyRing comes from parseKeyRing, not from a literal
       export const forged: KeyRing = { currentId: 'k1', ids: ['k1'] };
       export const bytes: Uint8Array = base64Decode('AQID');
       // @ts-expect-error: the error code is the package's own business
       base64Decode('AQID', 'SEAL_INVALID');
      `,
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
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
    execFileSync(process.execPath, [TSC, '-p', consumer], { cwd: consumer, encoding: 'utf8' });
  });
});
