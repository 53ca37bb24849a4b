// The web UI in a real browser (Debian's Chromium, driven by playwright-core),
// acting as new users would, on a desktop, on a 375x667 phone and in dark
// mode: sign-up and sign-in with fields checked in plain words under the
// right field, 2FA turned on by reading the QR code off the screen (zbarimg)
// and computing codes with oathtool, backup codes saved, a second
// authenticator added, renamed and removed, "trust this browser", the
// lockout path told in tries left and a local time, sign-out leaving nothing
// of the user behind, the enrollment a server may require, and a request
// that never gets an answer. axe-core
// (injected) finds no violation on any step, and a screenshot of every step
// goes to test-results/web/<profile>/. The server's clock is injected, and
// oathtool is asked for the code at that time.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, type TestDb } from '../../../test/support/databases.js';
import {
  CHROMIUM,
  CHROMIUM_FLAGS,
  hasChromium,
  hasOathtool,
  hasZbar,
  oathtool,
  zbarimg,
} from '../../../test/support/external.js';
import { startServer, type TestServer } from './server.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-results/web/', import.meta.url));
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PASSWORD = 'correct horse battery staple';
/** Waits for the page (a slow machine, or two tabs refreshing in turn, can take seconds). */
const eventually = <T>(value: () => T | Promise<T>) => expect.poll(value, { timeout: 10_000 });

const PROFILES = [
  { name: 'desktop', viewport: { width: 1000, height: 900 }, colorScheme: 'light' as const, mobile: false },
  { name: 'phone', viewport: { width: 375, height: 667 }, colorScheme: 'light' as const, mobile: true },
  { name: 'dark', viewport: { width: 1000, height: 900 }, colorScheme: 'dark' as const, mobile: false },
];

