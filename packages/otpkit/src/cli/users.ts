// otpkit users list | unlock NAME | reset-2fa NAME | deactivate NAME | reactivate NAME:
// operator actions on accounts.

import { type CliIo, EXIT } from './io.js';
import { parse, usage } from './options.js';

async function users(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parse(args, {}, args[0] === 'list' ? 1 : 2);
  const [action, name] = positionals as [string, string | undefined];
  if (!['list', 'unlock', 'reset-2fa', 'deactivate', 'reactivate'].includes(action))
    throw usage('expected: otpkit users list | unlock NAME | reset-2fa NAME | deactivate NAME | reactivate NAME');
  const opened = await io.openService();
  try {
    if (action === 'list') {
      const rows = await opened.service.listUsers();
      io.stdout(`${['USERNAME', '2FA', 'LOCKED', 'ACTIVE', 'CREATED'].join('\t')}\n`);
      for (const u of rows) {
        const locked = u.lockedPermanently ? 'until unlocked' : (u.lockedUntil ?? 'no');
        const active = u.deactivatedAt === null ? 'yes' : `no (since ${u.deactivatedAt})`;
        io.stdout(`${[u.username, u.twoFactor, locked, active, u.createdAt].join('\t')}\n`);
      }
    } else if (action === 'unlock') {
      await opened.service.unlock(name!);
      io.stdout(`unlocked the second factor of ${name}\n`);
    } else if (action === 'reset-2fa') {
      await opened.service.resetTwoFactor(name!);
      io.stdout(`removed two-factor authentication from ${name}; they can enroll again\n`);
    } else if (action === 'deactivate') {
      await opened.service.deactivate(name!);
      io.stdout(`deactivated ${name}: no sign-in until reactivated; their sessions and trusted devices ended\n`);
    } else {
      await opened.service.reactivate(name!);
      io.stdout(`reactivated ${name}\n`);
    }
    return EXIT.OK;
  } finally {
    await opened.close();
  }
}

export { users };
