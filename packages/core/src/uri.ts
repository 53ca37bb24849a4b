// otpauth:// key URIs in Google's Key URI format, both ways: what authenticator
// apps scan from a QR code and what they export.

import { base32Decode, base32Encode } from './encoding.js';
import { OtpkitError } from './errors.js';
import type { Algorithm } from './hmac.js';
import type { Encoder } from './otp.js';
import { MAX_DIGITS, MIN_DIGITS } from './otp.js';
import { checkSecret } from './secret.js';

/** A QR code holds at most 2,953 bytes; anything longer is not from an authenticator. */
const MAX_URI_LENGTH = 2048;
/** Caps on the decoded issuer and account name, each. */
const MAX_LABEL_PART_LENGTH = 256;
/** Cap on any other decoded parameter value (an `image` URL is the long one). */
const MAX_VALUE_LENGTH = 1024;

interface KeyUri {
  type: 'totp' | 'hotp';
  secret: Uint8Array;
  /** The account name: the label after the issuer prefix. */
  account: string;
  issuer?: string;
  algorithm: Algorithm;
  digits: number;
  encoder: Encoder;
  /** TOTP only; 30 when the URI leaves it out. */
  periodSeconds: number;
  /** HOTP only, where it is required. */
  counter?: number;
  /** A logo URL some apps show (FreeOTP's `image`); kept as given. */
  image?: string;
}

interface KeyUriInput {
  type?: 'totp' | 'hotp';
  secret: Uint8Array;
  account: string;
  issuer?: string;
  algorithm?: Algorithm;
  digits?: number;
  encoder?: Encoder;
  periodSeconds?: number;
  counter?: number;
  image?: string;
}

const ALGORITHM_NAMES: Readonly<Record<string, Algorithm>> = {
  SHA1: 'SHA-1',
  SHA256: 'SHA-256',
  SHA512: 'SHA-512',
};

function invalid(message: string): OtpkitError {
  return new OtpkitError('URI_INVALID', `otpauth URI: ${message}`);
}

// Strict percent-decoding; in the query, '+' is a space as in form encoding,
// since many generators write it that way (we always write %20).
function decode(text: string, what: string, plusIsSpace: boolean): string {
  try {
    return decodeURIComponent(plusIsSpace ? text.replaceAll('+', ' ') : text);
  } catch {
    throw invalid(`${what} has invalid percent-encoding`);
  }
}

function parseInteger(text: string, what: string, min: number, max: number): number {
  if (!/^[0-9]{1,16}$/.test(text)) throw invalid(`${what} must be a whole number`);
  const value = Number(text);
  if (value < min || value > max) throw invalid(`${what} must be from ${min} to ${max}`);
  return value;
}

/**
 * Parses an `otpauth://totp/...` or `otpauth://hotp/...` URI. Accepts the
 * issuer as a label prefix (with `:` or `%3A`) and as a parameter, refusing a
 * conflict; `algorithm=SHA-256`-style names; padded or lowercase secrets.
 *
 * @example parseKeyUri('otpauth://totp/ACME:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME')
 */
function parseKeyUri(uri: string, options: { minSecretBytes?: number } = {}): KeyUri {
  if (typeof uri !== 'string') throw invalid('must be a string');
  if (uri.length > MAX_URI_LENGTH) throw invalid(`longer than ${MAX_URI_LENGTH} characters`);
  const match = /^otpauth:\/\/(totp|hotp)\/([^?#]*)(?:\?([^#]*))?$/i.exec(uri);
  if (!match) throw invalid('expected otpauth://totp/LABEL?secret=... or otpauth://hotp/LABEL?secret=...');
  const type = match[1]!.toLowerCase() as 'totp' | 'hotp';
  const rawLabel = match[2]!;

  const separator = /:|%3a/i.exec(rawLabel);
  let labelIssuer: string | undefined;
  let account: string;
  if (separator) {
    labelIssuer = decode(rawLabel.slice(0, separator.index), 'issuer', false);
    // Google's format allows spaces before the account name.
    account = decode(rawLabel.slice(separator.index + separator[0].length), 'account', false).trimStart();
  } else {
    account = decode(rawLabel, 'account', false);
  }
  if (account.length > MAX_LABEL_PART_LENGTH || (labelIssuer?.length ?? 0) > MAX_LABEL_PART_LENGTH) {
    throw invalid(`label parts must be at most ${MAX_LABEL_PART_LENGTH} characters`);
  }

  const params = new Map<string, string>();
  for (const pair of (match[3] ?? '').split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decode(eq < 0 ? pair : pair.slice(0, eq), 'parameter name', true).toLowerCase();
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1), name, true);
    if (params.has(name)) throw invalid(`parameter ${name.slice(0, 32)} appears twice`);
    if (value.length > MAX_VALUE_LENGTH)
      throw invalid(`parameter values must be at most ${MAX_VALUE_LENGTH} characters`);
    params.set(name, value);
  }

  const secretText = params.get('secret');
  if (!secretText) throw invalid('secret is missing');
  let secret: Uint8Array;
  try {
    secret = base32Decode(secretText);
    checkSecret(secret, options.minSecretBytes ?? 1);
  } catch (error) {
    if (error instanceof OtpkitError) throw invalid(`secret: ${error.message}`);
    throw error;
  }

  const issuerParam = params.get('issuer');
  if (issuerParam !== undefined && issuerParam.length > MAX_LABEL_PART_LENGTH) {
    throw invalid(`issuer must be at most ${MAX_LABEL_PART_LENGTH} characters`);
  }
  if (labelIssuer !== undefined && issuerParam !== undefined && labelIssuer !== issuerParam) {
    throw invalid('issuer parameter and label prefix differ');
  }
  const issuer = issuerParam ?? labelIssuer;

  const algorithmText = params.get('algorithm');
  let algorithm: Algorithm = 'SHA-1';
  if (algorithmText !== undefined) {
    const name = ALGORITHM_NAMES[algorithmText.toUpperCase().replace('-', '')];
    if (!name) throw invalid('algorithm must be SHA1, SHA256 or SHA512');
    algorithm = name;
  }

  const encoderText = params.get('encoder');
  if (encoderText !== undefined && encoderText.toLowerCase() !== 'steam') {
    throw invalid('the only encoder known is steam');
  }
  const encoder: Encoder = encoderText === undefined ? 'decimal' : 'steam';
  const digitsText = params.get('digits');
  const digits =
    encoder === 'steam' ? 5 : digitsText === undefined ? 6 : parseInteger(digitsText, 'digits', MIN_DIGITS, MAX_DIGITS);

  const periodText = params.get('period');
  const periodSeconds =
    type === 'totp' && periodText !== undefined ? parseInteger(periodText, 'period', 1, Number.MAX_SAFE_INTEGER) : 30;

  const result: KeyUri = { type, secret, account, algorithm, digits, encoder, periodSeconds };
  if (issuer !== undefined && issuer !== '') result.issuer = issuer;
  if (type === 'hotp') {
    const counterText = params.get('counter');
    if (counterText === undefined) throw invalid('hotp needs a counter');
    result.counter = parseInteger(counterText, 'counter', 0, Number.MAX_SAFE_INTEGER);
  }
  const image = params.get('image');
  if (image !== undefined) result.image = image;
  return result;
}

