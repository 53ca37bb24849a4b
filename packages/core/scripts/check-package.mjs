// Lints the packages as npm would publish them: packs each once (prepack
// builds dist/ from a clean slate), then runs publint and Are the Types Wrong
// (attw) on that tarball. Run: npm run check:packages (CI does), which checks
// @otpkit/core and otpkit; `node check-package.mjs DIR...` checks the package
// directories given (default: @otpkit/core, this script's own package).
//
// attw runs with --profile esm-only: both packages are ESM only ("type":
// "module", "exports" entries with no "require" condition), so the two
// resolutions that profile skips cannot succeed by design: node10 (no
// "exports" support at all) and require() from CommonJS under node16. Every
// ESM and bundler resolution is still checked.
//
// otpkit's bin and its native dependency (better-sqlite3) need nothing of
// their own here: attw reads the tarball alone, installs nothing and runs
// nothing, and checks what its "exports" entries (otpkit/server, otpkit/qr)
// resolve to and the relative imports of the files they reach. It does not
// follow imports of other packages (fastify, @otpkit/core) into them: that a
// consumer type-checks against the published types with its dependencies
// installed is packages/otpkit/test/package.test.ts's job.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packages =
  process.argv.length > 2
    ? process.argv.slice(2).map((dir) => resolve(dir))
    : [fileURLToPath(new URL('..', import.meta.url))];
const bin = (name) => fileURLToPath(new URL(`../../../node_modules/.bin/${name}`, import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'otpkit-check-'));
try {
  for (const pkg of packages) {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
        cwd: pkg,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const tarball = join(dir, packed.filename);
    console.log(`packed ${packed.name}@${packed.version}: ${packed.entryCount} files, ${packed.size} bytes`);
    execFileSync(bin('publint'), ['run', tarball, '--strict'], { stdio: 'inherit' });
    execFileSync(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped'], { stdio: 'inherit' });
  }
} catch (error) {
  // The tools have said what is wrong on stdout/stderr already.
  process.exitCode = typeof error.status === 'number' && error.status !== 0 ? error.status : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
