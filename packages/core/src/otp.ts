// HOTP (RFC 4226) and TOTP (RFC 6238): generation, verification over a
// bounded window with replay refusal, and resynchronisation.

import { OtpkitError } from './errors.js';
import { type Algorithm, type HmacKey, hmacKey, isAlgorithm, truncatedHmac } from './hmac.js';
import { checkSecret } from './secret.js';

/** How the truncated HMAC becomes a code: decimal digits, or Steam Guard's 5 letters. */
type Encoder = 'decimal' | 'steam';

/** RFC 4226 §5.3 requires at least 6 digits; 10 is all a 31-bit value can give. */
const MIN_DIGITS = 6;
const MAX_DIGITS = 10;
/** Steam Guard's alphabet (no vowels, no look-alikes); codes are 5 of these. */
const STEAM_ALPHABET = '23456789BCDFGHJKMNPQRTVWXY';
const STEAM_DIGITS = 5;
/** Each step is one HMAC per request: caps verify cost and guessing odds (RFC 6238 §5.2 advises 1). */
const MAX_WINDOW_STEPS = 10;
/** HOTP look-ahead cap (RFC 4226 §7.4 parameter s): each step is one more chance to guess. */
const MAX_LOOK_AHEAD = 50;
/** Resync default: a day of drift at 30-second steps. */
const DEFAULT_RESYNC_STEPS = 2880;
/** Resync cap: one HMAC per step, about 10 ms of work for SHA-512 at the cap. */
const MAX_RESYNC_STEPS = 10_000;
/** Longer input is malformed without being read further: no code is this long. */
const MAX_CODE_INPUT_LENGTH = 64;
/** Clock skew bound: a day, far beyond any clock worth correcting rather than fixing. */
const MAX_SKEW_SECONDS = 86_400;
/** Counters are 8 bytes on the wire (RFC 4226 §5.2); JavaScript numbers are exact to 2^53 - 1. */
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

interface OtpParameters {
  /** The shared key, 1 to 128 bytes (see minSecretBytes). */
  secret: Uint8Array;
  /** 'SHA-1' by default, which is what most authenticator apps support. */
  algorithm?: Algorithm;
  /** 6 by default, 6 to 10; Steam codes always have 5. */
  digits?: number;
  /** 'decimal' by default. */
  encoder?: Encoder;
  /**
   * Refuse keys shorter than this (SECRET_TOO_SHORT); 1 by default, since a
   * key someone already holds is read as it is. A server that must refuse
   * keys under RFC 4226's 128 bits passes MIN_SECRET_BYTES.
   */
  minSecretBytes?: number;
  /**
   * Codes as people type them: a hyphen between digits (`123-456`) is
   * accepted as well as spaces. Off by default: then spaces only.
   */
  separators?: boolean;
}

interface TotpParameters extends OtpParameters {
  /** Time step X of RFC 6238 §4.1, 30 by default. */
  periodSeconds?: number;
  /** T0 of RFC 6238 §4.1, the Unix time when counting starts; 0 by default. */
  t0Seconds?: number;
  /** verify's window when its options give none: 1 by default. */
  window?: Window;
  /**
   * How far this clock runs behind true time, in seconds (negative: ahead),
   * for a server whose clock is known to be off. Added to every nowSeconds
   * before the time step is computed; times returned are on this clock.
   * Unlike the window it moves the centre, and costs no extra HMAC.
   */
  skewSeconds?: number;
}

/** Why a code was not accepted. A rejection is a result, never an exception. */
type RejectReason = 'wrong' | 'malformed' | 'reused';

interface Rejection {
  readonly ok: false;
  readonly reason: RejectReason;
  /** The counter expected at that time (TOTP) or given (HOTP). */
  readonly expectedCounter: number;
  /** For `reused` TOTP codes: seconds until the next code the app shows can be accepted. */
  readonly retryAfterSeconds?: number;
}

interface HotpMatch {
  readonly ok: true;
  /** The counter the code belongs to: store it (HOTP: store counter + 1 as the next). */
  readonly counter: number;
  /** The counter expected at that time (TOTP) or given (HOTP): counter = expectedCounter + delta. */
  readonly expectedCounter: number;
  /** Steps between the expected counter and the matched one. */
  readonly delta: number;
}

interface TotpMatch extends HotpMatch {
  /** Unix seconds when the matched code's own time step ends. */
  readonly expiresAt: number;
}

