// otpkit's web UI: plain JavaScript against the JSON API, no framework.
// The access token lives in this module's memory only (never in storage a
// script could read back after a page injection); the refresh token is an
// HttpOnly cookie the server sets because every call says
// X-Otpkit-Session: cookie. A reload signs in again through that cookie;
// localStorage keeps only a hint that there may be one, so a page that never
// signed in does not ask.

const $ = (id) => document.getElementById(id);
const SESSION_HINT = 'otpkit:session';
/** A request unanswered this long is given up, so a frozen link never holds a form disabled. */
const REQUEST_TIMEOUT_MS = 20_000;
/**
 * A refresh waits out the server's own limits (its database waits and
 * statement timeouts, about 35 s at worst): its answer carries the rotated
 * cookie, and a browser that gave up on it would send the old one next, which
 * the server takes for a stolen copy and ends the session.
 */
const REFRESH_TIMEOUT_MS = 60_000;

let accessToken = null;
let challenge = null;
let me = null;
/** The name in the header: the signed-in user's (also an enrollment-only session's, which has no `me`). */
let signedInAs = null;
let codesShown = false;
/** A trusted browser's session that confirmed a code since (the server stepped it up). */
let stepped = false;
/** The backup codes on screen replace older ones (rotation), rather than being the first. */
let codesReplaced = false;

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body.error?.message ?? '');
    this.status = status;
    this.code = body.error?.code ?? 'INTERNAL';
    this.details = body.error ?? {};
    this.retryAfter = retryAfter;
  }
}

async function call(method, path, body, timeoutMs = REQUEST_TIMEOUT_MS) {
  const headers = { 'x-otpkit-session': 'cookie' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('no answer', 'TimeoutError')), timeoutMs);
  try {
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: controller.signal,
    });
    if (response.status === 204) return null;
    const data = await response.json().catch((error) => {
      if (controller.signal.aborted) throw error; // the body never came: no answer, not an empty one
      return {};
    });
    if (!response.ok)
      throw new ApiError(response.status, data, Number(response.headers.get('retry-after')) || undefined);
    return data;
  } finally {
    clearTimeout(timer);
  }
}

/** A call as the signed-in user; an expired access token is renewed once through the cookie. */
async function authed(method, path, body) {
  try {
    return await call(method, path, body);
  } catch (error) {
    if (
      !(error instanceof ApiError) ||
      error.status !== 401 ||
      !['TOKEN_INVALID', 'UNAUTHENTICATED'].includes(error.code)
    )
      throw error;
    if (!(await renew())) {
      signedOut('Your session ended. Sign in again.');
      error.handled = true;
      throw error;
    }
    return call(method, path, body);
  }
}

/**
 * A new access token through the refresh cookie. The cookie rotates on use and
 * a reused one ends the session, so tabs take turns (a Web Lock): each sends
 * the cookie the one before it left.
 */
async function renew() {
  accessToken = null;
  return navigator.locks.request('otpkit-refresh', async () => {
    try {
      accessToken = (await call('POST', '/api/auth/refresh', {}, REFRESH_TIMEOUT_MS)).accessToken;
      return true;
    } catch (error) {
      // Only the server's own "no" ends the session here; an unreachable server may be back in a moment.
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      localStorage.removeItem(SESSION_HINT);
      return false;
    }
  });
}

// Words for people.

