// What ships of the server: otpkit and @otpkit/core packed from a clean clone
// (no dist/ yet, so each `prepack` must build), what the tarballs hold, and an
// empty project that installs both offline, as a user would from npm, then
// runs `npx otpkit`, serves on SQLite and type-checks against `otpkit/server`.

import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoDanglingReferences } from '../../../test/support/packed.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PACKAGES = { core: join(ROOT, 'packages/core'), otpkit: join(ROOT, 'packages/otpkit') };
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // RFC 6238 App. B's SHA-1 key; 94287082 at T=59, 8 digits

// The child processes see what a user's shell would: no npm lifecycle
// variables of the `npm test` around us (the npm cache and config stay) and no
// OTPKIT_* settings of this run; npm is offline, so a package missing from the
// cache fails the install instead of being fetched.
const ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !(name.startsWith('OTPKIT_') || (/^npm_/i.test(name) && !/^npm_config_(cache|userconfig)$/i.test(name))),
    ),
  ),
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_loglevel: 'error',
};
function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, env: ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // The message holds stderr; tsc (in prepack) says what is wrong on stdout.
    const { stdout } = error as { stdout?: string };
    if (stdout) (error as Error).message += `\n${stdout.slice(-4000)}`;
    throw error;
  }
}

const groups = new Set<ChildProcess>();

/**
 * Starts a command in a process group of its own, so that it stops with what
 * it runs: npx runs the bin under a shell, npm rebuild runs make and the compiler.
 */
function spawnGroup(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, { ...options, env: ENV, detached: true });
  groups.add(child);
  child.on('exit', () => groups.delete(child));
  return child;
}

/** Stops a group spawnGroup started, and waits for its first process. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (!groups.has(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    // The whole group is gone already; its exit event is on its way.
  }
  await exited;
}

// What a fresh clone of a package holds: no build output, no build state.
const BUILT = new Set(['dist', 'node_modules', 'tsconfig.tsbuildinfo']);

/**
 * Copies both packages as a clone has them, and the base tsconfig they extend,
 * into `dir`; the working tree is left alone. Their node_modules/ is the
 * repo's toolchain and third-party packages (as `npm ci` puts them beside a
 * clone), except that @otpkit/core is the copy's own, so otpkit builds
 * against the core built here.
 */
function cleanClone(dir: string): { core: string; otpkit: string } {
  const clone = join(dir, 'clone');
  for (const name of ['core', 'otpkit'] as const) {
    cpSync(PACKAGES[name], join(clone, 'packages', name), {
      recursive: true,
      filter: (source) => !BUILT.has(basename(source)) && !source.endsWith('.tgz'),
    });
  }
  cpSync(join(ROOT, 'tsconfig.base.json'), join(clone, 'tsconfig.base.json'));
  mkdirSync(join(clone, 'node_modules/@otpkit'), { recursive: true });
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry !== '@otpkit' && entry !== 'otpkit') {
      symlinkSync(join(ROOT, 'node_modules', entry), join(clone, 'node_modules', entry));
    }
  }
  symlinkSync(join(clone, 'packages/core'), join(clone, 'node_modules/@otpkit/core'), 'dir');
  return { core: join(clone, 'packages/core'), otpkit: join(clone, 'packages/otpkit') };
}

interface Packed {
  name: string;
  version: string;
  filename: string;
  integrity: string;
  files: { path: string }[];
}

type LockEntry = Record<string, unknown> & { dev?: boolean; link?: boolean; version?: string };

/**
 * The consumer's lockfile: the two tarballs, plus what the repo's lockfile
 * installs for them (not its dev-only packages), at the versions CI tests. A
 * lockfile is what lets the install run offline: without one npm 11 asks the
 * registry for full package documents, which `npm ci` never fetched; with
 * one it reads each package from the cache by its integrity.
 */
