// QR codes of key URIs, read back by zbarimg: SVG, PNG, data: URL and the
// terminal block, for short and long URIs.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatKeyUri, MAX_URI_LENGTH } from '@otpkit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { hasZbar, zbarimg } from '../../../test/support/external.js';
import { qrDataUrl, qrPng, qrSvg, qrTerminal } from '../src/qr/index.js';

const dir = mkdtempSync(join(tmpdir(), 'otpkit-qr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHORT = formatKeyUri({ secret: new Uint8Array(20).fill(1), account: 'alice@example.com', issuer: 'ACME' });
const LONG = formatKeyUri({
  secret: new Uint8Array(128).map((_, i) => i * 7),
  account: `${'a'.repeat(200)}@example.com`,
  issuer: 'Ünïcödé Corporation of Very Long Names'.repeat(3),
  algorithm: 'SHA-512',
  digits: 8,
  periodSeconds: 60,
  image: `https://example.com/${'logo/'.repeat(120)}logo.png`,
});

/** The terminal block as a PBM image: each character cell is two modules, top and bottom. */
function terminalToPbm(block: string): string {
  // Strip ANSI colours; what remains are half blocks, drawn in the dark (foreground) colour.
  const lines = block
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what this removes
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((line) => line.length > 0);
  const rows: number[][] = [];
  for (const line of lines) {
    const chars = [...line];
    rows.push(chars.map((c) => (c === '█' || c === '▀' ? 1 : 0)));
    rows.push(chars.map((c) => (c === '█' || c === '▄' ? 1 : 0)));
  }
  const SCALE = 4;
  const width = rows[0]!.length * SCALE;
  const pixels = rows.flatMap((row) => Array(SCALE).fill(row.flatMap((m) => Array(SCALE).fill(m)).join(' ')));
  return `P1\n${width} ${pixels.length}\n${pixels.join('\n')}\n`;
}

describe.runIf(hasZbar)('QR codes decode with zbarimg to the exact URI', () => {
  it('has a long URI near the cap to test with', () => {
    expect(LONG.length).toBeGreaterThan(1200);
    expect(LONG.length).toBeLessThanOrEqual(MAX_URI_LENGTH);
  });

  it.each([
    ['short', SHORT],
    ['long', LONG],
  ])('%s URI', async (name, uri) => {
    const svg = join(dir, `${name}.svg`);
    writeFileSync(svg, await qrSvg(uri));
    expect(zbarimg(svg)).toBe(uri);

    const png = join(dir, `${name}.png`);
    writeFileSync(png, await qrPng(uri));
    expect(zbarimg(png)).toBe(uri);

    const dataUrl = await qrDataUrl(uri);
    expect(dataUrl.startsWith('data:image/png;base64,')).toBe(true);
    const fromUrl = join(dir, `${name}-url.png`);
    writeFileSync(fromUrl, Buffer.from(dataUrl.slice('data:image/png;base64,'.length), 'base64'));
    expect(zbarimg(fromUrl)).toBe(uri);

    const pbm = join(dir, `${name}.pbm`);
    writeFileSync(pbm, terminalToPbm(await qrTerminal(uri)));
    expect(zbarimg(pbm)).toBe(uri);
  });
});

it('is importable as otpkit/qr, as the README shows', async () => {
  const shipped = await import('otpkit/qr');
  expect(Object.keys(shipped).sort()).toEqual(['qrDataUrl', 'qrPng', 'qrSvg', 'qrTerminal']);
});

it('refuses what no QR code can hold, with a coded error', async () => {
  await expect(qrSvg('x'.repeat(5000))).rejects.toMatchObject({ code: 'OPTION_INVALID' });
  await expect(qrPng('')).rejects.toMatchObject({ code: 'OPTION_INVALID' });
});
