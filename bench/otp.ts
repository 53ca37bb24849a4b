// npm run bench: otpkit against its peers (otplib, otpauth, speakeasy) and
// three raw HMAC baselines, in one process, in interleaved rounds; prints the
// median ops/s of each and the ratios. BENCH_ROUNDS and BENCH_MS size the run.

import { createHash, createHmac, hash as oneShotHash } from 'node:crypto';
import { type Algorithm, base32Decode, base32Encode, createTotp } from '@otpkit/core';
import * as OTPAuth from 'otpauth';
import { generateSync, verifySync } from 'otplib';
import speakeasy from 'speakeasy';
import { hmacKey, truncatedHmac } from '../packages/core/src/hmac.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROUND_MS = Number(process.env.BENCH_MS ?? 40);
const NOW_SECONDS = 1_750_000_000; // a fixed time: every run compares the same codes
const PERIOD_SECONDS = 30;
const KEY_POOL = 256; // distinct users' keys cycled through in the fresh-key scenario

const HASHES: { algorithm: Algorithm; node: 'sha1' | 'sha256' | 'sha512'; keyBytes: number; blockBytes: number }[] = [
  { algorithm: 'SHA-1', node: 'sha1', keyBytes: 20, blockBytes: 64 },
  { algorithm: 'SHA-256', node: 'sha256', keyBytes: 32, blockBytes: 64 },
  { algorithm: 'SHA-512', node: 'sha512', keyBytes: 64, blockBytes: 128 },
];
type HashInfo = (typeof HASHES)[number];
type Operation = 'generate' | 'verify valid' | 'verify wrong';
type KeyMode = 'reused key' | 'fresh key';
const OPERATIONS: Operation[] = ['generate', 'verify valid', 'verify wrong'];
const KEY_MODES: KeyMode[] = ['reused key', 'fresh key'];

// One implementation: given the hash, key mode and operation, a function of the call index.
type Subject = (hash: HashInfo, mode: KeyMode, op: Operation) => (i: number) => unknown;

interface Fixture {
  secrets: string[]; // base32, as a server stores or receives them
  valid: string[]; // the code at NOW_SECONDS for each secret
  wrong: string[]; // a code that matches nowhere in the ±1 window
}

function fixture(hash: HashInfo): Fixture {
  const secrets: string[] = [];
  const valid: string[] = [];
  const wrong: string[] = [];
  for (let i = 0; i < KEY_POOL; i++) {
    const secret = crypto.getRandomValues(new Uint8Array(hash.keyBytes));
    const totp = createTotp({ secret, algorithm: hash.algorithm });
    const code = totp.generate(NOW_SECONDS);
    let bad = code;
    for (let n = 0; totp.verify(bad, { nowSeconds: NOW_SECONDS }).ok; n++) {
      bad = String((Number(code) + 1 + n) % 1_000_000).padStart(6, '0');
    }
    secrets.push(base32Encode(secret));
    valid.push(code);
    wrong.push(bad);
  }
  return { secrets, valid, wrong };
}
const FIXTURES = new Map(HASHES.map((h) => [h.algorithm, fixture(h)]));
const fx = (hash: HashInfo) => FIXTURES.get(hash.algorithm)!;
const pick = (mode: KeyMode, i: number) => (mode === 'reused key' ? 0 : i % KEY_POOL);
const codeFor = (f: Fixture, op: Operation, k: number) => (op === 'verify wrong' ? f.wrong[k]! : f.valid[k]!);

// RFC 4226 §5.3 dynamic truncation of a digest, for the baselines.
function truncate(digest: Uint8Array): string {
  const o = digest[digest.length - 1]! & 0xf;
  const v = ((digest[o]! & 0x7f) << 24) | (digest[o + 1]! << 16) | (digest[o + 2]! << 8) | digest[o + 3]!;
  return String(v % 1_000_000).padStart(6, '0');
}
function counterBytes(counter: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(counter / 0x100000000), 0);
  b.writeUInt32BE(counter >>> 0, 4);
  return b;
}
const T = Math.floor(NOW_SECONDS / PERIOD_SECONDS);
const candidates = (op: Operation) => (op === 'generate' ? [T] : [T - 1, T, T + 1]);
// The baselines check every candidate, as a constant-time verifier must.
function baseline(codeAt: (key: number, counter: number) => string): Subject {
  return (hash, mode, op) => {
    const f = fx(hash);
    const counters = candidates(op);
    return (i) => {
      const k = pick(mode, i);
      const code = codeFor(f, op, k);
      let ok = false;
      for (const c of counters) ok = codeAt(k, c) === code || ok;
      return ok;
    };
  };
}

