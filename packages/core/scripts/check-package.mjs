// Lints @otpkit/core as npm would publish it: packs it once (prepack builds
// dist/ from a clean slate), then runs publint and Are the Types Wrong (attw)
// on that tarball. Run: npm run check:packages (CI does).
//
// attw runs with --profile esm-only: the package is ESM only ("type": "module",
// one "exports" entry with no "require" condition), so the two resolutions that
// profile skips cannot succeed by design: node10 (no "exports" support at all)
// and require() from CommonJS under node16. Every ESM and bundler resolution
// is still checked.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => fileURLToPath(new URL(`../../../node_modules/.bin/${name}`, import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'otpkit-check-'));
try {
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
      cwd: PACKAGE,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const tarball = join(dir, packed.filename);
  console.log(`packed ${packed.name}@${packed.version}: ${packed.entryCount} files, ${packed.size} bytes`);
  execFileSync(bin('publint'), ['run', tarball, '--strict'], { stdio: 'inherit' });
  execFileSync(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped'], { stdio: 'inherit' });
} catch (error) {
  // The tools have said what is wrong on stdout/stderr already.
  process.exitCode = typeof error.status === 'number' && error.status !== 0 ? error.status : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