function inWords(seconds) {
  if (!seconds) return 'a while';
  if (seconds < 90) return `${seconds} seconds`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} minutes`;
  return `${Math.round(seconds / 3600)} hours`;
}

/** A time as the reader's clock shows it: "14:32", with the date when it is not today. */
function clockTime(date) {
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return date.toDateString() === new Date().toDateString() ? time : `${date.toLocaleDateString()} ${time}`;
}
const day = (iso) => new Date(iso).toLocaleDateString([], { year: 'numeric', month: 'short', day: 'numeric' });

function lockedWords(until) {
  return until
    ? `Too many wrong codes. Try again at ${clockTime(until)}.`
    : 'Too many wrong codes. Ask an administrator to unlock your account.';
}

/** What went wrong, in plain words for the field it concerns (`kind`: what the field holds). */
function words(error, kind = 'code') {
  if (!(error instanceof ApiError)) {
    return error.name === 'TimeoutError'
      ? 'The server did not answer in time. Check your connection and try again.'
      : 'Could not reach the server. Check your connection and try again.';
  }
  switch (error.code) {
    case 'CODE_WRONG':
      if (kind === 'code-or-backup')
        return 'That code is not right. Enter a current code from your app, or an unused backup code.';
      return kind === 'backup'
        ? 'That backup code is not right. Check it and try again.'
        : 'That code is not right. Enter the code your app shows now.';
    case 'CODE_REUSED':
      return kind === 'backup'
        ? 'That backup code was already used. Each works once: use another one.'
        : 'That code was already used. Wait for your app to show a new one.';
    case 'CODE_MALFORMED':
      if (kind === 'code-or-backup') return 'Enter the 6-digit code from your app, or a backup code.';
      return kind === 'backup'
        ? 'A backup code has 18 letters and digits. Check it and try again.'
        : 'Enter the 6-digit code from your app.';
    case 'SECOND_FACTOR_LOCKED':
      return lockedWords(error.retryAfter ? new Date(Date.now() + error.retryAfter * 1000) : null);
    case 'RATE_LIMITED':
      return `Too many requests. Try again in ${inWords(error.retryAfter)}.`;
    case 'CREDENTIALS_INVALID':
      return 'Wrong username or password.';
    case 'LOGIN_THROTTLED':
      return `Too many wrong passwords for this account. Try again in ${inWords(error.retryAfter)}.`;
    case 'ACCOUNT_DEACTIVATED':
      return 'This account is deactivated. Ask an administrator.';
    case 'SERVER_BUSY':
    case 'DATABASE_UNAVAILABLE':
      return 'The server is busy right now. Try again in a moment.';
    case 'SECOND_FACTOR_REQUIRED':
      return 'Confirm it is you with a code first (“Confirm with a code” above).';
    case 'ENROLLMENT_NOT_STARTED':
      return 'This setup was cancelled or started again in another window. Start it again here.';
    case 'TWO_FACTOR_REQUIRED':
      return 'This server requires two-factor authentication: it stays on. Add another authenticator before removing this one.';
    case 'AUTHENTICATOR_LIMIT':
      return 'You have as many authenticators as allowed. Remove one to add another.';
    case 'AUTHENTICATORS_CHANGED':
    case 'AUTHENTICATOR_NOT_FOUND':
    case 'DEVICE_NOT_FOUND':
      return 'That changed in another window. The list is up to date now.';
    case 'USERNAME_TAKEN':
      return 'That username is taken. Pick another.';
    case 'CHALLENGE_INVALID':
      return 'This sign-in has expired. Enter your password again.';
    case 'INPUT_INVALID':
      return (
        {
          username: 'Use 1 to 64 characters, without spaces or colons.',
          password: 'Use 8 to 256 characters.',
          name: 'Use 1 to 64 characters.',
        }[kind] ?? 'Check what you entered and try again.'
      );
    default:
      return 'Something went wrong. Try again.';
  }
}

// Checking fields before they are sent: each says what is wrong under itself.

const digitsOnly = (value) => value.replace(/[\s-]/g, '');

function check(input, kind) {
  const value = input.value;
  if (kind === 'username') {
    if (value.trim() === '') return 'Enter your username.';
    if (/[\s:]/.test(value.trim())) return words(new ApiError(400, { error: { code: 'INPUT_INVALID' } }), 'username');
  }
  if (kind === 'password' && value === '') return 'Enter your password.';
  if (kind === 'new-password' && value.length < 8) return 'Use at least 8 characters.';
  if (kind === 'code' && !/^\d{6,10}$/.test(digitsOnly(value))) return 'Enter the 6-digit code from your app.';
  if (kind === 'backup' && digitsOnly(value).length < 18) return 'A backup code has 18 letters and digits.';
  if (kind === 'code-or-backup' && value.trim() === '') return 'Enter a code from your app or a backup code.';
  if (kind === 'name' && value.trim() === '') return 'Enter a name, like “Phone”.';
  return '';
}

// Showing things.

const VIEWS = ['signin', 'second-step', 'signup', 'account'];

/** Shows a view; `focus`: its heading (a new page for a screen reader) or its first field. */
function show(view, focus = 'field') {
  $('loading').hidden = true;
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  if (focus === 'none') return;
  const section = $(`view-${view}`);
  const target =
    focus === 'heading' ? section.querySelector('h1') : section.querySelector('input:not([type=checkbox])');
  if (target && target.offsetParent !== null) target.focus();
}

/** A neutral status line above the views ("You are signed out."), or none. */
function status(message) {
  $('status').textContent = message ?? '';
}

function fieldError(input, message) {
  const error = $(`${input.id}-error`);
  error.textContent = message ?? '';
  if (message) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    input.select?.();
  } else {
    input.removeAttribute('aria-invalid');
  }
}

function clearErrors(form) {
  for (const error of form.querySelectorAll('.error')) error.textContent = '';
  for (const input of form.querySelectorAll('input')) input.removeAttribute('aria-invalid');
}

/**
 * A form's submit: fields checked first (each error under its own field), no
 * double submits, and a server error under the field it concerns.
 * `fields`: [input, kind] to check; the handler throws errors with .field and .kind.
 */
function onSubmit(form, fields, handler) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    if (button.disabled) return;
    clearErrors(form);
    for (const [input, kind] of fields()) {
      const problem = check(input, kind);
      if (problem) return fieldError(input, problem);
    }
    button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await handler(form.elements);
    } catch (error) {
      if (error.handled) return;
      const [input, kind] = error.field ?? fields().at(-1);
      fieldError(input, `${words(error, kind)}${error.suffix ?? ''}`);
    } finally {
      form.removeAttribute('aria-busy');
      if (!form.dataset.locked) button.disabled = false;
    }
  });
}

/**
 * A button's action: the button is disabled while it runs (no double sends),
 * a failure is said at the top of the account page, and focus goes to the
 * page's heading after, unless the action moved it.
 */
function onClick(button, action) {
  button.addEventListener('click', async () => {
    if (button.disabled) return;
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      if (!error.handled) problem(error);
    } finally {
      button.disabled = false;
      const at = document.activeElement;
      if ((at === document.body || at === button) && !$('view-account').hidden) $('account-title').focus();
    }
  });
}

/** Runs `fn`; an error it throws belongs to `input` (a field of `kind`). */
const about = (input, kind, fn) =>
  fn().catch((error) => {
    error.field = [input, kind];
    throw error;
  });

// Signing in and out.

async function signedIn(focus = true) {
  challenge = null;
  localStorage.setItem(SESSION_HINT, '1');
  try {
    me = await authed('GET', '/api/auth/me');
  } catch (error) {
    if (error.code !== 'ENROLLMENT_REQUIRED') throw error;
    return enrollmentRequired();
  }
  showUser(me.username);
  await account();
  if (focus) $('account-title').focus();
}

/** How this session signed in (RFC 8176 amr), from the access token the page holds. */
function methods() {
  try {
    const payload = accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).amr ?? [];
  } catch {
    return [];
  }
}

function showUser(name) {
  signedInAs = name;
  $('whoami').textContent = `Signed in as ${name}`;
  $('user-menu').hidden = false;
  status('');
  if (location.hash) history.replaceState(null, '', location.pathname);
  show('account', 'none');
}

/** Forgets everything about the user who was signed in: nothing of theirs stays on the page. */
function forgetUser() {
  accessToken = null;
  challenge = null;
  me = null;
  signedInAs = null;
  codesShown = false;
  $('user-menu').hidden = true;
  $('whoami').textContent = '';
  for (const id of ['tfa-off', 'tfa-enroll', 'tfa-codes', 'tfa-on', 'enroll-required']) $(id).hidden = true;
  for (const id of ['codes-list', 'authenticators', 'devices']) $(id).replaceChildren();
  for (const id of ['account-notice', 'tfa-summary', 'enroll-secret']) $(id).textContent = '';
  $('enroll-qr').removeAttribute('src');
  $('trust-device').checked = false; // the next person at this browser decides for themselves
  $('trust-device').disabled = false;
  $('step-up').hidden = true;
  stepped = false;
  for (const details of document.querySelectorAll('details')) details.open = false;
  for (const form of document.forms) {
    form.reset();
    clearErrors(form);
    delete form.dataset.locked;
    for (const control of form.elements) control.disabled = false;
  }
}

function signedOut(message) {
  forgetUser();
  localStorage.removeItem(SESSION_HINT);
  status(message);
  location.hash = '#signin';
  show('signin');
}

/** Back to the password step, the username kept, saying why. */
function passwordAgain(message) {
  const username = $('signin-username').value;
  forgetUser();
  $('signin-username').value = username;
  status(message);
  show('signin');
  $('signin-password').focus();
}

onSubmit(
  $('signin-form'),
  () => [
    [$('signin-username'), 'username'],
    [$('signin-password'), 'password'],
  ],
  async ({ username, password }) => {
    status('');
    const result = await about(password, 'password', () =>
      call('POST', '/api/auth/login', { username: username.value.trim(), password: password.value }),
    );
    password.value = '';
    if (result.status === 'authenticated') {
      accessToken = result.tokens.accessToken;
      return signedIn();
    }
    if (result.status === 'enrollment_required') {
      accessToken = result.tokens.accessToken;
      localStorage.setItem(SESSION_HINT, '1');
      return enrollmentRequired();
    }
    challenge = result.challenge;
    if (location.hash) history.replaceState(null, '', location.pathname); // Back does not land on sign-up
    $('trust-row').hidden = !result.trustDeviceDays;
    $('trust-device').nextElementSibling.textContent = `Trust this browser for ${result.trustDeviceDays} days`;
    switchFactor(false);
    show('second-step', 'heading');
    $('totp-code').focus();
  },
);

/** The lock holds until `until` (null: until an operator unlocks): the code step says so and takes nothing. */
function lockSecondStep(until) {
  for (const form of [$('totp-form'), $('backup-form')]) {
    form.dataset.locked = '1';
    for (const control of form.elements) control.disabled = true;
  }
  $('trust-device').disabled = true;
  const [input] = [$('totp-code'), $('backup-code')].filter((i) => i.offsetParent !== null);
  const message = $(`${input.id}-error`);
  message.textContent = lockedWords(until);
  message.setAttribute('tabindex', '-1');
  message.focus(); // the field is disabled: the reason is where focus goes
}

async function verify(input, kind, body) {
  const trustDevice = $('trust-device').checked && !$('trust-row').hidden;
  let tokens;
  try {
    tokens = await call('POST', '/api/auth/login/verify', {
      challenge,
      ...body,
      ...(trustDevice ? { trustDevice } : {}),
    });
  } catch (error) {
    const { attemptsLeft, challengeAttemptsLeft, lockedUntil } = error.details ?? {};
    error.field = [input, kind];
    if (error.code === 'CHALLENGE_INVALID') {
      passwordAgain(words(error));
      error.handled = true;
    } else if (error.code === 'SECOND_FACTOR_LOCKED' || attemptsLeft === 0) {
      const until = lockedUntil ?? (error.retryAfter ? Date.now() + error.retryAfter * 1000 : null);
      lockSecondStep(until ? new Date(until) : null);
      error.handled = true;
    } else if (challengeAttemptsLeft === 0) {
      // The server takes 5 codes per sign-in: say why the password is asked for again.
      passwordAgain(`${words(error, kind)} After 5 wrong codes, sign-in asks for your password again, to be safe.`);
      error.handled = true;
    } else if (attemptsLeft !== undefined) {
      const left = Math.min(attemptsLeft, challengeAttemptsLeft ?? attemptsLeft);
      if (left <= 3) error.suffix = ` ${left} ${left === 1 ? 'try' : 'tries'} left.`;
    }
    throw error;
  }
  input.value = '';
  accessToken = tokens.accessToken;
  return signedIn();
}

onSubmit(
  $('totp-form'),
  () => [[$('totp-code'), 'code']],
  ({ code }) => verify(code, 'code', { code: digitsOnly(code.value) }),
);
onSubmit(
  $('backup-form'),
  () => [[$('backup-code'), 'backup']],
  ({ backupCode }) => verify(backupCode, 'backup', { backupCode: backupCode.value.trim() }),
);

function switchFactor(toBackup) {
  $('totp-form').hidden = toBackup;
  $('backup-form').hidden = !toBackup;
  (toBackup ? $('backup-code') : $('totp-code')).focus();
}
$('use-backup').addEventListener('click', () => switchFactor(true));
$('use-totp').addEventListener('click', () => switchFactor(false));
$('back-to-signin').addEventListener('click', () => passwordAgain(''));

onSubmit(
  $('signup-form'),
  () => [
    [$('signup-username'), 'username'],
    [$('signup-password'), 'new-password'],
  ],
  async ({ username, password }) => {
    status('');
    const credentials = { username: username.value.trim(), password: password.value };
    await about(username, 'username', () => call('POST', '/api/auth/register', credentials));
    password.value = '';
    const login = await call('POST', '/api/auth/login', credentials);
    accessToken = login.tokens.accessToken;
    if (login.status === 'enrollment_required') return enrollmentRequired();
    await signedIn();
    $('account-notice').textContent = 'Your account is ready. Turn on two-factor authentication below.';
  },
);

onClick($('signout'), async () => {
  if (codesShown && !confirm('Your backup codes are on screen. Leave without saving them?')) return;
  try {
    await authed('POST', '/api/auth/logout');
  } catch (error) {
    if (error.handled) return; // the session had ended already: signed out
    // Not signed out: say so, and stay (on a shared computer that matters).
    $('account-notice').textContent = 'Could not sign you out: the server did not answer. Try again.';
    error.handled = true;
    throw error;
  }
  signedOut('You are signed out.');
});

// The account page.

async function account(message) {
  const state = await authed('GET', '/api/totp/status');
  $('account-notice').textContent = message ?? '';
  for (const id of ['tfa-off', 'tfa-enroll', 'tfa-codes', 'tfa-on']) $(id).hidden = true;
  const amr = methods();
  const device = amr.includes('device') && !amr.includes('otp') && !amr.includes('backup') && !stepped;
  $('step-up').hidden = !(state.enabled && device);
  $('disable-details').hidden = state.required;
  if (state.enabled) {
    const left = state.backupCodesRemaining;
    $('tfa-summary').textContent =
      `On since ${day(state.confirmedAt)}. You have ${left} backup ${left === 1 ? 'code' : 'codes'} left.`;
    renderAuthenticators(state.authenticators, state.required);
    await renderDevices();
    $('tfa-on').hidden = false;
  } else if (state.pending) {
    await enroll();
  } else {
    $('tfa-off').hidden = false;
  }
}

/** requireTwoFactor: a session that may only set 2FA up. */
async function enrollmentRequired() {
  localStorage.setItem(SESSION_HINT, '1');
  const enrollment = await enroll();
  const username = decodeURIComponent(new URL(enrollment.uri).pathname.split(':').at(-1));
  showUser(username);
  $('enroll-required').hidden = false;
  $('enroll-cancel').hidden = true;
  $('enroll-title').focus();
}

/** Draws the QR code at a whole number of pixels per module: crisp, and the size a phone reads best. */
function drawQr(img, dataUrl) {
  img.onload = () => {
    const modules = img.naturalWidth / 6; // the server draws 6 pixels per module
    // The room the setup steps give it (less the frame's padding), at most 300 px.
    const room = Math.min(($('tfa-enroll').clientWidth || 300) - 48, 300);
    const scale = Math.max(1, Math.min(6, Math.floor(room / modules)));
    img.width = modules * scale;
    img.height = modules * scale;
  };
  img.src = dataUrl;
}

async function enroll() {
  const enrollment = await authed('POST', '/api/totp/enroll');
  $('account-notice').textContent = '';
  drawQr($('enroll-qr'), enrollment.qrPng);
  // The key in groups of four, each group unbreakable: it wraps only between groups.
  $('enroll-secret').replaceChildren(
    ...enrollment.secretGrouped.split(' ').flatMap((group, i) => {
      const span = document.createElement('span');
      span.textContent = group;
      return i === 0 ? [span] : [' ', span];
    }),
  );
  $('enroll-secret').dataset.secret = enrollment.secret;
  $('enroll-link').href = enrollment.uri; // a phone's authenticator app opens otpauth:// links
  $('confirm-name').value = enrollment.name;
  $('enroll-cancel').hidden = false;
  for (const id of ['tfa-off', 'tfa-on']) $(id).hidden = true;
  $('tfa-enroll').hidden = false;
  $('enroll-title').setAttribute('tabindex', '-1');
  return enrollment;
}

/** A failed button action (no field to put it by): said at the top of the account page. */
const problem = (error) => {
  $('account-notice').textContent = words(error);
};

onClick($('enroll-start'), () => enroll().then(() => $('enroll-title').focus()));
onClick($('authenticator-add'), () => enroll().then(() => $('enroll-title').focus()));
onClick($('enroll-cancel'), async () => {
  await authed('POST', '/api/totp/enroll/cancel');
  await account('Setup cancelled.');
  $('account-title').focus();
});
onClick($('step-up-start'), async () =>
  ask({
    title: 'Confirm it is you',
    text: 'This browser skipped the code when you signed in. Enter one to change two-factor settings.',
    label: 'Code from your app, or a backup code',
    submit: 'Confirm',
    kind: 'code-or-backup',
    action: async (value) => {
      await authed('POST', '/api/totp/validate', codeOrBackup(value));
      stepped = true;
      return 'Confirmed. You can change two-factor settings now.';
    },
  }),
);

async function copy(text, button) {
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Copy failed: select and copy by hand';
  }
  setTimeout(() => {
    button.textContent = label;
  }, 2000);
}

$('enroll-copy').addEventListener('click', (event) => copy($('enroll-secret').dataset.secret, event.target));

function showCodes(codes) {
  $('account-notice').textContent = '';
  for (const id of ['tfa-off', 'tfa-enroll', 'tfa-on']) $(id).hidden = true;
  $('codes-list').replaceChildren(
    ...codes.map((code) => {
      const item = document.createElement('li');
      item.textContent = code;
      return item;
    }),
  );
  $('tfa-codes').hidden = false;
  codesShown = true;
  $('codes-title').focus();
}

// Backup codes can be lost silently: leaving the page while they are shown asks first.
window.addEventListener('beforeunload', (event) => {
  if (codesShown) event.preventDefault();
});

const codesText = () =>
  `otpkit backup codes for ${signedInAs}\nEach code works once.\n\n${[...$('codes-list').children]
    .map((item) => item.textContent)
    .join('\n')}\n`;

$('codes-copy').addEventListener('click', (event) => copy(codesText(), event.target));
$('codes-download').addEventListener('click', () => {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([codesText()], { type: 'text/plain' }));
  link.download = `otpkit-backup-codes-${signedInAs}.txt`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
});
$('codes-done').addEventListener('click', async () => {
  codesShown = false;
  $('codes-list').replaceChildren();
  if (!me) return signedIn(); // the enrollment-only session is whole now
  const message = codesReplaced
    ? 'New backup codes saved. Your old codes no longer work.'
    : 'Two-factor authentication is on.';
  codesReplaced = false;
  await account(message).catch(problem);
  $('account-title').focus();
});

onSubmit(
  $('confirm-form'),
  () => [
    [$('confirm-name'), 'name'],
    [$('confirm-code'), 'code'],
  ],
  async ({ code }) => {
    const name = $('confirm-name').value.trim();
    let confirmed;
    try {
      confirmed = await about(code, 'code', () =>
        authed('POST', '/api/totp/confirm', { code: digitsOnly(code.value), name }),
      );
    } catch (error) {
      if (error.code !== 'ENROLLMENT_NOT_STARTED') throw error;
      // Cancelled or started over in another window: show the page as it is now, and say why.
      await account('This setup was cancelled or started again in another window. Start it again here.');
      $('account-title').focus();
      error.handled = true;
      throw error;
    }
    code.value = '';
    $('enroll-required').hidden = true;
    if (confirmed.backupCodes) return showCodes(confirmed.backupCodes);
    // A 2FA change ends other sessions and every trusted browser, this one too: say so.
    await account(`${confirmed.authenticator.name} added. Trusted browsers need a code again at their next sign-in.`);
    $('account-title').focus();
  },
);

onSubmit(
  $('rotate-form'),
  () => [[$('rotate-code'), 'code']],
  async ({ code }) => {
    const { backupCodes } = await about(code, 'code', () =>
      authed('POST', '/api/totp/backup-codes', { code: digitsOnly(code.value) }),
    );
    code.value = '';
    code.closest('details').open = false;
    codesReplaced = true;
    showCodes(backupCodes);
  },
);

/** A typed code as the API wants it: digits are a TOTP code, anything else a backup code. */
const codeOrBackup = (value) =>
  /^[\d\s]+$/.test(value.trim()) ? { code: digitsOnly(value) } : { backupCode: value.trim() };

onSubmit(
  $('disable-form'),
  () => [[$('disable-code'), 'code-or-backup']],
  async ({ code }) => {
    await about(code, 'code', () => authed('POST', '/api/totp/disable', codeOrBackup(code.value)));
    code.value = '';
    code.closest('details').open = false;
    await account('Two-factor authentication is off.');
    $('account-title').focus();
  },
);

// Authenticators and trusted browsers: lists with their actions, each asked in a dialog.

function item(title, detail, buttons) {
  const li = document.createElement('li');
  const text = document.createElement('div');
  const strong = document.createElement('strong');
  strong.textContent = title;
  const small = document.createElement('span');
  small.className = 'hint';
  small.textContent = detail;
  text.append(strong, small);
  const actions = document.createElement('div');
  actions.className = 'item-actions';
  for (const [label, handler] of buttons) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small secondary';
    button.textContent = label;
    button.setAttribute('aria-label', `${label} ${title}`);
    onClick(button, handler);
    actions.append(button);
  }
  li.append(text, actions);
  return li;
}

function renderAuthenticators(list, required) {
  $('authenticators').replaceChildren(
    ...list.map((a) =>
      item(a.name, `Added ${day(a.createdAt)}${a.lastUsedAt ? ` · last used ${day(a.lastUsedAt)}` : ''}`, [
        ['Rename', () => renameAuthenticator(a)],
        // Under required 2FA the last one stays: removing it would turn 2FA off.
        ...(required && list.length === 1 ? [] : [['Remove', () => removeAuthenticator(a, list.length)]]),
      ]),
    ),
  );
}

async function renderDevices() {
  const { devices } = await authed('GET', '/api/auth/devices');
  $('devices-empty').hidden = devices.length > 0;
  $('devices-revoke-all').hidden = devices.length === 0;
  $('devices').replaceChildren(
    ...devices.map((d) =>
      item(
        `${d.name}${d.current ? ' (this browser)' : ''}`,
        `Trusted ${day(d.createdAt)} · last used ${day(d.lastUsedAt)} · until ${day(d.expiresAt)}`,
        [
          [
            'Revoke',
            () =>
              authed('POST', '/api/auth/devices/revoke', { id: d.id }).then(
                () => account(`${d.name} is no longer trusted.`),
                problem,
              ),
          ],
        ],
      ),
    ),
  );
}

onClick($('devices-revoke-all'), async () => {
  if (!confirm('Revoke every trusted browser? Each will ask for a code at its next sign-in.')) return;
  await authed('POST', '/api/auth/devices/revoke-all');
  await account('No browser is trusted now.');
});

let dialogAction = null;

/** Asks in the dialog: `action(value)` runs on submit; its error goes under the field. */
function ask({ title, text, label, submit, value = '', kind, danger = false, action }) {
  $('dialog-title').textContent = title;
  $('dialog-text').textContent = text;
  $('dialog-label').textContent = label;
  $('dialog-submit').textContent = submit;
  $('dialog-submit').className = danger ? 'danger' : '';
  $('dialog-input').value = value;
  $('dialog-input').dataset.kind = kind;
  clearErrors($('dialog-form'));
  dialogAction = action;
  $('dialog').showModal();
  $('dialog-input').focus();
}

onSubmit(
  $('dialog-form'),
  () => [[$('dialog-input'), $('dialog-input').dataset.kind]],
  async () => {
    const input = $('dialog-input');
    const kind = input.dataset.kind === 'name' ? 'name' : 'code';
    const message = await about(input, kind, () => dialogAction(input.value));
    $('dialog').close();
    await account(message);
    $('account-title').focus();
  },
);
$('dialog-cancel').addEventListener('click', () => $('dialog').close());

function renameAuthenticator(a) {
  ask({
    title: 'Rename authenticator',
    text: 'A name helps you tell your authenticators apart.',
    label: 'Name',
    submit: 'Save',
    value: a.name,
    kind: 'name',
    action: async (name) => {
      await authed('POST', '/api/totp/authenticators/rename', { id: a.id, name: name.trim() });
      return `Renamed to ${name.trim()}.`;
    },
  });
}

function removeAuthenticator(a, count) {
  const last = count === 1;
  ask({
    title: `Remove ${a.name}?`,
    text: last
      ? 'It is your only authenticator: removing it turns two-factor authentication off.'
      : `Its codes stop working. To prove it is you, enter a code from another authenticator or a backup code.`,
    label: last
      ? 'Code from this authenticator, or a backup code'
      : 'Code from another authenticator, or a backup code',
    submit: 'Remove',
    kind: 'code-or-backup',
    danger: true,
    action: async (value) => {
      const { twoFactorEnabled } = await authed('POST', '/api/totp/authenticators/remove', {
        id: a.id,
        ...codeOrBackup(value),
      });
      return twoFactorEnabled ? `${a.name} removed.` : 'Two-factor authentication is off.';
    },
  });
}

// Start: a session cookie from before signs in again; a page that never signed in does not ask.

function route() {
  if (me || accessToken) return;
  show(location.hash === '#signup' ? 'signup' : 'signin', 'heading');
}
window.addEventListener('hashchange', route);

async function start() {
  $('offline').hidden = true;
  $('loading').hidden = false;
  try {
    if (localStorage.getItem(SESSION_HINT) && (await renew())) await signedIn(false);
    else route();
  } catch (error) {
    if (error instanceof ApiError && error.status < 500) throw error;
    // The server is out of reach or failing: say so and offer to try again; nothing is forgotten.
    $('loading').hidden = true;
    for (const name of VIEWS) $(`view-${name}`).hidden = true;
    $('offline').hidden = false;
    $('offline-retry').focus();
  }
}
$('offline-retry').addEventListener('click', start);

// Other tabs of this page: one signing in or out tells the rest through the session hint.
window.addEventListener('storage', (event) => {
  if (event.key !== SESSION_HINT) return;
  if (event.newValue === null && (me || accessToken)) signedOut('You signed out in another tab.');
  else if (event.newValue !== null && !me && !accessToken && !challenge) start();
});
await start();
