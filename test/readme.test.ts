// The README runs as written: its library quick start and its CLI session.

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

it('the library quick start runs and prints what its comments say', () => {
  const block = /<!-- quick-start[^>]*-->\s*```js\n([\s\S]*?)```/.exec(README)?.[1];
  expect(block).toBeDefined();
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', block!], { cwd: ROOT, encoding: 'utf8' });
  const lines = out.trim().split('\n');
  expect(lines[0]).toMatch(/^otpauth:\/\/totp\/ACME%20Co:alice@example\.com\?secret=[A-Z2-7]{32}&issuer=ACME%20Co$/);
  expect(lines[1]).toMatch(/^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
  expect(out).toMatch(/\{\s+ok: true,\s+counter: (\d+),\s+expectedCounter: \1,\s+delta: 0,\s+expiresAt: \d+\s+\}/);
  expect(out).toMatch(/\{\s+ok: false,\s+reason: 'reused',\s+expectedCounter: \d+,\s+retryAfterSeconds: \d+\s+\}/);
  expect(out).toMatch(/\{ ok: false, reason: 'malformed', expectedCounter: \d+ \}/);
});

it('the conveniences example prints what its comments say', () => {
  const block = /<!-- conveniences[^>]*-->\s*```js\n([\s\S]*?)```/.exec(README)![1]!;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', block], { cwd: ROOT, encoding: 'utf8' });
  expect(out).toBe('58333333 13\ntrue\n996554\nSECRET_TOO_SHORT\n');
});

it('the vault example prints a sealed enrollment and the matched backup code', () => {
  const block = /<!-- example:[^>]*-->\s*```js\n([\s\S]*?)```/.exec(README)![1]!;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', block], { cwd: ROOT, encoding: 'utf8' });
  expect(out).toMatch(/"sealedSecret":"v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+","lastCounter":null\}/);
  expect(out).toContain('false');
  expect(out).toContain('{ ok: true, index: 3 }');
});

it('the CLI session prints what the README shows', () => {
  const session = [...README.matchAll(/^\$ npx otpkit (.+)\n((?:(?!\$ |```).+\n)*)/gm)];
  expect(session.length).toBeGreaterThan(2);
  for (const [, command, expected] of session) {
    const args = command!.split(' ').map((arg) => arg.replace(/^'(.*)'$/, '$1')); // as a shell unquotes them
    const result = spawnSync(
      process.execPath,
      [fileURLToPath(new URL('../packages/otpkit/bin/otpkit.js', import.meta.url)), ...args],
      {
        encoding: 'utf8',
      },
    );
    expect(result.stdout, command).toBe(expected);
  }
});
