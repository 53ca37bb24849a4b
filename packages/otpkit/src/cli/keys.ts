// otpkit keys generate: a new key-ring entry for OTPKIT_KEYS; otpkit keys rotate:
// reseal what is stored under the current key.

import { generateKeyRingEntry } from '@otpkit/core';
import { type CliIo, EXIT } from './io.js';
import { parse, usage } from './options.js';

const BAR_WIDTH = 30;

/** keys rotate: reseals every stored secret under the current key; safe to stop and run again. */
async function rotate(io: CliIo): Promise<number> {
  const opened = await io.openService();
  try {
    const { checked, resealed, backupCodesOnOldKeys } = await opened.service.rotateKeys((done, total) => {
      if (!io.stdoutIsTerminal) return;
      const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
      io.stderr(`\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total}`);
    });
    if (io.stdoutIsTerminal) io.stderr('\n');
    io.stdout(`checked ${checked} secrets, resealed ${resealed} under the current key\n`);
    // Backup codes are keyed hashes: they cannot be re-keyed without the codes, which only their users hold.
    for (const { keyId, users } of backupCodesOnOldKeys) {
      io.stdout(
        `key ${keyId}: the unused backup codes of ${users} users still depend on it; keep it in OTPKIT_KEYS until they make new codes\n`,
      );
    }
    return EXIT.OK;
  } finally {
    await opened.close();
  }
}

async function keys(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { id: { type: 'string' } }, 1);
  if (positionals[0] === 'rotate') return rotate(io);
  if (positionals[0] !== 'generate') throw usage('expected: otpkit keys generate [--id ID] or otpkit keys rotate');
  // By default the id is the UTC time, so ids sort by age: k20261122T043012.
  const id = values.id ?? `k${new Date(io.nowSeconds() * 1000).toISOString().replace(/[-:]|\.\d+Z$/g, '')}`;
  io.stdout(`${generateKeyRingEntry({ id, randomBytes: io.randomBytes })}\n`);
  return EXIT.OK;
}

export { keys };
