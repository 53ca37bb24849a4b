// otpkit verify CODE: exit 0 if accepted, 1 if rejected, with --json for scripts.

import { createHotp, createTotp, type HotpResult, type TotpResult } from '@otpkit/core';
import { type CliIo, EXIT } from './io.js';
import { KEY_FLAGS, keyFromFlags, parse, parseTime, parseWhole, usage } from './options.js';

async function verify(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ...KEY_FLAGS,
      uri: { type: 'string' },
      time: { type: 'string' },
      window: { type: 'string' },
      'after-counter': { type: 'string' },
      json: { type: 'boolean' },
    },
    1,
  );
  // People type codes here: 123 456 and 123-456 are both the code.
  const key = { ...(await keyFromFlags(values, 'verify', io)), separators: true };
  const window = parseWhole('window', values.window, 0);
  let result: HotpResult | TotpResult;
  if (key.type === 'hotp') {
    if (values['after-counter'] !== undefined)
      throw usage('--after-counter is for TOTP; HOTP takes --counter, the next expected');
    result = createHotp(key).verify(positionals[0]!, { counter: key.counter ?? 0, lookAhead: window ?? 0 });
  } else {
    result = createTotp(key).verify(positionals[0]!, {
      nowSeconds: parseTime(values.time) ?? io.nowSeconds(),
      window: window ?? 1,
      afterCounter: parseWhole('after-counter', values['after-counter'], 0),
    });
  }
  if (values.json) {
    io.stdout(`${JSON.stringify(result)}\n`);
  } else if (result.ok) {
    io.stdout(`valid: counter ${result.counter}, delta ${result.delta}\n`);
  } else {
    io.stdout(`rejected: ${result.reason}\n`);
  }
  return result.ok ? EXIT.OK : EXIT.REJECTED;
}

export { verify };