type HotpResult = HotpMatch | Rejection;
type TotpResult = TotpMatch | Rejection;

/** A code with its time step, for clients that show a countdown (passlib's TotpToken). */
interface TotpToken {
  readonly code: string;
  readonly counter: number;
  /** Unix seconds when the step begins and ends (on the caller's clock). */
  readonly startsAt: number;
  readonly expiresAt: number;
  /** expiresAt - nowSeconds. */
  readonly remainingSeconds: number;
}

/** Steps accepted each side of now (symmetric), or `[past, future]`; at most 10 each. */
type Window = number | readonly [past: number, future: number];

interface HotpVerifyOptions {
  /** The next counter expected: one more than the last accepted. */
  counter: number;
  /** How many counters past `counter` also match; 0 by default, at most 50. */
  lookAhead?: number;
}

interface HotpResyncOptions {
  /** The next counter expected. */
  counter: number;
  /** How far ahead the device may be; 2880 by default, at most 10,000. */
  maxSteps?: number;
}

interface TotpVerifyOptions {
  /** The current Unix time in seconds. */
  nowSeconds: number;
  /** The parameters' window by default, else 1: the previous, current and next step. */
  window?: Window;
  /** The last accepted counter: a code at or before it is `reused` (RFC 6238 §5.2). */
  afterCounter?: number;
}

interface TotpResyncOptions {
  nowSeconds: number;
  /** How far the device clock may be off, in steps each way; 2880 by default, at most 10,000. */
  maxDriftSteps?: number;
  afterCounter?: number;
}

interface Hotp {
  readonly algorithm: Algorithm;
  readonly digits: number;
  readonly encoder: Encoder;
  generate(counter: number): string;
  verify(code: string, options: HotpVerifyOptions): HotpResult;
  /** Finds where 2 or 3 consecutive codes of a device sit (RFC 4226 §7.4). */
  resync(codes: readonly string[], options: HotpResyncOptions): HotpResult;
}

interface Totp {
  readonly algorithm: Algorithm;
  readonly digits: number;
  readonly encoder: Encoder;
  readonly periodSeconds: number;
  readonly t0Seconds: number;
  readonly skewSeconds: number;
  /** The time step counter T of RFC 6238 §4.2 at `nowSeconds`. */
  counterAt(nowSeconds: number): number;
  generate(nowSeconds: number): string;
  /** The code at `nowSeconds` with its step's bounds and the seconds left. */
  token(nowSeconds: number): TotpToken;
  verify(code: string, options: TotpVerifyOptions): TotpResult;
  /** Finds a drifted device's offset from 2 or 3 consecutive codes (RFC 4226 §7.4, RFC 6238 §6). */
  resync(codes: readonly string[], options: TotpResyncOptions): TotpResult;
}

function rejection(reason: RejectReason, expectedCounter: number, retryAfterSeconds?: number): Rejection {
  return retryAfterSeconds === undefined
    ? { ok: false, reason, expectedCounter }
    : { ok: false, reason, expectedCounter, retryAfterSeconds };
}

// A given code that is well formed but above any value the HMAC can produce.
const UNREACHABLE = -1;

/** Turns 31-bit HMAC values into codes and parsed codes into comparable integers. */
interface CodeFormat {
  readonly digits: number;
  /** Values are compared modulo this: 10^digits, or 26^5 for Steam. */
  readonly modulus: number;
  format(value: number): string;
  /** The code as an integer below `modulus`, UNREACHABLE, or undefined if malformed. */
  parse(code: unknown): number | undefined;
}

function decimalFormat(digits: number, separators: boolean): CodeFormat {
  const modulus = 10 ** digits;
  return {
    digits,
    modulus,
    format: (value) => String(value % modulus).padStart(digits, '0'),
    parse(code) {
      const text = stripSeparators(code, separators);
      if (text === undefined || text.length !== digits) return undefined;
      let value = 0;
      for (let i = 0; i < digits; i++) {
        const digit = text.charCodeAt(i) - 0x30;
        if (digit < 0 || digit > 9) return undefined;
        value = value * 10 + digit;
      }
      return value > 0x7fffffff ? UNREACHABLE : value;
    },
  };
}

