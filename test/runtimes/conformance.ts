// The conformance run that every runtime executes (runtimes.test.ts bundles this
// file once with esbuild and hands the bundle to Node, Node --jitless, Bun, Deno,
// Chromium and workerd). It uses the built package as a consumer would, and
// reports which SHA-512 path the package took there: WebAssembly or the
// JavaScript fallback. No test framework: plain checks, one JSON report.

import {
  base32Decode,
  base32Encode,
  checkBackupCode,
  createHotp,
  createTotp,
  formatKeyUri,
  hashBackupCode,
  OtpkitError,
  openSecret,
  parseKeyRing,
  parseKeyUri,
  sealSecret,
} from '@otpkit/core';
// Internals, for this test only, from the same built files the package entry
// imports (so the same module instances): which SHA-512 path the package
// takes, and the JavaScript fallback run on its own where WebAssembly loads.
import { SHA512_IV, sha512Compress } from '../../packages/core/dist/hash/sha512.js';
import { sha512Wasm } from '../../packages/core/dist/hash/sha512-wasm.js';
import { type HmacKey, hmac, hmacKey, truncatedHmac, truncatedHmacJs } from '../../packages/core/dist/hmac.js';
import { RFC4226_HOTP, RFC4226_SECRET, RFC6238_SECRETS, RFC6238_TOTP } from '../../packages/core/test/vectors.js';

interface Report {
  /** What the runtime says it is, e.g. "bun 1.4.5". */
  runtime: string;
  webAssembly: boolean;
  /** Whether this runtime compiles WebAssembly from bytes: 'yes', or the error it throws. */
  compilesWasm: string;
  /** The path the package's SHA-512 took here. */
  sha512: 'wasm' | 'js';
  passed: number;
  failures: string[];
  /** A secret sealed under a fixed key and nonce: AES-256-GCM must give the same bytes everywhere. */
  sealed: string;
  /** A backup code's keyed hash (HMAC-SHA-256) under the same fixed key. */
  backupCodeHash: string;
}

/** Test keys and values, not secrets: fixed so every runtime must produce the same bytes. */
const FIXED = {
  ring: 'k1:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA', // master key: bytes 1 to 32, base64url
  nonce: Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i),
  owner: 'user:42/totp',
  secret: RFC6238_SECRETS['SHA-1'],
  backupCode: 'ABCDEF-GHJKMN-PQRSTU',
} as const;

type Globals = {
  Bun?: { version: string };
  Deno?: { version: { deno: string } };
  navigator?: { userAgent?: string };
  process?: { versions?: { node?: string } };
};

function runtimeName(): string {
  const g = globalThis as Globals;
  if (g.Bun) return `bun ${g.Bun.version}`;
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  const agent = g.navigator?.userAgent ?? '';
  if (agent === 'Cloudflare-Workers') return 'workerd';
  const chrome = /\bHeadlessChrome\/(\S+)|\bChrome\/(\S+)/.exec(agent);
  if (chrome) return `chromium ${chrome[1] ?? chrome[2]}`;
  if (g.process?.versions?.node) return `node ${g.process.versions.node}`;
  return agent || 'unknown';
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const counterBytes = (counter: number) => {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setUint32(0, Math.floor(counter / 2 ** 32));
  new DataView(bytes.buffer).setUint32(4, counter >>> 0);
  return bytes;
};

/** HMAC-SHA-512 key schedule computed with the JavaScript compression function alone (RFC 2104 §2). */
function javascriptSha512Key(key: Uint8Array): HmacKey {
  const padded = new Uint8Array(128);
  padded.set(key); // the RFC 6238 SHA-512 seed is 64 bytes: no pre-hash
  const state = (mask: number) => {
    const w = new Int32Array(160);
    const view = new DataView(padded.buffer);
    for (let i = 0; i < 32; i++) w[i] = view.getInt32(4 * i) ^ (mask * 0x01010101);
    const s = SHA512_IV.slice();
    sha512Compress(s, w);
    return s;
  };
  const { hash } = hmacKey('SHA-512', key);
  return { hash: { ...hash, compress: sha512Compress }, inner: state(0x36), outer: state(0x5c) };
}

/** The smallest module there is: the magic number and version 1. */
function compilesWasm(): string {
  try {
    new WebAssembly.Module(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00));
    return 'yes';
  } catch (error) {
    return String(error);
  }
}

