// otpkit code: prints the current TOTP code, or the HOTP code at --counter.

import { createHotp, createTotp } from '@otpkit/core';
import { type CliIo, EXIT } from './io.js';
import { KEY_FLAGS, keyFromFlags, parse, parseTime } from './options.js';

async function code(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...KEY_FLAGS, uri: { type: 'string' }, time: { type: 'string' } }, 0);
  const key = await keyFromFlags(values, 'code', io);
  if (key.type === 'hotp') {
    io.stdout(`${createHotp(key).generate(key.counter ?? 0)}\n`);
  } else {
    io.stdout(`${createTotp(key).generate(parseTime(values.time) ?? io.nowSeconds())}\n`);
  }
  return EXIT.OK;
}

export { code };
