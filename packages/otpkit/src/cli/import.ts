// otpkit import URI: a Google Authenticator export (otpauth-migration://) as
// one otpauth:// key URI per line on stdout; warnings and the part of a
// multi-code export on stderr.

import { formatKeyUri, OtpkitError, parseMigrationUri } from '@otpkit/core';
import { type CliIo, EXIT } from './io.js';
import { parse, warnIfShort } from './options.js';

function importMigration(args: string[], io: CliIo): number {
  const { positionals } = parse(args, {}, 1);
  const { keys, batch } = parseMigrationUri(positionals[0]!);
  let out = '';
  const notes: string[] = [];
  let failed = 0;
  keys.forEach((key, i) => {
    const entry = i + 1;
    try {
      out += `${formatKeyUri(key)}\n`;
    } catch (error) {
      // e.g. an account name with ':', which a key URI cannot hold. The
      // message names the field and the limit, never the key.
      if (!(error instanceof OtpkitError)) throw error;
      notes.push(`entry ${entry} not imported: ${error.message} [${error.code}]`);
      failed++;
      return;
    }
    warnIfShort(key.secret, 'import', io, `the key of entry ${entry}`);
  });
  if (batch.size > 1) {
    notes.push(
      `part ${batch.index + 1} of ${batch.size} of export ${batch.id} (${keys.length} key${keys.length === 1 ? '' : 's'}); import the other parts too`,
    );
  }
  if (out !== '') io.stdout(out);
  if (notes.length > 0) io.stderr(notes.map((note) => `otpkit import: ${note}\n`).join(''));
  return failed === 0 ? EXIT.OK : EXIT.USAGE;
}

export { importMigration };