function consumerLock(core: Packed, otpkit: Packed, devDependencies: string[]) {
  const repo = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const dependencies = { '@otpkit/core': `file:${core.filename}`, otpkit: `file:${otpkit.filename}` };
  const dev = Object.fromEntries(
    devDependencies.map((name) => [name, repo.packages[`node_modules/${name}`]!.version!]),
  );
  const packages: Record<string, LockEntry> = {
    '': { name: 'consumer', dependencies, devDependencies: dev },
  };
  for (const [path, entry] of Object.entries(repo.packages)) {
    if (path.startsWith('node_modules/') && !entry.dev && !entry.link) packages[path] = entry;
  }
  // A dev-only package the consumer wants (@types/node) and what it needs.
  const wanted = [...devDependencies];
  for (let name = wanted.pop(); name !== undefined; name = wanted.pop()) {
    const entry = repo.packages[`node_modules/${name}`]!;
    packages[`node_modules/${name}`] = entry;
    wanted.push(...Object.keys((entry.dependencies as Record<string, string> | undefined) ?? {}));
  }
  for (const [path, tarball] of [
    ['packages/core', core],
    ['packages/otpkit', otpkit],
  ] as const) {
    packages[`node_modules/${tarball.name}`] = {
      ...repo.packages[path],
      resolved: `file:${tarball.filename}`,
      integrity: tarball.integrity,
    };
  }
  return {
    manifest: { name: 'consumer', private: true, type: 'module', dependencies, devDependencies: dev },
    lock: { name: 'consumer', lockfileVersion: 3, requires: true, packages },
  };
}

const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