const steamFormat = (separators: boolean): CodeFormat => ({
  digits: STEAM_DIGITS,
  modulus: STEAM_ALPHABET.length ** STEAM_DIGITS,
  format(value) {
    let code = '';
    for (let i = 0, rest = value; i < STEAM_DIGITS; i++, rest = Math.floor(rest / STEAM_ALPHABET.length)) {
      code += STEAM_ALPHABET[rest % STEAM_ALPHABET.length];
    }
    return code;
  },
  parse(code) {
    const text = stripSeparators(code, separators)?.toUpperCase();
    if (text === undefined || text.length !== STEAM_DIGITS) return undefined;
    let value = 0;
    for (let i = STEAM_DIGITS - 1; i >= 0; i--) {
      const symbol = STEAM_ALPHABET.indexOf(text[i]!);
      if (symbol < 0) return undefined;
      value = value * STEAM_ALPHABET.length + symbol;
    }
    return value;
  },
});

/**
 * The code without its spaces (anywhere), and, with `separators`, without
 * hyphens that stand between two characters of the code (`123-456`; a
 * leading or doubled one is malformed, as a sign would be).
 */
function stripSeparators(code: unknown, separators: boolean): string | undefined {
  if (typeof code !== 'string' || code.length > MAX_CODE_INPUT_LENGTH) return undefined;
  const text = code.includes(' ') ? code.replaceAll(' ', '') : code;
  if (!separators || !text.includes('-')) return text;
  if (/^-|--|-$/.test(text)) return undefined;
  return text.replaceAll('-', '');
}

/** 1 if a equals b, else 0, without a data-dependent branch. */
function equal(a: number, b: number): number {
  const d = a ^ b;
  return ((d | -d) >>> 31) ^ 1;
}

interface Prepared {
  readonly key: HmacKey;
  readonly codes: CodeFormat;
  readonly algorithm: Algorithm;
  readonly encoder: Encoder;
}

