// otpkit's web UI: plain JavaScript against the JSON API, no framework.
// The access token lives in this module's memory only (never in storage a
// script could read back after a page injection); the refresh token is an
// HttpOnly cookie the server sets because every call says
// X-Otpkit-Session: cookie. A reload signs in again through that cookie.

const $ = (id) => document.getElementById(id);

let accessToken = null;
let challenge = null;
let me = null;

class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

async function call(method, path, body) {
  const headers = { 'x-otpkit-session': 'cookie' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const retryAfter = Number(response.headers.get('retry-after')) || undefined;
    throw new ApiError(response.status, data.error?.code ?? 'INTERNAL', data.error?.message ?? '', retryAfter);
  }
  return data;
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
      accessToken = (await call('POST', '/api/auth/refresh', {})).accessToken;
      return true;
    } catch {
      return false;
    }
  });
}

// Words for people, by error code.

function wait(seconds) {
  if (!seconds) return 'a while';
  if (seconds < 90) return `${seconds} seconds`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} minutes`;
  return `${Math.round(seconds / 3600)} hours`;
}

function words(error) {
  if (!(error instanceof ApiError)) return 'Could not reach the server. Check your connection and try again.';
  switch (error.code) {
    case 'CODE_WRONG':
      return 'That code is not right. Enter the code your app shows now.';
    case 'CODE_REUSED':
      return 'That code was already used. Wait for your app to show a new one.';
    case 'CODE_MALFORMED':
      return 'That does not look like a code. Check it and try again.';
    case 'SECOND_FACTOR_LOCKED':
      return error.retryAfter
        ? `Too many wrong codes. Try again in ${wait(error.retryAfter)}.`
        : 'Too many wrong codes. Ask an administrator to unlock your account.';
    case 'RATE_LIMITED':
      return `Too many requests. Try again in ${wait(error.retryAfter)}.`;
    case 'CREDENTIALS_INVALID':
      return 'Wrong username or password.';
    case 'LOGIN_THROTTLED':
      return `Too many wrong passwords for this account. Try again in ${wait(error.retryAfter)}.`;
    case 'SERVER_BUSY':
    case 'DATABASE_UNAVAILABLE':
      return 'The server is busy right now. Try again in a moment.';
    case 'SECOND_FACTOR_REQUIRED':
      return 'Sign in again with your code to change two-factor settings.';
    case 'ENROLLMENT_NOT_STARTED':
      return 'Setup was started again in another window or device. Start setup again here.';
    case 'USERNAME_TAKEN':
      return 'That username is taken. Pick another.';
    case 'CHALLENGE_INVALID':
      return 'This sign-in has expired or had too many tries. Sign in again.';
    case 'INPUT_INVALID':
      return `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`;
    default:
      return 'Something went wrong. Try again.';
  }
}

// Showing things.

const VIEWS = ['signin', 'second-step', 'signup', 'account'];

function show(view) {
  $('loading').hidden = true;
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  const first = $(`view-${view}`).querySelector('input:not([hidden]), button');
  if (first && view !== 'account') first.focus();
}

function fieldError(input, message) {
  const error = $(`${input.id}-error`) ?? input.form.querySelector('.error');
  error.textContent = message ?? '';
  if (message) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    input.select();
  } else {
    input.removeAttribute('aria-invalid');
  }
}

function clearErrors(form) {
  for (const error of form.querySelectorAll('.error')) error.textContent = '';
  for (const input of form.querySelectorAll('input')) input.removeAttribute('aria-invalid');
}

/** Handles a form's submit: no double submits, errors next to the field that caused them. */
function onSubmit(form, handler) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    if (button.disabled) return;
    clearErrors(form);
    button.disabled = true;
    try {
      await handler(form.elements);
    } catch (error) {
      const field = error.field ?? form.querySelector('input:last-of-type');
      fieldError(field, words(error));
    } finally {
      button.disabled = false;
    }
  });
}

const withField = (field, fn) =>
  fn().catch((error) => {
    error.field = field;
    throw error;
  });

const digitsOnly = (value) => value.replace(/[\s-]/g, '');

// Signing in and out.

async function signedIn(message) {
  challenge = null;
  me = await authed('GET', '/api/auth/me');
  $('whoami').textContent = `Signed in as ${me.username}`;
  $('whoami').hidden = false;
  if (location.hash) history.replaceState(null, '', location.pathname);
  show('account');
  await account(message);
}

function signedOut(message) {
  accessToken = null;
  challenge = null;
  me = null;
  $('whoami').hidden = true;
  $('signin-error').textContent = message ?? '';
  for (const form of document.forms) form.reset();
  location.hash = '#signin';
  show('signin');
}

onSubmit($('signin-form'), async ({ username, password }) => {
  const result = await withField(password, () =>
    call('POST', '/api/auth/login', { username: username.value, password: password.value }),
  );
  password.value = '';
  if (result.status === 'authenticated') {
    accessToken = result.tokens.accessToken;
    return signedIn();
  }
  challenge = result.challenge;
  $('totp-form').hidden = false;
  $('backup-form').hidden = true;
  show('second-step');
});

async function verify(input, body) {
  try {
    accessToken = (await call('POST', '/api/auth/login/verify', { challenge, ...body })).accessToken;
  } catch (error) {
    if (error.code === 'CHALLENGE_INVALID') return signedOut(words(error));
    error.field = input;
    throw error;
  }
  input.value = '';
  return signedIn();
}

onSubmit($('totp-form'), ({ code }) => verify(code, { code: digitsOnly(code.value) }));
onSubmit($('backup-form'), ({ backupCode }) => verify(backupCode, { backupCode: backupCode.value.trim() }));

function switchFactor(toBackup) {
  $('totp-form').hidden = toBackup;
  $('backup-form').hidden = !toBackup;
  (toBackup ? $('backup-code') : $('totp-code')).focus();
}
$('use-backup').addEventListener('click', () => switchFactor(true));
$('use-totp').addEventListener('click', () => switchFactor(false));

onSubmit($('signup-form'), async ({ username, password }) => {
  const credentials = { username: username.value, password: password.value };
  try {
    await call('POST', '/api/auth/register', credentials);
  } catch (error) {
    error.field = error.message.startsWith('password') ? password : username;
    throw error;
  }
  password.value = '';
  accessToken = (await call('POST', '/api/auth/login', credentials)).tokens.accessToken;
  await signedIn('Your account is ready. Turn on two-factor authentication below.');
});

$('signout').addEventListener('click', async () => {
  await authed('POST', '/api/auth/logout').catch(() => undefined);
  signedOut('You are signed out.');
});

// The account page.

async function account(message) {
  const status = await authed('GET', '/api/totp/status');
  $('account-notice').textContent = message ?? '';
  for (const id of ['tfa-off', 'tfa-enroll', 'tfa-codes', 'tfa-on']) $(id).hidden = true;
  if (status.enabled) {
    const since = new Date(status.confirmedAt).toLocaleDateString();
    const left = status.backupCodesRemaining;
    $('tfa-summary').textContent = `On since ${since}. You have ${left} backup ${left === 1 ? 'code' : 'codes'} left.`;
    $('tfa-on').hidden = false;
  } else if (status.pending) {
    await enroll();
  } else {
    $('tfa-off').hidden = false;
  }
}

async function enroll() {
  const enrollment = await authed('POST', '/api/totp/enroll');
  $('account-notice').textContent = '';
  $('enroll-qr').src = enrollment.qrPng;
  $('enroll-secret').textContent = enrollment.secretGrouped;
  $('enroll-secret').dataset.secret = enrollment.secret;
  $('confirm-code').setAttribute('maxlength', String(enrollment.digits + 2));
  $('tfa-off').hidden = true;
  $('tfa-enroll').hidden = false;
  $('confirm-code').focus();
}

/** A failed button action (no field to put it by): said at the top of the account page. */
const problem = (error) => {
  $('account-notice').textContent = words(error);
};

$('enroll-start').addEventListener('click', () => enroll().catch(problem));

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
  const list = $('codes-list');
  list.replaceChildren(
    ...codes.map((code) => {
      const item = document.createElement('li');
      item.textContent = code;
      return item;
    }),
  );
  $('tfa-codes').hidden = false;
  $('codes-done').focus();
}

const codesText = () =>
  `otpkit backup codes for ${me.username}\nEach code works once.\n\n${[...$('codes-list').children]
    .map((item) => item.textContent)
    .join('\n')}\n`;

$('codes-copy').addEventListener('click', (event) => copy(codesText(), event.target));
$('codes-download').addEventListener('click', () => {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([codesText()], { type: 'text/plain' }));
  link.download = `otpkit-backup-codes-${me.username}.txt`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
});
$('codes-done').addEventListener('click', () => {
  $('codes-list').replaceChildren();
  account('Two-factor authentication is on.').catch(problem);
});

onSubmit($('confirm-form'), async ({ code }) => {
  const { backupCodes } = await withField(code, () =>
    authed('POST', '/api/totp/confirm', { code: digitsOnly(code.value) }),
  );
  code.value = '';
  showCodes(backupCodes);
});

onSubmit($('rotate-form'), async ({ code }) => {
  const { backupCodes } = await withField(code, () =>
    authed('POST', '/api/totp/backup-codes', { code: digitsOnly(code.value) }),
  );
  code.value = '';
  code.closest('details').open = false;
  showCodes(backupCodes);
});

onSubmit($('disable-form'), async ({ code }) => {
  const value = code.value.trim();
  const body = /^[\d\s]+$/.test(value) ? { code: digitsOnly(value) } : { backupCode: value };
  await withField(code, () => authed('POST', '/api/totp/disable', body));
  code.value = '';
  code.closest('details').open = false;
  await account('Two-factor authentication is off.');
});

// Start: a session cookie from before signs in again.

function route() {
  if (me) return;
  show(location.hash === '#signup' ? 'signup' : 'signin');
}
window.addEventListener('hashchange', route);

if (await renew()) await signedIn();
else route();
