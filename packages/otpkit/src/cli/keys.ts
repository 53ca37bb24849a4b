// otpkit keys generate: a new key-ring entry for OTPKIT_KEYS.

import { generateKeyRingEntry } from '@otpkit/core';
import { type CliIo, EXIT } from './io.js';
import { parse, usage } from './options.js';

function keys(args: string[], io: CliIo): number {
  const { values, positionals } = parse(args, { id: { type: 'string' } }, 1);
  if (positionals[0] !== 'generate') throw usage('expected: otpkit keys generate [--id ID]');
  // By default the id is the UTC time, so ids sort by age: k20261122T043012.
  const id = values.id ?? `k${new Date(io.nowSeconds() * 1000).toISOString().replace(/[-:]|\.\d+Z$/g, '')}`;
  io.stdout(`${generateKeyRingEntry({ id })}\n`);
  return EXIT.OK;
}

export { keys };
