// @otpkit/core in every runtime the README names. conformance.ts is bundled once
// (esbuild, from the built package) and run by Node, Node --jitless, Bun, Deno,
// Chromium (with and without a Content-Security-Policy that refuses WebAssembly)
// and workerd, Cloudflare's Workers runtime. Each reports its checks and which
// SHA-512 path the package took; where WebAssembly cannot compile, the test
// requires the JavaScript fallback and says why. The sealed value and the
// backup-code hash are compared with node:crypto's, byte for byte.
//
// Bun, Deno and workerd come from the npm registry (root devDependencies, their
// binaries inside platform packages); Chromium is Debian's. A missing one skips
// with a loud warning, except in CI (OTPKIT_REQUIRE_INTEROP=1), where it fails.

import { execFile, spawnSync } from 'node:child_process';
import { createCipheriv, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_FLAGS } from '../support/external.js';
import { FIXED, type Report } from './conformance.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REQUIRED = process.env.OTPKIT_REQUIRE_INTEROP === '1';
/** Each runtime starts, runs about 130 checks and exits in well under a second; this only bounds a hang. */
const RUN_TIMEOUT_MS = 30_000;

const bin = (name: string) => join(ROOT, 'node_modules/.bin', name);
const versionOf = (pkg: string) =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

function available(what: string, program: string, install: string): boolean {
  const ok = existsSync(program) && spawnSync(program, ['--version'], { stdio: 'ignore' }).status === 0;
  if (!ok) {
    if (REQUIRED) throw new Error(`${what} is required (OTPKIT_REQUIRE_INTEROP=1) but missing: ${install}`);
    console.warn(`\n!!! SKIPPING @otpkit/core in ${what}: not installed (${install}) !!!\n`);
  }
  return ok;
}

const run = promisify(execFile);
/** Runs a program in the bundle's folder and returns what it printed last on stdout: the report. */
async function lastLine(program: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const { stdout } = await run(program, args, {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ...env },
    timeout: RUN_TIMEOUT_MS,
    maxBuffer: 1 << 20,
  });
  return stdout.trim().split('\n').at(-1) ?? '';
}

// The files each runtime starts from, beside the bundle (conformance.js).
const FILES = {
  // Node, Bun and Deno: a module that prints the report.
  'main.mjs': `import { conformance } from './conformance.js';\nconsole.log(JSON.stringify(await conformance()));\n`,
  // workerd: a worker whose test handler prints it (`workerd test` runs it and exits).
  'worker.mjs': `import { conformance } from './conformance.js';
export default { async test() { console.log(JSON.stringify(await conformance())); } };
`,
  'workerd.capnp': `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (services = [(name = "main", worker = .worker)]);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "conformance.js", esModule = embed "conformance.js"),
  ],
  compatibilityDate = "2025-09-01",
);
`,
  // Chromium: a page whose module logs it to the console.
  'index.html': `<!doctype html><title>@otpkit/core</title><script type="module" src="page.mjs"></script>\n`,
  'page.mjs': `import { conformance } from './conformance.js';
conformance().then((r) => console.log(JSON.stringify(r)), (e) => console.log(JSON.stringify({ error: String(e) })));
`,
};

