// otpkit import URI: a Google Authenticator export (otpauth-migration://) as
// one otpauth:// key URI per line.

import { formatKeyUri, parseMigrationUri } from '@otpkit/core';
import { type CliIo, EXIT } from './io.js';
import { parse } from './options.js';

function importMigration(args: string[], io: CliIo): number {
  const { values, positionals } = parse(args, { 'allow-short-secret': { type: 'boolean' } }, 1);
  const allowShortSecret = values['allow-short-secret'] ?? false;
  const keys = parseMigrationUri(positionals[0]!, { allowShortSecret });
  io.stdout(keys.map((key) => `${formatKeyUri({ ...key, allowShortSecret })}\n`).join(''));
  return EXIT.OK;
}

export { importMigration };
