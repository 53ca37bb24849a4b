// The web UI in a real browser (Debian's Chromium, driven by playwright-core),
// acting as a new user: sign up, turn 2FA on by reading the QR code off the
// screen (zbarimg) and computing codes with oathtool, save the backup codes,
// sign in with a code and with a backup code, see reuse and a lock refused in
// plain words, turn 2FA off. A screenshot of every step goes to
// test-results/web/ (the README says so). The server's clock is injected, and
// oathtool is asked for the code at that time.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const USERNAME = 'ada';
/** Waits for the page (a slow machine, or two tabs refreshing in turn, can take seconds). */
const eventually = <T>(value: () => T | Promise<T>) => expect.poll(value, { timeout: 10_000 });
const PASSWORD = 'correct horse battery staple';

describe.runIf(hasChromium && hasOathtool && hasZbar)('web UI in Chromium', () => {
  let t: TestDb;
  let s: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let url: string;
  let scratch: string;
  const foreign: string[] = [];
  let shot = 0;

  const snap = async (name: string) => {
    shot += 1;
    await page.screenshot({ path: join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
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
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await DATABASES[0]![1](); // SQLite, the embedded default
    s = await startServer(t);
    url = await s.app.listen({ port: 0, host: '127.0.0.1' });
    scratch = mkdtempSync(join(tmpdir(), 'otpkit-web-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS, // and a fresh profile: playwright makes one per launch
    });
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 900, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
    page = await context.newPage();
    page.on('request', (request) => {
      if (!/^(data|blob):/.test(request.url()) && !request.url().startsWith(url)) foreign.push(request.url());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await s?.close();
    await t?.drop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const error = (field: string) => page.locator(`#${field}-error`);
  /** The field labelled exactly so in the section on screen. */
  const field = (label: string) => page.locator('section:visible').getByLabel(label, { exact: true });
  async function signIn() {
    await field('Username').fill(USERNAME);
    await field('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await eventually(() => page.locator('#view-second-step').isVisible()).toBe(true);
  }
  async function signOut() {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await eventually(() => page.locator('#view-signin').isVisible()).toBe(true);
  }
  const signedIn = () => eventually(() => page.locator('#whoami').textContent()).toBe(`Signed in as ${USERNAME}`);

  it('takes a new user from sign-up through 2FA on, code and backup-code sign-ins, to 2FA off', async () => {
    await page.goto(url);
    await eventually(() => page.locator('#view-signin').isVisible()).toBe(true);
    await snap('sign-in');

    // Sign up, by keyboard.
    await page.getByRole('link', { name: 'Create one' }).click();
    await field('Username').fill(USERNAME);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await signedIn();
    await snap('signed-up');

    // Turn 2FA on: the QR code as the screen shows it, read by zbarimg.
    await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
    const qr = page.getByRole('img', { name: /QR code/ });
    await eventually(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    await snap('enroll');
    const qrFile = join(scratch, 'qr.png');
    writeFileSync(qrFile, await qr.screenshot());
    const uri = zbarimg(qrFile);
    expect(uri).toMatch(new RegExp(`^otpauth://totp/otpkit:${USERNAME}\\?`));
    const secret = new URL(uri).searchParams.get('secret')!;
    // The grouped key on the page is the same key, for typing.
    expect((await page.locator('#enroll-secret').textContent())!.replaceAll(' ', '')).toBe(secret);
    await page.getByRole('button', { name: 'Copy key' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    const confirm = field('Enter the code the app shows');
    expect(await confirm.getAttribute('autocomplete')).toBe('one-time-code');
    expect(await confirm.getAttribute('inputmode')).toBe('numeric');
    await confirm.fill(wrongCode(secret));
    await page.keyboard.press('Enter');
    await eventually(() => error('confirm-code').textContent()).toMatch(/not right/);
    await snap('enroll-wrong-code');
    const code = codeNow(secret);
    await confirm.fill(`${code.slice(0, 3)} ${code.slice(3)}`); // pasted with a space
    await page.keyboard.press('Enter');

    // The backup codes, shown once: saved as the .txt download.
    await eventually(() => page.locator('#tfa-codes').isVisible()).toBe(true);
    const shown = await page.locator('#codes-list li').allTextContents();
    expect(shown).toHaveLength(10);
    await snap('backup-codes');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download .txt' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`otpkit-backup-codes-${USERNAME}.txt`);
    const saved = readFileSync(await download.path(), 'utf8').match(/^[A-Z0-9]{6}-[A-Z0-9]{6}-[A-Z0-9]{6}$/gm);
    expect(saved).toEqual(shown);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await eventually(() => page.locator('#tfa-summary').textContent()).toMatch(/10 backup codes left/);
    await snap('2fa-on');

    // A reload, in two tabs at once, stays signed in: the rotating refresh cookie is used in turn.
    // The server holds each refresh half a second, so two tabs' would overlap.
    const refresh = s.service.refresh;
    s.service.refresh = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return refresh(...args);
    };
    const tab = await context.newPage();
    await Promise.all([page.reload(), tab.goto(url)]);
    await signedIn();
    await eventually(() => tab.locator('#whoami').textContent()).toBe(`Signed in as ${USERNAME}`);
    await tab.close();
    s.service.refresh = refresh;

    // Sign out; sign in with a fresh code, keyboard only.
    await signOut();
    s.clock.advance(30_000);
    await signIn();
    const totpField = field('Code from your authenticator app');
    expect(await totpField.evaluate((input) => input === document.activeElement)).toBe(true);
    await snap('second-step');
    const fresh = codeNow(secret);
    await page.keyboard.type(fresh);
    await page.keyboard.press('Enter');
    await signedIn();
    await signOut();

    // The same code again: refused, in words, next to the field.
    await signIn();
    await page.keyboard.type(fresh);
    await page.keyboard.press('Enter');
    await expect
      .poll(() => error('totp-code').textContent())
      .toBe('That code was already used. Wait for your app to show a new one.');
    expect(await totpField.getAttribute('aria-invalid')).toBe('true');
    await snap('code-reused');

    // A backup code signs in once.
    await page.getByRole('button', { name: 'Use a backup code instead' }).click();
    await field('Backup code').fill(saved![0]!.toLowerCase());
    await page.keyboard.press('Enter');
    await signedIn();
    await eventually(() => page.locator('#tfa-summary').textContent()).toMatch(/9 backup codes left/);
    await signOut();
    await signIn();
    await page.getByRole('button', { name: 'Use a backup code instead' }).click();
    await field('Backup code').fill(saved![0]!);
    await page.keyboard.press('Enter');
    await expect
      .poll(() => error('backup-code').textContent())
      .toBe('That code was already used. Wait for your app to show a new one.');
    await snap('backup-code-reused');
    await field('Backup code').fill(saved![1]!);
    await page.keyboard.press('Enter');
    await signedIn();

    // New backup codes, for a current code: the old ones stop working.
    s.clock.advance(30_000);
    await page.locator('summary', { hasText: 'Get new backup codes' }).click();
    await field('Code from your authenticator app').fill(codeNow(secret));
    await page.keyboard.press('Enter');
    await eventually(() => page.locator('#tfa-codes').isVisible()).toBe(true);
    const rotated = await page.locator('#codes-list li').allTextContents();
    expect(rotated).toHaveLength(10);
    expect(rotated.filter((code) => saved!.includes(code))).toEqual([]);
    await snap('new-backup-codes');
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await eventually(() => page.locator('#tfa-summary').textContent()).toMatch(/10 backup codes left/);

    // Ten wrong codes lock the second factor; the page says for how long.
    await page.locator('summary', { hasText: 'Turn off two-factor authentication' }).click();
    const disable = field('Code from your authenticator app, or a backup code');
    for (let i = 0; i < 10; i++) {
      await disable.fill(wrongCode(secret));
      await page.keyboard.press('Enter');
      await eventually(() => error('disable-code').textContent()).toMatch(/not right/);
      await page.locator('#disable-code-error').evaluate((p) => {
        p.textContent = '';
      });
    }
    await disable.fill(codeNow(secret));
    await page.keyboard.press('Enter');
    await eventually(() => error('disable-code').textContent()).toBe('Too many wrong codes. Try again in 15 minutes.');
    await snap('locked');

    // After the lock, a fresh code turns 2FA off.
    s.clock.advance(15 * 60_000);
    await disable.fill(codeNow(secret));
    await page.keyboard.press('Enter');
    await eventually(() => page.locator('#account-notice').textContent()).toBe('Two-factor authentication is off.');
    expect(await page.locator('#tfa-off').isVisible()).toBe(true);
    await snap('2fa-off');

    expect(foreign).toEqual([]);
  }, 120_000);
});