/** Serves the bundle's folder on 127.0.0.1; under /csp/ with a policy that allows scripts but not WebAssembly. */
function serve(dir: string): Promise<Server> {
  const types: Record<string, string> = { html: 'text/html', mjs: 'text/javascript', js: 'text/javascript' };
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const csp = path.startsWith('/csp/');
    const name = path.replace(/^\/(csp\/)?/, '') || 'index.html';
    if (!Object.hasOwn(FILES, name) && name !== 'conformance.js') return void response.writeHead(404).end();
    response.writeHead(200, {
      'content-type': types[name.split('.').at(-1)!]!,
      // 'self' without 'wasm-unsafe-eval': what many sites send; WebAssembly.Module then throws.
      ...(csp ? { 'content-security-policy': "default-src 'self'" } : {}),
    });
    response.end(readFileSync(join(dir, name)));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let browser: Promise<Browser> | undefined;
async function inChromium(url: string): Promise<string> {
  browser ??= chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  const page = await (await browser).newPage();
  try {
    const logged = page.waitForEvent('console', {
      predicate: (m) => m.text().startsWith('{'),
      timeout: RUN_TIMEOUT_MS,
    });
    const failed = new Promise<never>((_, reject) => page.on('pageerror', reject));
    await page.goto(url);
    return (await Promise.race([logged, failed])).text();
  } finally {
    await page.close();
  }
}

interface Runtime {
  /** What the report must say it ran in. */
  runtime: RegExp | string;
  sha512: 'wasm' | 'js';
  /** For the fallback: why WebAssembly does not compile there, and the error that says so. */
  because?: { why: string; error: RegExp };
  present: () => boolean;
  start: (dir: string, url: string) => Promise<string>;
}

const RUNTIMES: Record<string, Runtime> = {
  node: {
    runtime: `node ${process.versions.node}`,
    sha512: 'wasm',
    present: () => true,
    start: (dir) => lastLine(process.execPath, ['main.mjs'], dir),
  },
  'node --jitless': {
    runtime: `node ${process.versions.node}`,
    sha512: 'js',
    because: { why: '--jitless removes WebAssembly', error: /WebAssembly is not defined/ },
    present: () => true,
    start: (dir) => lastLine(process.execPath, ['--jitless', 'main.mjs'], dir),
  },
  bun: {
    runtime: `bun ${versionOf('bun')}`,
    sha512: 'wasm',
    present: () => available('Bun', bin('bun'), 'npm install: the bun devDependency'),
    start: (dir) =>
      lastLine(bin('bun'), ['main.mjs'], dir, { BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0', DO_NOT_TRACK: '1' }),
  },
  deno: {
    runtime: `deno ${versionOf('deno')}`,
    sha512: 'wasm',
    present: () => available('Deno', bin('deno'), 'npm install: the deno devDependency'),
    // No permissions granted: the package needs none.
    start: (dir) =>
      lastLine(bin('deno'), ['run', '--no-config', '--no-lock', '--no-prompt', '--quiet', 'main.mjs'], dir, {
        DENO_DIR: join(dir, 'deno-cache'),
        DENO_NO_UPDATE_CHECK: '1',
      }),
  },
  chromium: {
    runtime: /^chromium \d+\./,
    sha512: 'wasm',
    present: () => available('Chromium', CHROMIUM, 'apt-get install chromium'),
    start: (_, url) => inChromium(`${url}/`),
  },
  'chromium, CSP without wasm-unsafe-eval': {
    runtime: /^chromium \d+\./,
    sha512: 'js',
    because: { why: "the page's CSP refuses it", error: /CompileError: .*Content Security policy/i },
    present: () => existsSync(CHROMIUM), // the line above has warned or thrown already
    start: (_, url) => inChromium(`${url}/csp/`),
  },
  workerd: {
    runtime: 'workerd',
    sha512: 'js',
    // Workers compile WebAssembly only from modules uploaded with the worker, never from bytes at run time.
    because: {
      why: 'workerd compiles none from bytes',
      error: /CompileError: .*code generation disallowed by embedder/,
    },
    present: () => available('workerd', bin('workerd'), 'npm install: the workerd devDependency'),
    start: (dir) => lastLine(bin('workerd'), ['test', 'workerd.capnp'], dir),
  },
};

/** What node:crypto makes of the same fixed key, nonce and owner: AES-256-GCM and HMAC-SHA-256. */
function expectedVault() {
  const [id, master] = FIXED.ring.split(':') as [string, string];
  const subkey = (purpose: string) =>
    createHmac('sha256', Buffer.from(master, 'base64url')).update(`otpkit/v1/${purpose}\u0001`).digest();
  const cipher = createCipheriv('aes-256-gcm', subkey('seal'), FIXED.nonce).setAAD(
    Buffer.from(`v1.${id}.${FIXED.owner}`),
  );
  const body = Buffer.concat([cipher.update(FIXED.secret), cipher.final(), cipher.getAuthTag()]);
  const code = FIXED.backupCode.replaceAll('-', '');
  return {
    sealed: `v1.${id}.${Buffer.from(FIXED.nonce).toString('base64url')}.${body.toString('base64url')}`,
    backupCodeHash: `v1.${id}.${createHmac('sha256', subkey('backup-code')).update(code).digest('base64url')}`,
  };
}

describe('@otpkit/core conformance in each runtime', () => {
  let dir: string;
  let server: Server | undefined;
  const reports = new Map<string, { report?: Report; error?: unknown; ms: number }>();
  const present = Object.fromEntries(Object.entries(RUNTIMES).map(([name, r]) => [name, r.present()]));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'otpkit-runtimes-'));
    mkdirSync(join(dir, 'deno-cache'));
    const built = await build({
      entryPoints: [fileURLToPath(new URL('./conformance.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'neutral', // no Node built-ins to fall back on
      target: 'es2022',
      outfile: join(dir, 'conformance.js'),
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(built.metafile.inputs).map((f) => relative(ROOT, join(process.cwd(), f)));
    // The built package, once: the entry point and the internals the test reads are the same modules.
    expect(inputs).toContain('packages/core/dist/index.js');
    expect(inputs.filter((f) => f.includes('node_modules/'))).toEqual([]);
    expect(inputs.filter((f) => f.startsWith('packages/core/src/'))).toEqual([]);
    for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);
    server = await serve(dir);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await Promise.all(
      Object.entries(RUNTIMES)
        .filter(([name]) => present[name])
        .map(async ([name, runtime]) => {
          const started = performance.now();
          try {
            const report = JSON.parse(await runtime.start(dir, url)) as Report;
            reports.set(name, { report, ms: performance.now() - started });
          } catch (error) {
            reports.set(name, { error, ms: performance.now() - started });
          }
        }),
    );
    const lines = [...reports].map(
      ([name, r]) =>
        `  ${name}: ${r.report ? `${r.report.sha512}, ${r.report.passed} checks` : 'failed'}, ${Math.round(r.ms)} ms`,
    );
    console.info(`@otpkit/core runtimes (SHA-512 path, wall time):\n${lines.join('\n')}`);
  }, 120_000);

  afterAll(async () => {
    await (await browser?.catch(() => undefined))?.close(); // a failed launch has failed its tests already
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const vault = expectedVault();

  for (const [name, expected] of Object.entries(RUNTIMES)) {
    const how = expected.because
      ? `SHA-512 falling back to JavaScript (${expected.because.why})`
      : 'SHA-512 in WebAssembly';
    it.skipIf(!present[name])(`${name}: passes every check, with ${how}`, () => {
      const { report, error } = reports.get(name)!;
      if (error) throw error;
      expect(report!.failures).toEqual([]);
      expect(report!.passed).toBeGreaterThan(100);
      expect(report!.runtime).toMatch(expected.runtime);
      expect(report!.sha512).toBe(expected.sha512);
      if (expected.sha512 === 'wasm') expect(report!.compilesWasm).toBe('yes');
      else expect(report!.compilesWasm).toMatch(expected.because!.error);
      expect({ sealed: report!.sealed, backupCodeHash: report!.backupCodeHash }).toEqual(vault);
    });
  }
});
