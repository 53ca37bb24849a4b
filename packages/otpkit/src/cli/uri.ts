// otpkit uri: renders an otpauth:// key URI for an authenticator app.

import { formatKeyUri } from '@otpkit/core';
import { type CliIo, EXIT } from './io.js';
import { KEY_FLAGS, keyFromFlags, parse, usage } from './options.js';

async function uri(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(
    args,
    { ...KEY_FLAGS, account: { type: 'string' }, issuer: { type: 'string' }, image: { type: 'string' } },
    0,
  );
  if (values.account === undefined) throw usage('give the account name with --account NAME');
  const key = await keyFromFlags(values, 'uri', io);
  io.stdout(`${formatKeyUri({ ...key, account: values.account, issuer: values.issuer, image: values.image })}\n`);
  return EXIT.OK;
}

export { uri };
