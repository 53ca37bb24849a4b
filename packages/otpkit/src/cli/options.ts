// Parsing shared by the commands: argv flags to typed values and key parameters,
// with usage errors that never echo what was typed.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import {
  type Algorithm,
  base32Decode,
  type Encoder,
  type KeyUri,
  MIN_SECRET_BYTES,
  OtpkitError,
  parseKeyUri,
} from '@otpkit/core';
import type { CliIo } from './io.js';

type Flags = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Flags> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
>;

/** Options that describe a key, shared by `code`, `verify` and `uri`. */
const KEY_FLAGS = {
  secret: { type: 'string' },
  algorithm: { type: 'string' },
  digits: { type: 'string' },
  period: { type: 'string' },
  counter: { type: 'string' },
  encoder: { type: 'string' },
} as const satisfies Flags;

function usage(message: string): OtpkitError {
  return new OtpkitError('OPTION_INVALID', message);
}

/**
 * node:util parseArgs, strict, with its errors replaced by ones that name the
 * problem but not the argument: a mistyped secret must not reach stderr.
 */
function parse<const T extends Flags>(args: string[], options: T, positionals: number): Parsed<T> {
  let parsed: Parsed<T>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw usage('unknown option (see otpkit --help)');
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      // Node's message names the option (safe to show) and may quote a value (not safe).
      const option = /Option '(--[a-z-]+)/.exec(String((error as Error).message))?.[1] ?? 'an option';
      throw usage(`${option} needs a value (write ${option}=VALUE for values that start with '-')`);
    }
    throw usage('could not read the arguments (see otpkit --help)');
  }
  if (parsed.positionals.length !== positionals) {
    throw usage(`expected ${positionals} argument${positionals === 1 ? '' : 's'}, got ${parsed.positionals.length}`);
  }
  return parsed;
}

function parseWhole(name: string, text: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER) {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,16}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw usage(`--${name} must be a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

function parseTime(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,16}(\.[0-9]{1,9})?$/.test(text)) throw usage('--time must be Unix seconds, e.g. 1700000000');
  return Number(text);
}

const ALGORITHMS: Readonly<Record<string, Algorithm>> = { SHA1: 'SHA-1', SHA256: 'SHA-256', SHA512: 'SHA-512' };

function parseAlgorithm(text: string | undefined): Algorithm | undefined {
  if (text === undefined) return undefined;
  const algorithm = ALGORITHMS[text.toUpperCase().replace('-', '')];
  if (!algorithm) throw usage('--algorithm must be sha1, sha256 or sha512');
  return algorithm;
}

function parseEncoder(text: string | undefined): Encoder | undefined {
  if (text === undefined || text === 'decimal' || text === 'steam') return text;
  throw usage('--encoder must be decimal or steam');
}

/** `--secret -` reads the key from stdin, keeping it out of the process list and shell history. */
async function readSecret(text: string, io: CliIo): Promise<Uint8Array> {
  return base32Decode(text === '-' ? (await io.readStdin()).trim() : text);
}

type KeyValues = { [K in keyof typeof KEY_FLAGS]?: string };

/**
 * Keys are read from 1 byte up, as oathtool, pyotp and authenticator apps
 * read them (RFC 4226's 128-bit floor is for issuing keys); one line on
 * stderr says when a key is shorter than that. Never a character of the key.
 */
function warnIfShort(secret: Uint8Array, command: string, io: CliIo, what = 'the key'): void {
  if (secret.length < MIN_SECRET_BYTES) {
    io.stderr(
      `otpkit ${command}: warning: ${what} is ${secret.length * 8} bits; RFC 4226 asks for at least ${MIN_SECRET_BYTES * 8}\n`,
    );
  }
}

/** A key URI as a command reads it: parsed, with the short-key warning. */
function readKeyUri(uri: string, command: string, io: CliIo): KeyUri {
  const key = parseKeyUri(uri);
  warnIfShort(key.secret, command, io);
  return key;
}

/** Key parameters from `--uri` or from `--secret` and its companions, never both. */
async function keyFromFlags(values: KeyValues & { uri?: string }, command: string, io: CliIo): Promise<KeyUri> {
  if (values.uri !== undefined) {
    for (const flag of ['secret', 'algorithm', 'digits', 'period', 'encoder'] as const) {
      if (values[flag] !== undefined) throw usage(`--uri already sets the key; drop --${flag}`);
    }
    const key = readKeyUri(values.uri, command, io);
    const counter = parseWhole('counter', values.counter, 0);
    if (counter !== undefined) Object.assign(key, { type: 'hotp', counter });
    return key;
  }
  if (values.secret === undefined) throw usage('give the key with --secret BASE32 or --uri URI');
  const counter = parseWhole('counter', values.counter, 0);
  const encoder = parseEncoder(values.encoder) ?? 'decimal';
  const key: KeyUri = {
    type: counter === undefined ? 'totp' : 'hotp',
    secret: await readSecret(values.secret, io),
    account: '',
    algorithm: parseAlgorithm(values.algorithm) ?? 'SHA-1',
    digits: parseWhole('digits', values.digits, 1) ?? (encoder === 'steam' ? 5 : 6),
    encoder,
    periodSeconds: parseWhole('period', values.period, 1) ?? 30,
  };
  if (counter !== undefined) key.counter = counter;
  warnIfShort(key.secret, command, io);
  return key;
}

export {
  KEY_FLAGS,
  keyFromFlags,
  parse,
  parseAlgorithm,
  parseEncoder,
  parseTime,
  parseWhole,
  readKeyUri,
  readSecret,
  usage,
  warnIfShort,
};
