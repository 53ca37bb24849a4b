// Composition root of the otpkit binary: the only place that reads the real
// clock, stdin and argv, and sets the exit status.

import { runCli } from '../cli/index.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  nowSeconds: () => Date.now() / 1000,
  readStdin,
});