function prepare(parameters: OtpParameters): Prepared {
  if (typeof parameters !== 'object' || parameters === null) {
    throw new OtpkitError('OPTION_INVALID', 'parameters must be an object');
  }
  const { secret, algorithm = 'SHA-1', encoder = 'decimal', minSecretBytes = 1, separators = false } = parameters;
  checkSecret(secret, minSecretBytes);
  if (typeof separators !== 'boolean') throw new OtpkitError('OPTION_INVALID', 'separators must be true or false');
  if (!isAlgorithm(algorithm)) {
    throw new OtpkitError('OPTION_INVALID', "algorithm must be 'SHA-1', 'SHA-256' or 'SHA-512'");
  }
  let codes: CodeFormat;
  if (encoder === 'steam') {
    if (parameters.digits !== undefined && parameters.digits !== STEAM_DIGITS) {
      throw new OtpkitError('OPTION_INVALID', `steam codes have ${STEAM_DIGITS} characters`);
    }
    codes = steamFormat(separators);
  } else if (encoder === 'decimal') {
    codes = decimalFormat(checkInteger('digits', parameters.digits ?? 6, MIN_DIGITS, MAX_DIGITS), separators);
  } else {
    throw new OtpkitError('OPTION_INVALID', "encoder must be 'decimal' or 'steam'");
  }
  return { key: hmacKey(algorithm, secret), codes, algorithm, encoder };
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OtpkitError('OPTION_INVALID', `${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function checkWindow(window: Window): readonly [number, number] {
  if (typeof window === 'number') {
    const steps = checkInteger('window', window, 0, MAX_WINDOW_STEPS);
    return [steps, steps];
  }
  if (!Array.isArray(window) || window.length !== 2) {
    throw new OtpkitError('OPTION_INVALID', 'window must be a number of steps or [past, future]');
  }
  return [
    checkInteger('window past', window[0], 0, MAX_WINDOW_STEPS),
    checkInteger('window future', window[1], 0, MAX_WINDOW_STEPS),
  ];
}

interface ScanResult {
  found: number;
  delta: number;
  reused: number;
}

/**
 * Compares `given` with the code at every counter from base - past to
 * base + future, all of them, in constant time and with no early exit.
 * Prefers the match nearest to `base` (the past side first at a tie) whose
 * counter is after `afterCounter`; a match at or before it marks `reused`.
 */
function scan(
  prepared: Prepared,
  given: number,
  base: number,
  past: number,
  future: number,
  afterCounter: number,
): ScanResult {
  const { key, codes } = prepared;
  let found = 0;
  let delta = 0;
  let reused = 0;
  const widest = Math.max(past, future);
  for (let distance = 0; distance <= widest; distance++) {
    for (let side = -1; side <= 1; side += 2) {
      const d = distance * side;
      if (d < -past || d > future || (distance === 0 && side === 1)) continue;
      const counter = base + d;
      if (counter < 0 || counter > MAX_COUNTER) continue;
      const eq = equal(truncatedHmac(key, counter) % codes.modulus, given);
      const fresh = counter > afterCounter ? 1 : 0;
      const take = eq & fresh & (found ^ 1);
      delta = (delta & ~-take) | (d & -take);
      found |= take;
      reused |= eq & (fresh ^ 1);
    }
  }
  return { found, delta, reused };
}

/**
 * Finds the counters `last` in [from, to] where codes[i] matches the code at
 * last - (n - 1) + i for every i. Scans the whole range; returns how many
 * such places there are and the last one.
 */
function scanRun(prepared: Prepared, given: readonly number[], from: number, to: number) {
  const { key, codes } = prepared;
  const n = given.length;
  const run = new Int32Array(n); // run[k]: codes[0..k] match, ending at the current counter
  let matches = 0;
  let last = -1;
  for (let counter = from - (n - 1); counter <= to; counter++) {
    const value = counter < 0 ? -2 : truncatedHmac(key, counter) % codes.modulus;
    for (let k = n - 1; k > 0; k--) run[k] = run[k - 1]! & equal(value, given[k]!);
    run[0] = equal(value, given[0]!);
    if (counter >= from && run[n - 1] === 1) {
      matches++;
      last = counter;
    }
  }
  return { matches, last };
}

function parseRun(prepared: Prepared, codes: readonly string[]): number[] | undefined {
  if (!Array.isArray(codes) || codes.length < 2 || codes.length > 3) {
    throw new OtpkitError('OPTION_INVALID', 'resync takes 2 or 3 consecutive codes');
  }
  const given: number[] = [];
  for (const code of codes) {
    const value = prepared.codes.parse(code);
    if (value === undefined) return undefined;
    given.push(value);
  }
  return given;
}

function checkCounter(name: string, value: unknown): number {
  return checkInteger(name, value, 0, MAX_COUNTER);
}

/**
 * HOTP (RFC 4226) for one key. The HMAC key schedule is computed here once.
 *
 * @example
 * const hotp = createHotp({ secret });
 * const result = hotp.verify('755224', { counter: 0 });
 * if (result.ok) saveNextCounter(result.counter + 1);
 */
function createHotp(parameters: OtpParameters): Hotp {
  const prepared = prepare(parameters);
  const { codes } = prepared;
  return Object.freeze({
    algorithm: prepared.algorithm,
    digits: codes.digits,
    encoder: prepared.encoder,
    generate(counter: number): string {
      return codes.format(truncatedHmac(prepared.key, checkCounter('counter', counter)));
    },
    verify(code: string, options: HotpVerifyOptions): HotpResult {
      const counter = checkCounter('counter', options.counter);
      const lookAhead = checkInteger('lookAhead', options.lookAhead ?? 0, 0, MAX_LOOK_AHEAD);
      const given = codes.parse(code);
      if (given === undefined) return rejection('malformed', counter);
      const { found, delta } = scan(prepared, given, counter, 0, lookAhead, counter - 1);
      return found
        ? { ok: true, counter: counter + delta, expectedCounter: counter, delta }
        : rejection('wrong', counter);
    },
    resync(codes: readonly string[], options: HotpResyncOptions): HotpResult {
      const counter = checkCounter('counter', options.counter);
      const maxSteps = checkInteger('maxSteps', options.maxSteps ?? DEFAULT_RESYNC_STEPS, 0, MAX_RESYNC_STEPS);
      const given = parseRun(prepared, codes);
      if (given === undefined) return rejection('malformed', counter);
      const first = counter + given.length - 1;
      const { matches, last } = scanRun(prepared, given, first, first + maxSteps);
      return matches === 1
        ? { ok: true, counter: last, expectedCounter: counter, delta: last - counter }
        : rejection('wrong', counter);
    },
  });
}

/**
 * TOTP (RFC 6238) for one key. Time comes in as an argument, in Unix seconds.
 *
 * @example
 * const totp = createTotp({ secret, algorithm: 'SHA-256' });
 * const result = totp.verify(code, { nowSeconds, afterCounter: lastCounter });
 * if (result.ok) lastCounter = result.counter; // store it: the same code is then 'reused'
 */
function createTotp(parameters: TotpParameters): Totp {
  const prepared = prepare(parameters);
  const { codes } = prepared;
  const periodSeconds = checkInteger('periodSeconds', parameters.periodSeconds ?? 30, 1, MAX_COUNTER);
  const t0Seconds = checkInteger('t0Seconds', parameters.t0Seconds ?? 0, 0, MAX_COUNTER);
  const skewSeconds = checkInteger('skewSeconds', parameters.skewSeconds ?? 0, -MAX_SKEW_SECONDS, MAX_SKEW_SECONDS);
  const defaultWindow = checkWindow(parameters.window ?? 1);

  function counterAt(nowSeconds: number): number {
    if (typeof nowSeconds !== 'number' || !Number.isFinite(nowSeconds) || nowSeconds + skewSeconds < t0Seconds) {
      throw new OtpkitError('OPTION_INVALID', 'nowSeconds must be a finite number of seconds, not before t0Seconds');
    }
    return checkCounter('time step', Math.floor((nowSeconds + skewSeconds - t0Seconds) / periodSeconds));
  }
  /** When a step begins, on the caller's clock. */
  const startOf = (counter: number) => t0Seconds + counter * periodSeconds - skewSeconds;

  function afterOf(afterCounter: number | undefined): number {
    return afterCounter === undefined ? -1 : checkCounter('afterCounter', afterCounter);
  }

  function match(counter: number, expectedCounter: number): TotpMatch {
    return { ok: true, counter, expectedCounter, delta: counter - expectedCounter, expiresAt: startOf(counter + 1) };
  }
  /** A reused code: the next one the app shows is the first after afterCounter. */
  function reused(base: number, afterCounter: number, nowSeconds: number): Rejection {
    return rejection('reused', base, Math.max(0, Math.ceil(startOf(afterCounter + 1) - nowSeconds)));
  }

  return Object.freeze({
    algorithm: prepared.algorithm,
    digits: codes.digits,
    encoder: prepared.encoder,
    periodSeconds,
    t0Seconds,
    skewSeconds,
    counterAt,
    generate(nowSeconds: number): string {
      return codes.format(truncatedHmac(prepared.key, counterAt(nowSeconds)));
    },
    token(nowSeconds: number): TotpToken {
      const counter = counterAt(nowSeconds);
      const expiresAt = startOf(counter + 1);
      return {
        code: codes.format(truncatedHmac(prepared.key, counter)),
        counter,
        startsAt: startOf(counter),
        expiresAt,
        remainingSeconds: expiresAt - nowSeconds,
      };
    },
    verify(code: string, options: TotpVerifyOptions): TotpResult {
      const base = counterAt(options.nowSeconds);
      const [past, future] = options.window === undefined ? defaultWindow : checkWindow(options.window);
      const afterCounter = afterOf(options.afterCounter);
      const given = codes.parse(code);
      if (given === undefined) return rejection('malformed', base);
      const { found, delta, reused: wasReused } = scan(prepared, given, base, past, future, afterCounter);
      if (found) return match(base + delta, base);
      return wasReused ? reused(base, afterCounter, options.nowSeconds) : rejection('wrong', base);
    },
    resync(codes: readonly string[], options: TotpResyncOptions): TotpResult {
      const base = counterAt(options.nowSeconds);
      const steps = checkInteger('maxDriftSteps', options.maxDriftSteps ?? DEFAULT_RESYNC_STEPS, 0, MAX_RESYNC_STEPS);
      const afterCounter = afterOf(options.afterCounter);
      const given = parseRun(prepared, codes);
      if (given === undefined) return rejection('malformed', base);
      const { matches, last } = scanRun(prepared, given, Math.max(0, base - steps), base + steps);
      if (matches !== 1) return rejection('wrong', base);
      return last > afterCounter ? match(last, base) : reused(base, afterCounter, options.nowSeconds);
    },
  });
}

export type {
  Encoder,
  Hotp,
  HotpMatch,
  HotpResult,
  HotpResyncOptions,
  HotpVerifyOptions,
  OtpParameters,
  Rejection,
  RejectReason,
  Totp,
  TotpMatch,
  TotpParameters,
  TotpResult,
  TotpResyncOptions,
  TotpToken,
  TotpVerifyOptions,
  Window,
};
export {
  createHotp,
  createTotp,
  DEFAULT_RESYNC_STEPS,
  MAX_DIGITS,
  MAX_LOOK_AHEAD,
  MAX_RESYNC_STEPS,
  MAX_SKEW_SECONDS,
  MAX_WINDOW_STEPS,
  MIN_DIGITS,
  STEAM_ALPHABET,
};
