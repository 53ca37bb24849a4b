// otpkit inspect URI: what a key URI holds, as JSON (the secret in canonical base32).

import { base32Encode } from '@otpkit/core';
import { type CliIo, EXIT } from './io.js';
import { parse, readKeyUri } from './options.js';

function inspect(args: string[], io: CliIo): number {
  const { positionals } = parse(args, {}, 1);
  const key = readKeyUri(positionals[0]!, 'inspect', io);
  const shown = {
    type: key.type,
    issuer: key.issuer ?? null,
    account: key.account,
    secret: base32Encode(key.secret),
    algorithm: key.algorithm,
    digits: key.digits,
    encoder: key.encoder,
    period: key.type === 'totp' ? key.periodSeconds : null,
    counter: key.counter ?? null,
    image: key.image ?? null,
  };
  io.stdout(`${JSON.stringify(shown, null, 2)}\n`);
  return EXIT.OK;
}

export { inspect };
