// Composition root of the otpkit binary: the only place that reads the real
// clock, stdin and argv, and sets the exit status.

import { chmod, writeFile } from 'node:fs/promises';
import { runCli } from '../cli/index.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (data) => process.stdout.write(data),
  stderr: (text) => process.stderr.write(text),
  stdoutIsTerminal: process.stdout.isTTY === true,
  async writePrivateFile(path, data) {
    await chmod(path, 0o600).catch(() => undefined); // an existing file: narrow it before writing
    await writeFile(path, data, { mode: 0o600 });
  },
  nowSeconds: () => Date.now() / 1000,
  readStdin,
});