// encodeURIComponent, leaving '@' readable: it is legal in both path and query.
function encode(text: string): string {
  return encodeURIComponent(text).replaceAll('%40', '@');
}

function checkText(name: string, value: unknown, max: number, required: boolean): void {
  if (value === undefined && !required) return;
  if (typeof value !== 'string' || (required && value === '') || value.length > max) {
    throw new OtpkitError('OPTION_INVALID', `${name} must be a string of 1 to ${max} characters`);
  }
  if (value.includes(':')) throw new OtpkitError('OPTION_INVALID', `${name} cannot contain ':' (the label separator)`);
}

/**
 * Renders a key URI for a QR code. The secret is canonical base32 without
 * padding, spaces are %20, and parameters at their defaults (SHA1, 6 digits,
 * 30 seconds) are left out, since some apps mishandle them.
 *
 * @example formatKeyUri({ secret, account: 'alice@example.com', issuer: 'ACME' })
 * // 'otpauth://totp/ACME:alice@example.com?secret=...&issuer=ACME'
 */
function formatKeyUri(input: KeyUriInput): string {
  const { type = 'totp', secret, account, issuer, algorithm = 'SHA-1', encoder = 'decimal' } = input;
  if (type !== 'totp' && type !== 'hotp') throw new OtpkitError('OPTION_INVALID', "type must be 'totp' or 'hotp'");
  checkSecret(secret);
  checkText('account', account, MAX_LABEL_PART_LENGTH, true);
  checkText('issuer', issuer, MAX_LABEL_PART_LENGTH, false);
  const algorithmName = Object.keys(ALGORITHM_NAMES).find((name) => ALGORITHM_NAMES[name] === algorithm);
  if (!algorithmName) throw new OtpkitError('OPTION_INVALID', "algorithm must be 'SHA-1', 'SHA-256' or 'SHA-512'");
  if (encoder !== 'decimal' && encoder !== 'steam') {
    throw new OtpkitError('OPTION_INVALID', "encoder must be 'decimal' or 'steam'");
  }

  let uri = `otpauth://${type}/${issuer ? `${encode(issuer)}:` : ''}${encode(account)}?secret=${base32Encode(secret)}`;
  if (issuer) uri += `&issuer=${encode(issuer)}`;
  if (algorithmName !== 'SHA1') uri += `&algorithm=${algorithmName}`;
  if (encoder === 'steam') {
    if (input.digits !== undefined && input.digits !== 5)
      throw new OtpkitError('OPTION_INVALID', 'steam codes have 5 characters');
    uri += '&encoder=steam';
  } else {
    const digits = input.digits ?? 6;
    if (!Number.isInteger(digits) || digits < MIN_DIGITS || digits > MAX_DIGITS) {
      throw new OtpkitError('OPTION_INVALID', `digits must be an integer from ${MIN_DIGITS} to ${MAX_DIGITS}`);
    }
    if (digits !== 6) uri += `&digits=${digits}`;
  }
  if (type === 'totp') {
    const period = input.periodSeconds ?? 30;
    if (!Number.isSafeInteger(period) || period < 1) {
      throw new OtpkitError('OPTION_INVALID', 'periodSeconds must be a positive integer');
    }
    if (period !== 30) uri += `&period=${period}`;
  } else {
    const counter = input.counter;
    if (!Number.isSafeInteger(counter) || (counter as number) < 0) {
      throw new OtpkitError('OPTION_INVALID', 'hotp needs counter, a non-negative integer');
    }
    uri += `&counter=${counter}`;
  }
  if (input.image !== undefined) {
    if (typeof input.image !== 'string' || input.image.length > MAX_VALUE_LENGTH) {
      throw new OtpkitError('OPTION_INVALID', `image must be a string of at most ${MAX_VALUE_LENGTH} characters`);
    }
    uri += `&image=${encode(input.image)}`;
  }
  if (uri.length > MAX_URI_LENGTH)
    throw new OtpkitError('OPTION_INVALID', `the URI would exceed ${MAX_URI_LENGTH} characters`);
  return uri;
}

export type { KeyUri, KeyUriInput };
export { formatKeyUri, MAX_URI_LENGTH, parseKeyUri };
