// A server started as its own process, as an operator would start it: resolves
// with its base URL once it says "listening on http://...", or rejects with
// what it printed if it exits first. Every process started is killed at exit.

import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll } from 'vitest';

const started: ChildProcess[] = [];
afterAll(() => {
  for (const child of started) child.kill();
});

function startListening(
  script: string,
  args: string[],
  options: { env: Record<string, string>; cwd?: string },
): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, [script, ...args], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: options.env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  started.push(child);
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) resolve({ child, base: match[1]! });
    });
    child.on('exit', (status) => reject(new Error(`${script} exited with ${status}: ${stderr}`)));
  });
}

export { startListening };
