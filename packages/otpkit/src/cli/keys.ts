// otpkit keys generate: a new key-ring entry for OTPKIT_KEYS; otpkit keys rotate:
// reseal what is stored under the current key.

import { generateKeyRingEntry } from '@otpkit/core';
import { type CliIo, EXIT } from './io.js';
import { parse, usage } from './options.js';

const BAR_WIDTH = 30;

/** keys rotate's progress on stderr: a bar redrawn in place on a terminal, else a line at each tenth done. */
function progress(io: CliIo): { update(done: number, total: number): void; end(): void } {
  if (io.stdoutIsTerminal) {
    return {
      update(done, total) {
        const filled = total === 0 ? BAR_WIDTH : Math.min(BAR_WIDTH, Math.round((done / total) * BAR_WIDTH));
        io.stderr(`\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total}`);
      },
      end: () => io.stderr('\n'),
    };
  }
  // A log file or a pipe: ten lines at most, e.g. "otpkit keys rotate: 10% (100000/1000000)".
  let tenthsShown = 0;
  return {
    update(done, total) {
      // done passes total when users enrol meanwhile: the 100% line still comes once.
      const tenths = total === 0 ? 10 : Math.min(10, Math.floor((done * 10) / total));
      if (tenths <= tenthsShown) return;
      tenthsShown = tenths;
      io.stderr(`otpkit keys rotate: ${tenths * 10}% (${done}/${total})\n`);
    },
    end: () => undefined,
  };
}

/** keys rotate: reseals every stored secret under the current key; safe to stop and run again. */
async function rotate(io: CliIo): Promise<number> {
  const opened = await io.openService();
  try {
    const shown = progress(io);
    const { checked, resealed, backupCodesOnOldKeys } = await opened.service.rotateKeys(shown.update);
    shown.end();
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