async function conformance(): Promise<Report> {
  let passed = 0;
  const failures: string[] = [];
  const check = (name: string, actual: unknown, expected: unknown) => {
    const [a, e] = [JSON.stringify(actual), JSON.stringify(expected)];
    if (a === e) passed++;
    else failures.push(`${name}: got ${a}, expected ${e}`);
  };
  const errorCode = async (fn: () => unknown) => {
    try {
      await fn();
      return 'no error';
    } catch (error) {
      return error instanceof OtpkitError ? error.code : String(error);
    }
  };

  // RFC 4226 Appendix D: the HMAC-SHA-1 values, their truncations and the codes.
  const hotp = createHotp({ secret: RFC4226_SECRET });
  for (const v of RFC4226_HOTP) {
    check(`RFC 4226 HMAC ${v.counter}`, hex(hmac('SHA-1', RFC4226_SECRET, counterBytes(v.counter))), v.hmac);
    check(`RFC 4226 truncated ${v.counter}`, truncatedHmac(hmacKey('SHA-1', RFC4226_SECRET), v.counter), v.truncated);
    check(`RFC 4226 HOTP ${v.counter}`, hotp.generate(v.counter), v.hotp);
    check(`RFC 4226 verify ${v.counter}`, hotp.verify(v.hotp, { counter: 0, lookAhead: 9 }).ok, true);
  }

  // RFC 6238 Appendix B: every algorithm, as the package computes them here.
  for (const v of RFC6238_TOTP) {
    const totp = createTotp({ secret: RFC6238_SECRETS[v.algorithm], algorithm: v.algorithm, digits: 8 });
    check(`RFC 6238 ${v.algorithm} T=${v.time}`, totp.generate(v.time), v.totp);
    check(`RFC 6238 ${v.algorithm} T=${v.time} verify`, totp.verify(v.totp, { nowSeconds: v.time }).ok, true);
    check(`RFC 6238 ${v.algorithm} T=${v.time} counter`, totp.counterAt(v.time), Number.parseInt(v.counterHex, 16));
  }

  // SHA-512's JavaScript fallback on its own, in every runtime, whichever path the package took.
  const jsKey = javascriptSha512Key(RFC6238_SECRETS['SHA-512']);
  for (const v of RFC6238_TOTP.filter((t) => t.algorithm === 'SHA-512')) {
    const code = (truncatedHmacJs(jsKey, Math.floor(v.time / 30)) % 1e8).toString().padStart(8, '0');
    check(`SHA-512 JavaScript fallback T=${v.time}`, code, v.totp);
  }
  // And the WebAssembly module, where it loads, against the fallback block by block.
  const wasm = sha512Wasm();
  if (wasm) {
    let seed = 0x9e3779b9;
    for (let round = 0; round < 8; round++) {
      const w = new Int32Array(160); // a block in w[0..31], from a fixed xorshift-multiply sequence
      for (let i = 0; i < 32; i++) {
        seed = Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d);
        w[i] = seed;
      }
      const [a, b] = [SHA512_IV.slice(), SHA512_IV.slice()];
      sha512Compress(a, w.slice());
      wasm.compress(b, w.slice());
      check(`SHA-512 WebAssembly block ${round}`, Array.from(b), Array.from(a));
    }
  }

  // Base32 (RFC 4648 §10 test vectors), tolerant input, and a refusal.
  const base32: [string, string][] = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];
  for (const [text, encoded] of base32) {
    check(`base32 encode "${text}"`, base32Encode(new TextEncoder().encode(text)), encoded);
    check(`base32 decode ${encoded}`, new TextDecoder().decode(base32Decode(encoded)), text);
  }
  check('base32 decode as pasted', new TextDecoder().decode(base32Decode('mzxw 6ytb-oi======')), 'foobar');
  check('base32 refuses a 1', await errorCode(() => base32Decode('MZXW1')), 'BASE32_INVALID');

  // Key URIs both ways.
  const uri = formatKeyUri({ secret: RFC4226_SECRET, account: 'alice@example.com', issuer: 'ACME Co' });
  check(
    'key URI written',
    uri,
    `otpauth://totp/ACME%20Co:alice@example.com?secret=${base32Encode(RFC4226_SECRET)}&issuer=ACME%20Co`,
  );
  const parsed = parseKeyUri(uri);
  check(
    'key URI read',
    [parsed.issuer, parsed.account, hex(parsed.secret)],
    ['ACME Co', 'alice@example.com', hex(RFC4226_SECRET)],
  );
  const sha512Uri = parseKeyUri(
    `otpauth://totp/x?secret=${base32Encode(RFC6238_SECRETS['SHA-512'])}&algorithm=SHA512&digits=8`,
  );
  check('key URI SHA-512 code', createTotp(sha512Uri).generate(59), '90693936');
  check('key URI refused', await errorCode(() => parseKeyUri('otpauth://totp/x?secret=MZXW1')), 'URI_INVALID');

  // The vault: seal and open under WebCrypto's AES-256-GCM, bound to the owner; backup codes.
  const ring = await parseKeyRing(FIXED.ring);
  const owner = { associatedData: FIXED.owner };
  const sealed = await sealSecret(ring, FIXED.secret, { ...owner, randomBytes: () => FIXED.nonce.slice() });
  const opened = await openSecret(ring, sealed, owner);
  check('vault round trip', [hex(opened.secret), opened.keyId, opened.needsReseal], [hex(FIXED.secret), 'k1', false]);
  const elsewhere = { associatedData: 'user:43/totp' };
  check('vault other owner', await errorCode(() => openSecret(ring, sealed, elsewhere)), 'SEAL_INVALID');
  const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.at(-1);
  check('vault flipped bit', await errorCode(() => openSecret(ring, flipped, owner)), 'SEAL_INVALID');
  const backupCodeHash = hashBackupCode(ring, FIXED.backupCode);
  const typed = FIXED.backupCode.toLowerCase().replaceAll('-', ' ');
  check('backup code matches', checkBackupCode(ring, typed, ['x', backupCodeHash]), { ok: true, index: 1 });

  return {
    runtime: runtimeName(),
    webAssembly: typeof WebAssembly === 'object',
    compilesWasm: compilesWasm(),
    sha512: wasm ? 'wasm' : 'js',
    passed,
    failures,
    sealed,
    backupCodeHash,
  };
}

export type { Report };
export { conformance, FIXED };
