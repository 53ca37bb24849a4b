// The otpkit command line: argv -> command -> output and an exit code.

import { OtpkitError } from '@otpkit/core';
import { ServiceError } from '../service/errors.js';
import { audit } from './audit.js';
import { code } from './code.js';
import { importMigration } from './import.js';
import { inspect } from './inspect.js';
import { type CliIo, EXIT } from './io.js';
import { keys } from './keys.js';
import { qr } from './qr.js';
import { secret } from './secret.js';
import { migrate, serve } from './serve.js';
import { uri } from './uri.js';
import { users } from './users.js';
import { verify } from './verify.js';

const HELP = `otpkit: one-time passwords (HOTP, TOTP) done right

Usage:
  otpkit code   --secret B32 [--algorithm sha1|sha256|sha512] [--digits N] [--period S] [--time UNIX] [--counter N]
  otpkit code   --uri URI [--time UNIX] [--counter N]
  otpkit verify CODE (--secret B32 [same options] | --uri URI) [--window N] [--time UNIX] [--after-counter N] [--json]
  otpkit secret [--bytes N]
  otpkit uri    --secret B32 --account NAME [--issuer NAME] [--algorithm ..] [--digits ..] [--period ..] [--counter N]
  otpkit inspect URI
  otpkit qr     URI [--format svg|png|terminal] [--out FILE]
  otpkit import URI                  # otpauth-migration:// (Google Authenticator export) -> otpauth:// URIs
  otpkit keys   generate [--id ID]   # a new key-ring entry for OTPKIT_KEYS

Server and operators (configured by the environment; see the README):
  otpkit serve  [--port N] [--host H]
  otpkit migrate
  otpkit keys   rotate                 # reseal every stored secret under the current key
  otpkit users  list | unlock NAME | reset-2fa NAME | deactivate NAME | reactivate NAME
  otpkit audit  [--user NAME] [--type T] [--since ISO] [--until ISO] [--json]   # the audit log, oldest first

Options:
  --secret B32          the key in base32 (any case, spaces or hyphens); "-" reads it from stdin
  --uri URI             an otpauth:// key URI instead of --secret and its options
  --counter N           HOTP at counter N (for verify: the next expected counter)
  --time UNIX           Unix seconds to compute at, instead of now
  --window N            TOTP: steps accepted each side of now (default 1, at most 10);
                        HOTP: counters accepted past --counter (default 0, at most 50)
  --after-counter N     TOTP: the last accepted counter; a code at or before it is "reused"
  --encoder steam       Steam Guard codes (5 characters)
  --json                verify: print the result as JSON (counter, delta, expiresAt, or reason)
  --format F            qr: terminal (the default on a terminal), svg (otherwise) or png
  --out FILE            qr: write to FILE, readable only by you (a QR code of a key is a secret)

Exit status: 0 success; 1 code rejected (wrong, reused or malformed), or the server or an operator
command could not start (database out of reach, a key missing from OTPKIT_KEYS); 2 bad usage, key or URI.
`;

const COMMANDS: Readonly<Record<string, (args: string[], io: CliIo) => number | Promise<number>>> = {
  code,
  verify,
  secret,
  uri,
  inspect,
  qr,
  import: importMigration,
  keys,
  serve,
  migrate,
  users,
  audit,
};

/** Runs one command line; never throws for bad input, which is exit status 2. */
async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(HELP);
    return EXIT.OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr('otpkit: unknown command (see otpkit --help)\n');
    return EXIT.USAGE;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(HELP);
    return EXIT.OK;
  }
  try {
    return await command(args, io);
  } catch (error) {
    // These messages never contain a secret, a code or a password; they are safe to print.
    const configError = error instanceof Error && error.name === 'ConfigError';
    if (error instanceof OtpkitError || error instanceof ServiceError || configError) {
      io.stderr(`otpkit ${name}: ${error.message}${configError ? '' : ` [${(error as OtpkitError).code}]`}\n`);
      return EXIT.USAGE;
    }
    throw error;
  }
}

export { runCli };
