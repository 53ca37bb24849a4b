// Removes the build output and tsc's build state, so `prepack` builds dist/
// from src/ alone: no file of a deleted source, no "up to date" skip.
// @otpkit/core's dist/ is its own package's: left alone (tsc -b brings it up to date).

import { rmSync } from 'node:fs';

for (const path of ['../dist', '../tsconfig.tsbuildinfo']) {
  rmSync(new URL(path, import.meta.url), { recursive: true, force: true });
}
