// What a command may touch: output streams, the clock and stdin, passed in by main/.

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
  stdout(text: string): void;
  stderr(text: string): void;
  /** The current Unix time in seconds. */
  nowSeconds(): number;
  /** All of standard input, for `--secret -`. */
  readStdin(): Promise<string>;
}

export type { CliIo };
export { EXIT };