const SUBJECTS: Record<string, Subject> = {
  otpkit(hash, mode, op) {
    const f = fx(hash);
    const reused = createTotp({ secret: base32Decode(f.secrets[0]!), algorithm: hash.algorithm });
    return (i) => {
      const k = pick(mode, i);
      const totp =
        mode === 'reused key' ? reused : createTotp({ secret: base32Decode(f.secrets[k]!), algorithm: hash.algorithm });
      if (op === 'generate') return totp.generate(NOW_SECONDS);
      return totp.verify(codeFor(f, op, k), { nowSeconds: NOW_SECONDS }).ok;
    };
  },
  otplib(hash, mode, op) {
    const f = fx(hash);
    return (i) => {
      const k = pick(mode, i);
      const options = { secret: f.secrets[k]!, algorithm: hash.node, epoch: NOW_SECONDS };
      if (op === 'generate') return generateSync(options);
      return verifySync({ ...options, token: codeFor(f, op, k), epochTolerance: PERIOD_SECONDS }).valid;
    };
  },
  otpauth(hash, mode, op) {
    const f = fx(hash);
    const make = (k: number) =>
      new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(f.secrets[k]!), algorithm: hash.node.toUpperCase() });
    const reused = make(0);
    return (i) => {
      const k = pick(mode, i);
      const totp = mode === 'reused key' ? reused : make(k);
      if (op === 'generate') return totp.generate({ timestamp: NOW_SECONDS * 1000 });
      return totp.validate({ token: codeFor(f, op, k), timestamp: NOW_SECONDS * 1000, window: 1 }) !== null;
    };
  },
  speakeasy(hash, mode, op) {
    const f = fx(hash);
    const reusedKey = Buffer.from(base32Decode(f.secrets[0]!));
    return (i) => {
      const k = pick(mode, i);
      // speakeasy decodes its secret on every call; a Buffer skips that for the reused key.
      const secret = mode === 'reused key' ? reusedKey : f.secrets[k]!;
      const options = { secret, encoding: 'base32' as const, algorithm: hash.node, time: NOW_SECONDS };
      if (op === 'generate') return speakeasy.totp(options as speakeasy.TotpOptions);
      return speakeasy.totp.verify({
        ...(options as speakeasy.TotpVerifyOptions),
        token: codeFor(f, op, k),
        window: 1,
      });
    };
  },
  'createHmac per candidate'(hash, mode, op) {
    const f = fx(hash);
    const reused = Buffer.from(base32Decode(f.secrets[0]!));
    let key = reused;
    let lastK = -1;
    return baseline((k, counter) => {
      if (mode === 'fresh key' && k !== lastK) {
        key = Buffer.from(base32Decode(f.secrets[k]!));
        lastK = k;
      }
      return truncate(createHmac(hash.node, key).update(counterBytes(counter)).digest());
    })(hash, mode, op);
  },
  'crypto.hash twice'(hash, mode, op) {
    const f = fx(hash);
    const pads = (k: number) => {
      let key = Buffer.from(base32Decode(f.secrets[k]!));
      if (key.length > hash.blockBytes) key = createHash(hash.node).update(key).digest();
      const inner = Buffer.alloc(hash.blockBytes, 0x36);
      const outer = Buffer.alloc(hash.blockBytes, 0x5c);
      for (let j = 0; j < key.length; j++) {
        inner[j]! ^= key[j]!;
        outer[j]! ^= key[j]!;
      }
      return { inner, outer };
    };
    const reused = pads(0);
    let current = reused;
    let lastK = -1;
    return baseline((k, counter) => {
      if (mode === 'fresh key' && k !== lastK) {
        current = pads(k);
        lastK = k;
      }
      const innerDigest = oneShotHash(hash.node, Buffer.concat([current.inner, counterBytes(counter)]), 'buffer');
      return truncate(oneShotHash(hash.node, Buffer.concat([current.outer, innerDigest]), 'buffer'));
    })(hash, mode, op);
  },
  'precomputed-state HMAC'(hash, mode, op) {
    const f = fx(hash);
    const reused = hmacKey(hash.algorithm, base32Decode(f.secrets[0]!));
    let current = reused;
    let lastK = -1;
    return baseline((k, counter) => {
      if (mode === 'fresh key' && k !== lastK) {
        current = hmacKey(hash.algorithm, base32Decode(f.secrets[k]!));
        lastK = k;
      }
      return String(truncatedHmac(current, counter) % 1_000_000).padStart(6, '0');
    })(hash, mode, op);
  },
};
const PEERS = ['otplib', 'otpauth', 'speakeasy'];
const BASELINES = ['createHmac per candidate', 'crypto.hash twice', 'precomputed-state HMAC'];

