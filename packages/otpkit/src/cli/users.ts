// otpkit users list | unlock NAME | reset-2fa NAME: operator actions on accounts.

import { type CliIo, EXIT } from './io.js';
import { parse, usage } from './options.js';

async function users(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parse(args, {}, args[0] === 'list' ? 1 : 2);
  const [action, name] = positionals as [string, string | undefined];
  if (!['list', 'unlock', 'reset-2fa'].includes(action))
    throw usage('expected: otpkit users list | unlock NAME | reset-2fa NAME');
  const opened = await io.openService();
  try {
    if (action === 'list') {
      const rows = await opened.service.listUsers();
      io.stdout(`${['USERNAME', '2FA', 'LOCKED', 'CREATED'].join('\t')}\n`);
      for (const u of rows) {
        const locked = u.lockedPermanently ? 'until unlocked' : (u.lockedUntil ?? 'no');
        io.stdout(`${[u.username, u.twoFactor, locked, u.createdAt].join('\t')}\n`);
      }
    } else if (action === 'unlock') {
      await opened.service.unlock(name!);
      io.stdout(`unlocked the second factor of ${name}\n`);
    } else {
      await opened.service.resetTwoFactor(name!);
      io.stdout(`removed two-factor authentication from ${name}; they can enroll again\n`);
    }
    return EXIT.OK;
  } finally {
    await opened.close();
  }
}

export { users };
