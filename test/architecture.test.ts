// Layers only point down (../shared/STYLE.md): this walks every import and
// fails on one that points up, and keeps @otpkit/core free of Node built-ins.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

describe('@otpkit/core', () => {
  const files = sources('packages/core/src');
  it('imports nothing but itself', () => {
    for (const file of files) {
      for (const spec of imports(file)) expect(spec, `${file} imports ${spec}`).toMatch(/^\.\.?\//);
    }
  });
  it('uses no Node globals, no real clock and no Math.random', () => {
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const banned of [/\bBuffer\b/, /\bprocess\./, /\brequire\(/, /Date\.now/, /new Date\(/, /Math\.random/]) {
        expect(text, `${file} uses ${banned}`).not.toMatch(banned);
      }
    }
  });
});

describe('otpkit layers', () => {
  // Lower layers first; a file may import only from its own layer or below.
  const LAYERS = ['qr', 'store', 'service', 'http', 'cli', 'main'];
  const layerOf = (file: string) => LAYERS.indexOf(relative('packages/otpkit/src', file).split('/')[0]!);

  it('every file belongs to a layer', () => {
    for (const file of sources('packages/otpkit/src')) expect(layerOf(file), file).toBeGreaterThanOrEqual(0);
  });

  it('no import points up', () => {
    for (const file of sources('packages/otpkit/src')) {
      for (const spec of imports(file).filter((s) => s.startsWith('.'))) {
        const target = join(file, '..', spec);
        expect(layerOf(target), `${file} imports ${spec}`).toBeLessThanOrEqual(layerOf(file));
      }
    }
  });

  it('only main/ reads the clock, the environment or argv', () => {
    for (const file of sources('packages/otpkit/src').filter((f) => layerOf(f) < LAYERS.indexOf('main'))) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      expect(text, file).not.toMatch(/Date\.now|process\.(env|argv|stdin|stdout|exit)/);
    }
  });

  it('only main/ draws randomness: ids, tokens, salts, secrets, nonces and backup codes come from the injected source', () => {
    for (const file of sources('packages/otpkit/src').filter((f) => layerOf(f) < LAYERS.indexOf('main'))) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      expect(text, file).not.toMatch(/randomUUID|randomBytes\(|getRandomValues|randomInt|Math\.random|webcrypto/);
      // @otpkit/core's generators fall back to Web Crypto when given no source: each call here gives one.
      for (const call of text.matchAll(
        /\b(generateSecret|generateBackupCodes|generateKeyRingEntry|sealSecret)\(([^;]*?)\);/gs,
      )) {
        expect(call[2], `${file}: ${call[1]}`).toMatch(/randomBytes/);
      }
    }
  });
});