// Every subject must agree on what is valid before anything is timed.
for (const hash of HASHES) {
  for (const mode of KEY_MODES) {
    for (const [name, subject] of Object.entries(SUBJECTS)) {
      const valid = subject(hash, mode, 'verify valid');
      const wrong = subject(hash, mode, 'verify wrong');
      for (let i = 0; i < KEY_POOL; i++) {
        if (valid(i) !== true || wrong(i) !== false) {
          throw new Error(`${name} disagrees on ${hash.algorithm} ${mode} #${i}: ${valid(i)} ${wrong(i)}`);
        }
      }
    }
  }
}

interface Cell {
  hash: HashInfo;
  mode: KeyMode;
  op: Operation;
  name: string;
  run: (i: number) => unknown;
  samples: number[];
}
const cells: Cell[] = [];
for (const hash of HASHES) {
  for (const mode of KEY_MODES) {
    for (const op of OPERATIONS) {
      for (const [name, subject] of Object.entries(SUBJECTS)) {
        cells.push({ hash, mode, op, name, run: subject(hash, mode, op), samples: [] });
      }
    }
  }
}

let sink: unknown;
function measure(run: (i: number) => unknown): number {
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ROUND_MS) {
    for (let j = 0; j < 64; j++) sink = run(calls++);
    elapsed = performance.now() - start;
  }
  return (calls / elapsed) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`otpkit bench: node ${process.version}, ${ROUNDS} rounds of ${ROUND_MS} ms per cell, median ops/s`);
for (const cell of cells) measure(cell.run); // warm-up round, not counted
for (let round = 0; round < ROUNDS; round++) {
  for (const cell of cells) cell.samples.push(measure(cell.run));
}
void sink;

const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${Math.round(n / 1000)}k`);
const names = Object.keys(SUBJECTS);
const verdicts: string[] = [];
for (const hash of HASHES) {
  for (const mode of KEY_MODES) {
    console.log(`\n${hash.algorithm}, ${mode} (window ±1 for verify)`);
    console.log(['operation'.padEnd(14), ...names.map((n) => n.padStart(Math.max(10, n.length)))].join(' '));
    for (const op of OPERATIONS) {
      const ops = new Map(
        cells.filter((c) => c.hash === hash && c.mode === mode && c.op === op).map((c) => [c.name, median(c.samples)]),
      );
      console.log([op.padEnd(14), ...names.map((n) => fmt(ops.get(n)!).padStart(Math.max(10, n.length)))].join(' '));
      const ours = ops.get('otpkit')!;
      const bestBaseline = Math.max(...BASELINES.map((b) => ops.get(b)!));
      const bestPeer = Math.max(...PEERS.map((p) => ops.get(p)!));
      const ratios = [...PEERS, ...BASELINES].map((n) => `${n} ${(ours / ops.get(n)!).toFixed(2)}x`).join(', ');
      console.log(`${''.padEnd(14)} otpkit vs: ${ratios}`);
      if (op !== 'generate') {
        const ok = ours >= 0.8 * bestBaseline && ours > bestPeer;
        verdicts.push(
          `${ok ? 'meets' : 'MISSES'} target: ${hash.algorithm} ${mode} ${op}: ${(ours / bestBaseline).toFixed(2)}x the faster baseline, ${(ours / bestPeer).toFixed(2)}x the fastest peer`,
        );
      }
    }
  }
}
console.log(`\nTarget: verify at >= 0.8x the faster baseline and ahead of every peer.\n${verdicts.join('\n')}`);

// The same numbers for verify of a wrong code, as the Markdown table the README quotes.
const medianOf = (hash: HashInfo, mode: KeyMode, name: string) =>
  median(cells.find((c) => c.hash === hash && c.mode === mode && c.op === 'verify wrong' && c.name === name)!.samples);
console.log('\nverify wrong, ops/s (Markdown)\n');
console.log(`| hash | key | ${names.join(' | ')} | vs faster baseline | vs fastest peer |`);
console.log(`|---|---|${names.map(() => '---:').join('|')}|---:|---:|`);
for (const hash of HASHES) {
  for (const mode of KEY_MODES) {
    const ours = medianOf(hash, mode, 'otpkit');
    const baseline = Math.max(...BASELINES.map((b) => medianOf(hash, mode, b)));
    const peer = Math.max(...PEERS.map((p) => medianOf(hash, mode, p)));
    const row = names.map((n) => fmt(medianOf(hash, mode, n)));
    console.log(
      `| ${hash.algorithm} | ${mode} | ${row.join(' | ')} | ${(ours / baseline).toFixed(2)}x | ${(ours / peer).toFixed(2)}x |`,
    );
  }
}