let browser: Browser;
beforeAll(async () => {
  if (!(hasChromium && hasOathtool && hasZbar)) return;
  rmSync(ARTIFACTS, { recursive: true, force: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

describe.runIf(hasChromium && hasOathtool && hasZbar).each(PROFILES)('web UI in Chromium: $name', (profile) => {
  let t: TestDb;
  let s: TestServer;
  let context: BrowserContext;
  let page: Page;
  let url: string;
  let scratch: string;
  const foreign: string[] = [];
  const failed: string[] = [];
  const apiCalls: string[] = [];
  let shot = 0;
  const dir = join(ARTIFACTS, profile.name);

  /** A screenshot of the step, and axe-core's check of it: no violation. */
  const step = async (name: string) => {
    shot += 1;
    await page.screenshot({ path: join(dir, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
    await page.evaluate(AXE);
    const violations = await page.evaluate(async () => {
      // biome-ignore lint/suspicious/noExplicitAny: axe-core, injected above
      const result = await (window as any).axe.run(document);
      return result.violations.map((v: { id: string; nodes: { target: string[] }[] }) => ({
        id: v.id,
        targets: v.nodes.map((n) => n.target.join(' ')),
      }));
    });
    expect(violations, `axe on ${name}`).toEqual([]);
  };
  /** The code an authenticator app shows at the server's time. */
  const codeNow = (secret: string, offsetMs = 0) =>
    oathtool(['--totp', '-b', secret, '--now', `@${(s.clock.now() + offsetMs) / 1000}`]);
  /** A code the server's window (one step each side) does not accept now. */
  const wrongCode = (secret: string) => {
    const valid = [-30_000, 0, 30_000].map((offset) => codeNow(secret, offset));
    let code = Number(valid[1]);
    do code = (code + 1) % 1_000_000;
    while (valid.includes(String(code).padStart(6, '0')));
    return String(code).padStart(6, '0');
  };

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    t = await DATABASES[0]![1](); // SQLite, the embedded default
    s = await startServer(t);
    url = await s.app.listen({ port: 0, host: '127.0.0.1' });
    scratch = mkdtempSync(join(tmpdir(), 'otpkit-web-'));
    context = await browser.newContext({
      acceptDownloads: true,
      viewport: profile.viewport,
      colorScheme: profile.colorScheme,
      isMobile: profile.mobile,
      hasTouch: profile.mobile,
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
    page = await context.newPage();
    page.on('request', (request) => {
      if (!/^(data|blob):/.test(request.url()) && !request.url().startsWith(url)) foreign.push(request.url());
      if (request.url().includes('/api/')) apiCalls.push(new URL(request.url()).pathname);
    });
    page.on('response', (response) => {
      if (response.status() === 404) failed.push(new URL(response.url()).pathname);
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await s?.close();
    await t?.drop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const error = (id: string) => page.locator(`#${id}-error`);
  /** The field labelled exactly so in the section on screen. */
  const field = (label: string) => page.locator('section:visible').getByLabel(label, { exact: true });
  const focused = () => page.evaluate(() => document.activeElement?.id ?? '');
  const visible = (id: string) => page.locator(`#${id}`).isVisible();
  const button = (name: string) => page.getByRole('button', { name, exact: true });
  const whoami = () => page.locator('#whoami').textContent();
  /** Nothing the server's validation says reaches the page. */
  const noSchemaText = async () =>
    expect(await page.locator('body').innerText()).not.toMatch(/body\/|must NOT|must be/i);

  async function signIn(username: string) {
    await field('Username').fill(username);
    await field('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
  }
  async function signOut() {
    await button('Sign out').click();
    await eventually(() => visible('view-signin')).toBe(true);
  }
  /** Reads the QR code on screen with zbarimg: the key it holds. */
  async function scanQr(): Promise<string> {
    const qr = page.getByRole('img', { name: /QR code/ });
    await eventually(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.width > 0)).toBe(true);
    // Drawn at a whole number of pixels per module (the server's PNG has 6).
    const { width, natural } = await qr.evaluate((img: HTMLImageElement) => ({
      width: img.width,
      natural: img.naturalWidth,
    }));
    expect(width % (natural / 6)).toBe(0);
    const file = join(scratch, `qr-${shot}.png`);
    writeFileSync(file, await qr.screenshot());
    return new URL(zbarimg(file)).searchParams.get('secret')!;
  }

  it('a new user: fields checked in plain words, 2FA set up (and cancelled once), backup codes kept whole', async () => {
    const user = `ada-${profile.name}`;
    await page.goto(url);
    await eventually(() => visible('view-signin')).toBe(true);
    expect(apiCalls).toEqual([]); // signed out and never signed in here: no refresh tried, no 401
    expect(await page.locator('link[rel=icon]').getAttribute('href')).toBe('/favicon.svg');
    await step('sign-in');

    // Empty fields: each says what is missing under itself.
    await button('Sign in').click();
    await eventually(() => error('signin-username').textContent()).toBe('Enter your username.');
    expect(await focused()).toBe('signin-username');
    await field('Username').fill(user);
    await button('Sign in').click();
    await eventually(() => error('signin-password').textContent()).toBe('Enter your password.');
    expect(await error('signin-username').textContent()).toBe('');
    await noSchemaText();
    await step('sign-in-empty-password');

    // Sign-up: the password's rule under the password, a bad name under the name.
    await page.getByRole('link', { name: 'Create one' }).click();
    await eventually(() => visible('view-signup')).toBe(true);
    await field('Username').fill('has space');
    await field('Password').fill('short');
    await page.keyboard.press('Enter');
    await eventually(() => error('signup-username').textContent()).toMatch(/without spaces/);
    await field('Username').fill(user);
    await page.keyboard.press('Enter');
    await eventually(() => error('signup-password').textContent()).toBe('Use at least 8 characters.');
    expect(await error('signup-username').textContent()).toBe('');
    await noSchemaText();
    await step('sign-up-short-password');
    await field('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await eventually(whoami).toBe(`Signed in as ${user}`);
    await eventually(focused).toBe('account-title'); // focus on the new view's heading
    expect(await button('Sign out').isVisible()).toBe(true); // in the header
    await step('signed-up');

    // Start setup, then cancel it: a reload does not land on the QR code again.
    await button('Turn on two-factor authentication').click();
    await eventually(() => visible('tfa-enroll')).toBe(true);
    expect(await page.locator('#tfa-enroll').innerText()).toMatch(/Google Authenticator, Microsoft Authenticator/);
    expect(await visible('enroll-secret')).toBe(false); // the key waits behind "Can't scan?"
    await scanQr();
    await button('Cancel').click();
    await eventually(() => visible('tfa-off')).toBe(true);
    await page.reload();
    await eventually(() => visible('tfa-off')).toBe(true);
    expect(await visible('tfa-enroll')).toBe(false);

    // Set it up for real: the QR read off the screen, the key behind its toggle, both the same.
    await button('Turn on two-factor authentication').click();
    const secret = await scanQr();
    await page.getByText('Can’t scan? Enter a key instead').click();
    const groups = page.locator('#enroll-secret span');
    expect((await groups.allTextContents()).join('')).toBe(secret);
    // The key wraps only between its groups of four: no group is split across lines.
    for (const rects of await groups.evaluateAll((spans) => spans.map((span) => span.getClientRects().length))) {
      expect(rects).toBe(1);
    }
    await step('enroll');
    await button('Copy key').click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await field('Name this authenticator').fill('Phone');
    await field('Enter the code the app shows').fill('12');
    await page.keyboard.press('Enter');
    await eventually(() => error('confirm-code').textContent()).toBe('Enter the 6-digit code from your app.');
    await field('Enter the code the app shows').fill(wrongCode(secret));
    await page.keyboard.press('Enter');
    await eventually(() => error('confirm-code').textContent()).toMatch(/not right/);
    const code = codeNow(secret);
    await field('Enter the code the app shows').fill(`${code.slice(0, 3)} ${code.slice(3)}`); // pasted with a space
    await page.keyboard.press('Enter');

    // The backup codes: one per line, never broken at a hyphen; leaving asks first.
    await eventually(() => visible('tfa-codes')).toBe(true);
    await eventually(focused).toBe('codes-title');
    const codes = page.locator('#codes-list li');
    const shown = await codes.allTextContents();
    expect(shown).toHaveLength(10);
    for (const rects of await codes.evaluateAll((items) => items.map((li) => li.getClientRects().length))) {
      expect(rects).toBe(1);
    }
    const leaving = () =>
      page.evaluate(() => {
        const event = new Event('beforeunload', { cancelable: true });
        window.dispatchEvent(event);
        return event.defaultPrevented;
      });
    expect(await leaving()).toBe(true);
    await step('backup-codes');
    const [download] = await Promise.all([page.waitForEvent('download'), button('Download .txt').click()]);
    expect(download.suggestedFilename()).toBe(`otpkit-backup-codes-${user}.txt`);
    const saved = readFileSync(await download.path(), 'utf8').match(/^[A-Z0-9]{6}-[A-Z0-9]{6}-[A-Z0-9]{6}$/gm);
    expect(saved).toEqual(shown);
    await button('I have saved them').click();
    await eventually(() => page.locator('#tfa-summary').textContent()).toMatch(/10 backup codes left/);
    await eventually(focused).toBe('account-title');
    expect(await leaving()).toBe(false);
    expect(await page.locator('.badge').textContent()).toBe('On');
    expect(await page.locator('#authenticators li strong').allTextContents()).toEqual(['Phone']);
    if (profile.mobile) {
      // Touch targets: every button and field on the page at least 44 px high, and the card inside the screen.
      const heights = await page
        .locator('button:visible, input:visible:not([type=checkbox]), summary:visible')
        .evaluateAll((nodes) => nodes.map((node) => node.getBoundingClientRect().height));
      expect(Math.min(...heights)).toBeGreaterThanOrEqual(44);
      const card = await page.locator('main').boundingBox();
      expect(card!.x).toBeGreaterThan(0);
      expect(card!.x + card!.width).toBeLessThan(profile.viewport.width);
    }
    await step('2fa-on');

    // A second tab (and a reload of both at once) is signed in through the rotating refresh
    // cookie, the tabs taking turns; signing out in one signs the other out too.
    const tab = await context.newPage();
    await Promise.all([page.reload(), tab.goto(url)]);
    await eventually(whoami).toBe(`Signed in as ${user}`);
    await eventually(() => tab.locator('#whoami').textContent()).toBe(`Signed in as ${user}`);
    await signOut();
    await eventually(() => tab.locator('#status').textContent()).toBe('You signed out in another tab.');
    expect(await tab.locator('#view-signin').isVisible()).toBe(true);
    await tab.close();
    await signIn(user);
    await eventually(() => visible('view-second-step')).toBe(true);
    s.clock.advance(30_000);
    await field('Code from your authenticator app').fill(codeNow(secret));
    await page.keyboard.press('Enter');
    await eventually(whoami).toBe(`Signed in as ${user}`);

    // Signed out: a neutral status, and nothing of this user left for the next one.
    await signOut();
    const signedOut = page.locator('#status');
    expect(await signedOut.textContent()).toBe('You are signed out.');
    expect(await signedOut.getAttribute('role')).toBe('status');
    expect(await page.locator('.error:visible').count()).toBe(0);
    await step('signed-out');
    await page.evaluate(() => {
      const seen = { on: false };
      (window as unknown as { seen: typeof seen }).seen = seen;
      new MutationObserver(() => {
        if (document.getElementById('tfa-on')?.hidden === false) seen.on = true;
      }).observe(document.body, { subtree: true, attributes: true, childList: true });
    });
    await page.getByRole('link', { name: 'Create one' }).click();
    await eventually(() => visible('view-signup')).toBe(true);
    await field('Username').fill(`bob-${profile.name}`);
    await field('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await eventually(whoami).toBe(`Signed in as bob-${profile.name}`);
    await eventually(() => visible('tfa-off')).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { seen: { on: boolean } }).seen.on)).toBe(false);
    expect(await page.locator('#authenticators li').count()).toBe(0);
    await signOut();

    // Back to ada: a code sign-in with "trust this browser", a second authenticator, rename, remove.
    s.clock.advance(30_000);
    await signIn(user);
    await eventually(() => visible('view-second-step')).toBe(true);
    expect(await focused()).toBe('totp-code');
    await button('Back to sign-in').click();
    await eventually(() => visible('view-signin')).toBe(true);
    expect(await field('Username').inputValue()).toBe(user);
    await field('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await eventually(() => visible('view-second-step')).toBe(true);
    await page.getByLabel('Trust this browser for 30 days').check();
    await step('second-step');
    await page.keyboard.press('Shift+Tab'); // back from the tick...
    await field('Code from your authenticator app').fill(codeNow(secret));
    await field('Code from your authenticator app').press('Enter');
    await eventually(whoami).toBe(`Signed in as ${user}`);
    await eventually(focused).toBe('account-title');
    await eventually(() => page.locator('#devices li').count()).toBe(1);
    expect(await page.locator('#devices li strong').textContent()).toBe('Chrome on Linux (this browser)');
    await step('trusted-browser');

    // On the trusted browser the password alone signs in; changing 2FA settings asks for a code first.
    await signOut();
    await signIn(user);
    await eventually(whoami).toBe(`Signed in as ${user}`);
    expect(await visible('view-second-step')).toBe(false);
    await eventually(() => visible('step-up')).toBe(true);
    s.clock.advance(30_000);
    await button('Confirm with a code').click();
    await page.getByLabel('Code from your app, or a backup code').fill(codeNow(secret));
    await page.keyboard.press('Enter');
    await eventually(() => page.locator('#account-notice').textContent()).toMatch(/Confirmed/);
    expect(await visible('step-up')).toBe(false);

    // The server out of reach: a reload says so and offers to try again; a sign-out that fails says so.
    await page.route('**/api/auth/refresh', (route) => route.abort());
    await page.reload();
    await eventually(() => visible('offline')).toBe(true);
    await step('offline');
    await page.unroute('**/api/auth/refresh');
    await button('Try again').click();
    await eventually(whoami).toBe(`Signed in as ${user}`);
    await page.route('**/api/auth/logout', (route) => route.abort());
    await button('Sign out').click();
    await eventually(() => page.locator('#account-notice').textContent()).toMatch(/Could not sign you out/);
    expect(await whoami()).toBe(`Signed in as ${user}`);
    await page.unroute('**/api/auth/logout');
    // Revoke it: the next sign-in asks for the code again.
    await page.getByRole('button', { name: 'Revoke Chrome on Linux (this browser)' }).click();
    await eventually(() => page.locator('#account-notice').textContent()).toMatch(/no longer trusted/);
    await eventually(() => page.locator('#devices li').count()).toBe(0);
    await signOut();
    s.clock.advance(30_000);
    await signIn(user);
    await eventually(() => visible('view-second-step')).toBe(true);
    await field('Code from your authenticator app').fill(codeNow(secret));
    await page.keyboard.press('Enter');
    await eventually(whoami).toBe(`Signed in as ${user}`);

    // A second authenticator: added, renamed, then removed with a code from the first.
    s.clock.advance(30_000);
    await button('Add another authenticator').click();
    const second = await scanQr();
    await field('Name this authenticator').fill('Tablet');
    await field('Enter the code the app shows').fill(codeNow(second));
    await page.keyboard.press('Enter');
    await eventually(() => page.locator('#authenticators li strong').allTextContents()).toEqual(['Phone', 'Tablet']);
    // A 64-character name with no spaces still fits the screen (no sideways scrolling).
    const long = 'YubiKey5NFC-'.repeat(6).slice(0, 64);
    await page.getByRole('button', { name: 'Rename Tablet' }).click();
    await page.getByLabel('Name', { exact: true }).fill(long);
    await page.keyboard.press('Enter');
    await eventually(() => page.locator('#authenticators li strong').allTextContents()).toEqual(['Phone', long]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(profile.viewport.width);
    await page.getByRole('button', { name: `Rename ${long}` }).click();
    await page.getByLabel('Name', { exact: true }).fill('iPad');
    await page.keyboard.press('Enter');
    await eventually(() => page.locator('#authenticators li strong').allTextContents()).toEqual(['Phone', 'iPad']);
    await step('authenticators');
    s.clock.advance(30_000);
    await page.getByRole('button', { name: 'Remove iPad' }).click();
    await step('remove-authenticator');
    await page.getByLabel('Code from another authenticator, or a backup code').fill(codeNow(second));
    await page.keyboard.press('Enter');
    await eventually(() => error('dialog-input').textContent()).toMatch(/not right/); // its own code proves nothing
    await page.getByLabel('Code from another authenticator, or a backup code').fill(codeNow(secret));
    await page.keyboard.press('Enter');
    await eventually(() => page.locator('#authenticators li strong').allTextContents()).toEqual(['Phone']);
    await signOut();

    // A spent backup code is told as such; a fresh one signs in.
    await signIn(user);
    await eventually(() => visible('view-second-step')).toBe(true);
    await button('Use a backup code instead').click();
    await field('Backup code').fill(saved![0]!.toLowerCase());
    await page.keyboard.press('Enter');
    await eventually(whoami).toBe(`Signed in as ${user}`);
    await signOut();
    await signIn(user);
    await eventually(() => visible('view-second-step')).toBe(true);
    await button('Use a backup code instead').click();
    await field('Backup code').fill(saved![0]!);
    await page.keyboard.press('Enter');
    await eventually(() => error('backup-code').textContent()).toBe(
      'That backup code was already used. Each works once: use another one.',
    );
    await step('backup-code-reused');

    // The lockout path: tries left once few are, the password asked for again with the reason,
    // then the form disabled with the local time the lock ends. (The reused backup code above
    // was one wrong attempt; a sign-in takes 5 codes, the account 10 between locks.)
    await button('Back to sign-in').click();
    await field('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await eventually(() => visible('view-second-step')).toBe(true);
    const wrongThen = async (expected: RegExp) => {
      await field('Code from your authenticator app').fill(wrongCode(secret));
      await page.keyboard.press('Enter');
      await eventually(() => error('totp-code').textContent()).toMatch(expected);
    };
    await wrongThen(/^That code is not right\. Enter the code your app shows now\.$/);
    await wrongThen(/ 3 tries left\.$/);
    await wrongThen(/ 2 tries left\.$/);
    await wrongThen(/ 1 try left\.$/);
    await step('tries-left');
    await field('Code from your authenticator app').fill(wrongCode(secret));
    await page.keyboard.press('Enter');
    await eventually(() => visible('view-signin')).toBe(true);
    expect(await page.locator('#status').textContent()).toMatch(/asks for your password again, to be safe/);
    expect(await focused()).toBe('signin-password');
    await step('password-again');
    await field('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await eventually(() => visible('view-second-step')).toBe(true);
    await wrongThen(/ 3 tries left\.$/);
    await wrongThen(/ 2 tries left\.$/);
    await wrongThen(/ 1 try left\.$/);
    await wrongThen(/^Too many wrong codes\. Try again at .*\d\d:\d\d( [AP]M)?\.$/);
    expect(await field('Code from your authenticator app').isDisabled()).toBe(true);
    expect(await page.locator('#totp-form button[type=submit]').isDisabled()).toBe(true);
    await step('locked');

    expect(foreign).toEqual([]);
    expect(failed).toEqual([]);
  }, 180_000);

  it('a server that requires 2FA leads a new user straight to setup', async () => {
    const required = await startServer(t, { OTPKIT_REQUIRE_TWO_FACTOR: '1', OTPKIT_KEYS: s.env.OTPKIT_KEYS! });
    const at = await required.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await page.goto(`${at}/#signup`);
      await eventually(() => visible('view-signup')).toBe(true);
      const user = `carol-${profile.name}`;
      await field('Username').fill(user);
      await field('Password').fill(PASSWORD);
      await page.keyboard.press('Enter');
      await eventually(() => visible('tfa-enroll')).toBe(true);
      expect(await page.locator('#enroll-required').textContent()).toMatch(/asks everyone to use two-factor/);
      expect(await visible('enroll-cancel')).toBe(false);
      expect(await whoami()).toBe(`Signed in as ${user}`);
      await step('enrollment-required');
      await page.reload(); // a reload keeps the user on setup
      await eventually(() => visible('tfa-enroll')).toBe(true);
      expect(await page.locator('#enroll-required').isVisible()).toBe(true);
      const qr = page.getByRole('img', { name: /QR code/ });
      await eventually(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.width > 0)).toBe(true);
      const file = join(scratch, 'required.png');
      writeFileSync(file, await qr.screenshot());
      const secret = new URL(zbarimg(file)).searchParams.get('secret')!;
      await field('Enter the code the app shows').fill(
        oathtool(['--totp', '-b', secret, '--now', `@${required.clock.now() / 1000}`]),
      );
      await page.keyboard.press('Enter');
      await eventually(() => visible('tfa-codes')).toBe(true);
      await button('I have saved them').click();
      await eventually(() => page.locator('#tfa-summary').textContent()).toMatch(/10 backup codes left/);
      // Required: no way offered to turn it off or remove the only authenticator.
      expect(await visible('disable-details')).toBe(false);
      expect(await page.getByRole('button', { name: /^Remove / }).count()).toBe(0);
    } finally {
      await required.close();
    }
  }, 60_000);

  it('a request that never gets an answer (a frozen link) frees the form after 20 s and says so', async () => {
    page = await context.newPage();
    await page.clock.install(); // the page's timers, moved on below instead of waited for
    await page.goto(url);
    await eventually(() => visible('view-signin')).toBe(true);
    await page.route('**/api/auth/login', () => undefined); // held: no answer, no error
    await signIn('nobody-answers');
    const submit = page.locator('#signin-form button[type=submit]');
    await eventually(() => submit.isDisabled()).toBe(true);
    await page.clock.fastForward(19_000);
    expect(await submit.isDisabled()).toBe(true);
    await page.clock.fastForward(1_500);
    await eventually(() => error('signin-password').textContent()).toBe(
      'The server did not answer in time. Check your connection and try again.',
    );
    expect(await submit.isDisabled()).toBe(false);
    await step('no-answer');
    await page.unroute('**/api/auth/login');
    await page.keyboard.press('Enter');
    await eventually(() => error('signin-password').textContent()).toBe('Wrong username or password.');

    // A refresh is waited for longer: its answer carries the rotated cookie, and giving up on one the
    // server then completes would leave the browser with a cookie the server takes for a stolen copy.
    await page.goto(`${url}/#signup`);
    const user = `frozen-${profile.name}`;
    await field('Username').fill(user);
    await field('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await eventually(whoami).toBe(`Signed in as ${user}`);
    let held: (() => Promise<void>) | undefined;
    await page.route('**/api/auth/refresh', (route) => {
      held = () => route.continue();
    });
    await page.reload();
    await eventually(() => held !== undefined).toBe(true);
    await page.clock.fastForward(30_000);
    expect(await visible('offline')).toBe(false);
    await held!();
    await eventually(whoami).toBe(`Signed in as ${user}`);
    await page.close();
  }, 60_000);
});