describe('otpkit and @otpkit/core, packed from a clean clone and installed offline', () => {
  let dir: string;
  let consumer: string;
  let files: string[];
  let coreVersion: string;
  /** The packed otpkit's folder in the clone: the sources, migrations and web UI it was packed from. */
  let packedFrom: string;
  /** Why nothing could be installed, where this machine cannot (see beforeAll); undefined: installed. */
  let unavailable: string | undefined;
  /** Settles when better-sqlite3's install script (a prebuilt binary, or a compile) has run. */
  let nativeBuilt: Promise<void>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'otpkit-package-'));
    const clone = cleanClone(dir);
    let since = performance.now();
    // One after the other: otpkit's `tsc -b` builds the core it references too.
    const pack = (cwd: string) =>
      (JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], cwd)) as Packed[])[0]!;
    const core = pack(clone.core);
    const otpkit = pack(clone.otpkit);
    coreVersion = core.version;
    files = otpkit.files.map((f) => f.path).sort();
    packedFrom = clone.otpkit;
    const packing = seconds(since);

    consumer = join(dir, 'consumer');
    mkdirSync(consumer);
    const { manifest, lock } = consumerLock(core, otpkit, ['@types/node']);
    // Copied into the consumer, so the lockfile's file: paths are its own.
    for (const tarball of [core, otpkit]) cpSync(join(dir, tarball.filename), join(consumer, tarball.filename));
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ ...manifest, allowScripts: { 'better-sqlite3': true } }),
    );
    writeFileSync(join(consumer, 'package-lock.json'), JSON.stringify(lock));
    since = performance.now();
    // Install scripts run next, in the background (`npm rebuild` runs the same
    // scripts an install does), so the type-check below overlaps the compile.
    try {
      run('npm', ['install', '--ignore-scripts'], consumer);
    } catch (error) {
      // A package of the lockfile missing from this machine's npm cache (cleaned,
      // or the repo installed with another cache): offline, nothing to install it
      // from. CI fills the cache with `npm ci` just before, so there it fails.
      const stderr = String((error as { stderr?: unknown }).stderr ?? '');
      if (process.env.CI || !stderr.includes('ENOTCACHED')) throw error;
      unavailable = (stderr.split('\n').find((line) => line.includes('only-if-cached')) ?? 'ENOTCACHED').replace(
        /^npm error /,
        '',
      );
      console.warn(
        `\n!!! SKIPPING the offline install of otpkit: the npm cache lacks a package (${unavailable}); \`npm ci\` fills it !!!\n`,
      );
      return;
    }
    const installing = seconds(since);

    since = performance.now();
    const log = join(dir, 'rebuild.log');
    const child = spawnGroup('npm', ['rebuild'], {
      cwd: consumer,
      stdio: ['ignore', openSync(log, 'w'), openSync(log, 'a')],
    });
    nativeBuilt = new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (status) => {
        if (status === 0) {
          console.log(
            `otpkit package: packed both in ${packing} s, installed offline in ${installing} s, install scripts (better-sqlite3) ran in ${seconds(since)} s`,
          );
          resolve();
        } else reject(new Error(`npm rebuild exited with ${status}:\n${readFileSync(log, 'utf8').slice(-4000)}`));
      });
    });
    nativeBuilt.catch(() => undefined); // each test that needs it awaits it and fails with the reason
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...groups].map(stopGroup)); // a compile still running after a failure, a server
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('builds dist/ itself (prepack), and holds the bin, the built JavaScript and types, migrations, the web UI, README and licence', () => {
    for (const file of files) {
      expect(file).toMatch(
        /^(package\.json|README\.md|LICENSE|bin\/otpkit\.js|dist\/.+\.(js|d\.ts)|migrations\/[^/]+\.sql|web\/[^/]+\.(html|js|css|svg))$/,
      );
    }
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'bin/otpkit.js', 'dist/main/cli.js']));
    // Every source module built, and nothing built from a source that is gone.
    const sources = readdirSync(join(packedFrom, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.split('\\').join('/').replace(/\.ts$/, ''));
    expect(files.filter((f) => f.startsWith('dist/'))).toEqual(
      sources.flatMap((f) => [`dist/${f}.d.ts`, `dist/${f}.js`]).sort(),
    );
    // The migrations the store applies and the web UI it serves are read from disk beside dist/.
    for (const folder of ['migrations', 'web']) {
      expect(files.filter((f) => f.startsWith(`${folder}/`))).toEqual(
        readdirSync(join(packedFrom, folder))
          .map((f) => `${folder}/${f}`)
          .sort(),
      );
    }
  });

  it('refers to no file it does not ship (no source maps, no missing modules)', ({ skip }) => {
    skip(unavailable !== undefined, 'not installed: the npm cache lacks a package');
    const installed = join(consumer, 'node_modules/otpkit');
    expectNoDanglingReferences(installed, files);
    const shipped = new Set(files);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    const targets = [
      manifest.bin.otpkit,
      ...Object.values(manifest.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e as object))),
    ];
    for (const target of targets as string[])
      expect(shipped, `package.json names ${target}`).toContain(posix.normalize(target));
  });

  it('is public, exports only its documented entry points, and depends on @otpkit/core by version, not bundled', ({
    skip,
  }) => {
    skip(unavailable !== undefined, 'not installed: the npm cache lacks a package');
    const manifest = JSON.parse(readFileSync(join(consumer, 'node_modules/otpkit/package.json'), 'utf8'));
    expect(manifest.private).toBeUndefined();
    expect(Object.keys(manifest.exports)).toEqual(['./server', './qr', './package.json']);
    expect(manifest.engines).toEqual({ node: '>=20.12' });
    expect(manifest.dependencies['@otpkit/core']).toBe(coreVersion);
    expect(manifest.bundleDependencies ?? manifest.bundledDependencies).toBeUndefined();
    // One @otpkit/core in the tree: the tarball installed beside otpkit.
    expect(existsSync(join(consumer, 'node_modules/@otpkit/core/dist/index.js'))).toBe(true);
    expect(existsSync(join(consumer, 'node_modules/otpkit/node_modules'))).toBe(false);
  });

  it('type-checks a strict TypeScript consumer of @otpkit/core and otpkit/server against the shipped declarations', ({
    skip,
  }) => {
    skip(unavailable !== undefined, 'not installed: the npm cache lacks a package');
    writeFileSync(
      join(consumer, 'consumer.ts'),
      `import { createTotp, parseKeyUri, type KeyUri } from '@otpkit/core';
       import { qrSvg } from 'otpkit/qr';
       import {
         buildApp, checkPolicy, compose, DEFAULT_POLICY, memoryThrottle, otpkitExpress, otpkitFastify, otpkitFetch, readConfig,
         type AppOptions, type AuditEvent, type ComposeOptions, type CurrentUser, type OtpkitFastifyOptions, type Policy, type Service,
       } from 'otpkit/server';

       const events: AuditEvent['type'][] = [];
       const options: ComposeOptions = { say: (line) => console.log(line), onEvent: (event) => void events.push(event.type) };
       const otpkit = await compose(readConfig(process.env, process.cwd()), options);
       const service: Service = otpkit.service;
       const currentUser: CurrentUser<Request> = async (request) => request.headers.get('x-user') ?? undefined;
       export const handler: (request: Request) => Promise<Response> = otpkitFetch({ service, currentUser, basePath: '/2fa' });
       export const middleware = otpkitExpress({ service, throttle: otpkit.throttle, currentUser: () => 'user-1' });
       const plugin: OtpkitFastifyOptions = { service, throttle: memoryThrottle({ limit: 60, windowMs: 60_000, now: Date.now }) };
       export const registered = otpkit.app.register(otpkitFastify, { ...plugin, prefix: '/2fa' });
       const appOptions: AppOptions = { service, trustProxy: 1 };
       export const app = await buildApp(appOptions);
       export const policy: Policy = checkPolicy({ backupCodes: DEFAULT_POLICY.backupCodes });
       export const svg: Promise<string> = qrSvg('otpauth://totp/A:b?secret=${SECRET}');
       const key: KeyUri = parseKeyUri('otpauth://totp/A:b?secret=${SECRET}');
       export const code: string = createTotp(key).generate(59);
       // @ts-expect-error: a Fetch handler takes a Request
       void handler('/2fa/status');
       // @ts-expect-error: internals are not exported
       await import('otpkit/dist/service/index.js');
       await otpkit.close();
      `,
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          noEmit: true,
          // Node's types, as for fastify itself: the server's declarations name node:http.
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    );
    // No skipLibCheck: the shipped declarations are checked too, against their dependencies as installed.
    execFileSync(process.execPath, [TSC, '-p', consumer], { cwd: consumer, encoding: 'utf8' });
  }, 120_000);

  it('runs `npx otpkit`: help, and a code (RFC 6238 App. B)', async ({ skip }) => {
    skip(unavailable !== undefined, 'not installed: the npm cache lacks a package');
    await nativeBuilt;
    expect(run('npx', ['otpkit', '--help'], consumer)).toMatch(/^Usage:/m);
    expect(run('npx', ['otpkit', 'code', '--secret', SECRET, '--time', '59', '--digits', '8'], consumer).trim()).toBe(
      '94287082',
    );
  }, 300_000);

  it('imports otpkit/server and otpkit/qr from a plain Node script, and nothing else of it', async ({ skip }) => {
    skip(unavailable !== undefined, 'not installed: the npm cache lacks a package');
    await nativeBuilt;
    const script = `
      const reach = (path) => import(path).then(() => 'reachable', (e) => e.code);
      const server = await import('otpkit/server');
      const { qrSvg } = await import('otpkit/qr');
      const { default: manifest } = await import('otpkit/package.json', { with: { type: 'json' } });
      console.log(JSON.stringify({
        server: Object.keys(server).sort(),
        svg: (await qrSvg('otpauth://totp/A:b?secret=${SECRET}')).slice(0, 4),
        version: manifest.version,
        root: await reach('otpkit'),
        internal: await reach('otpkit/dist/main/cli.js'),
      }));
    `;
    const out = JSON.parse(run(process.execPath, ['--input-type=module', '-e', script], consumer));
    expect(out.server).toEqual(
      expect.arrayContaining(['buildApp', 'compose', 'otpkitExpress', 'otpkitFastify', 'otpkitFetch', 'readConfig']),
    );
    expect(out.svg).toBe('<svg');
    expect(out.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(out.root).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    expect(out.internal).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('serves with `npx otpkit serve`: SQLite in ./data, GET /healthz answers ok', async ({ skip }) => {
    skip(unavailable !== undefined, 'not installed: the npm cache lacks a package');
    await nativeBuilt;
    const child = spawnGroup('npx', ['otpkit', 'serve', '--port', '0'], {
      cwd: consumer,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let stderr = '';
        child.stderr!.on('data', (chunk) => {
          stderr += chunk;
          const match = /API docs at (http:\/\/\S+)\/docs/.exec(stderr);
          if (match) resolve(match[1]!);
        });
        child.on('exit', (status) => reject(new Error(`npx otpkit serve exited with ${status}: ${stderr}`)));
      });
      const response = await fetch(`${base}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
      expect(existsSync(join(consumer, 'data/otpkit.sqlite'))).toBe(true);
    } finally {
      await stopGroup(child); // stopping npx alone would leave the server running
    }
  }, 300_000);
});
