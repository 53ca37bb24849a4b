// What a command may touch: output streams, files, the clock and stdin, passed in by main/.

/** Exit codes, stable for scripts. */
const EXIT = {
  /** The command did what was asked; for verify, the code was accepted. */
  OK: 0,
  /** verify: the code was rejected (wrong, reused or malformed). */
  REJECTED: 1,
  /** Bad usage, or a bad key or URI. */
  USAGE: 2,
} as const;

interface CliIo {
  stdout(data: string | Uint8Array): void;
  stderr(text: string): void;
  /** Whether stdout is a terminal (then binary output needs --out). */
  stdoutIsTerminal: boolean;
  /** Writes a file readable only by its owner: QR codes and keys are secrets. */
  writePrivateFile(path: string, data: string | Uint8Array): Promise<void>;
  /** The current Unix time in seconds. */
  nowSeconds(): number;
  /** All of standard input, for `--secret -`. */
  readStdin(): Promise<string>;
}

export type { CliIo };
export { EXIT };
