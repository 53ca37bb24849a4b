// Programs nobody here wrote, for interoperability tests: oathtool, pyotp and
// passlib under Debian's Python, and zbarimg to read QR codes. CI installs them (.ci/run) and sets
// OTPKIT_REQUIRE_INTEROP=1, so there a missing tool fails instead of skipping.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';
const REQUIRED = process.env.OTPKIT_REQUIRE_INTEROP === '1';

function available(check: () => boolean, what: string, install: string): boolean {
  let ok = false;
  try {
    ok = check();
  } catch {
    ok = false;
  }
  if (!ok) {
    if (REQUIRED) throw new Error(`${what} is required (OTPKIT_REQUIRE_INTEROP=1) but missing: ${install}`);
    console.warn(`\n!!! SKIPPING ${what} interop tests: not installed (${install}) !!!\n`);
  }
  return ok;
}

const hasOathtool = available(
  () => spawnSync('oathtool', ['--version']).status === 0,
  'oathtool',
  'apt-get install oathtool',
);
const hasPython = available(
  () => existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import pyotp, passlib.totp']).status === 0,
  'pyotp/passlib',
  'apt-get install python3-pyotp python3-passlib',
);

const hasZbar = available(
  () => spawnSync('zbarimg', ['--version']).status === 0 && spawnSync('rsvg-convert', ['--version']).status === 0,
  'zbarimg/rsvg-convert',
  'apt-get install zbar-tools librsvg2-bin',
);

/** Debian's Chromium, for the web UI's end-to-end test (driven by playwright-core). */
const CHROMIUM = '/usr/bin/chromium';
/** Debian's Chromium as the tests run it: no sandbox (CI is root), nothing off the machine. */
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
];
const hasChromium = available(
  () => existsSync(CHROMIUM) && spawnSync(CHROMIUM, ['--version']).status === 0,
  'chromium',
  'apt-get install chromium',
);

/** What zbarimg reads from an image file (SVG is rasterised by librsvg first). */
function zbarimg(file: string): string {
  let image = file;
  if (file.endsWith('.svg')) {
    image = `${file}.png`;
    execFileSync('rsvg-convert', ['-w', '800', file, '-o', image]);
  }
  return execFileSync('zbarimg', ['--raw', '-q', image], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).replace(/\n$/, '');
}

function oathtool(args: string[]): string {
  return execFileSync('oathtool', args, { encoding: 'utf8' }).trim();
}

type Answer<T> = { ok: T } | { error: string };

/** Asks pyotp/passlib many questions in one Python process (see interop.py). */
function python<T = unknown>(calls: Record<string, unknown>[]): Answer<T>[] {
  const script = fileURLToPath(new URL('./interop.py', import.meta.url));
  const out = execFileSync(PYTHON, [script], { input: JSON.stringify(calls), encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out) as Answer<T>[];
}

export type { Answer };
export { CHROMIUM, CHROMIUM_FLAGS, hasChromium, hasOathtool, hasPython, hasZbar, oathtool, python, zbarimg };
