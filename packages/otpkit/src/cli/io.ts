// What a command may touch, passed in by main/: output streams, files, the
// clock, stdin, and the configured service and server.

/** Exit codes, stable for scripts. */
const EXIT = {
  /** The command did what was asked; for verify, the code was accepted. */
  OK: 0,
  /** verify: the code was rejected (wrong, reused or malformed). */
  REJECTED: 1,
  /** Bad usage, or a bad key or URI. */
  USAGE: 2,
} as const;

import type { RandomBytes } from '@otpkit/core';
import type { Service } from '../service/index.js';

/** otpkit's service over its configured database, for the admin commands. */
interface Opened {
  service: Service;
  /** Migrations this opening applied. */
  applied: string[];
  close(): Promise<void>;
}

interface CliIo {
  /** Opens the configured database (applying migrations) and the service. */
  openService(): Promise<Opened>;
  /** Starts the HTTP server; resolves with its address once it listens. */
  serve(options: { port?: number; host?: string }): Promise<string>;
  stdout(data: string | Uint8Array): void;
  stderr(text: string): void;
  /** Whether stdout is a terminal (then binary output needs --out). */
  stdoutIsTerminal: boolean;
  /** Writes a file readable only by its owner: QR codes and keys are secrets. */
  writePrivateFile(path: string, data: string | Uint8Array): Promise<void>;
  /** The current Unix time in seconds. */
  nowSeconds(): number;
  /** A CSPRNG, for new secrets and key-ring entries. */
  randomBytes: RandomBytes;
  /** All of standard input, for `--secret -`. */
  readStdin(): Promise<string>;
}

export type { CliIo, Opened };
export { EXIT };
