// otpkit secret: a new random key in canonical base32.

import { base32Encode, generateSecret } from '@otpkit/core';
import { type CliIo, EXIT } from './io.js';
import { parse, parseWhole } from './options.js';

function secret(args: string[], io: CliIo): number {
  const { values } = parse(args, { bytes: { type: 'string' } }, 0);
  const bytes = parseWhole('bytes', values.bytes, 0) ?? 20;
  io.stdout(`${base32Encode(generateSecret({ bytes, randomBytes: io.randomBytes }))}\n`);
  return EXIT.OK;
}

export { secret };
