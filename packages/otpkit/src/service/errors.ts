// The service's one error class: a stable code the HTTP edge maps to a status
// (http/errors.ts) and a message that never holds a code, secret, password or token.

type ServiceErrorCode =
  | 'INPUT_INVALID'
  | 'USERNAME_TAKEN'
  | 'CREDENTIALS_INVALID'
  | 'CHALLENGE_INVALID'
  | 'CODE_MALFORMED'
  | 'CODE_WRONG'
  | 'CODE_REUSED'
  | 'SECOND_FACTOR_LOCKED'
  | 'TWO_FACTOR_ENABLED'
  | 'TWO_FACTOR_NOT_ENABLED'
  | 'ENROLLMENT_NOT_STARTED'
  /** No active authenticator of that id for this user. */
  | 'AUTHENTICATOR_NOT_FOUND'
  /** The user has as many active authenticators as the policy allows. */
  | 'AUTHENTICATOR_LIMIT'
  /** The user's authenticators changed while the request ran: read them again. */
  | 'AUTHENTICATORS_CHANGED'
  /** requireTwoFactor is on and this session has not turned 2FA on yet: it may only enroll and confirm. */
  | 'ENROLLMENT_REQUIRED'
  /** requireTwoFactor is on: 2FA cannot be turned off (nor its last authenticator removed) by the user. */
  | 'TWO_FACTOR_REQUIRED'
  /** An operator deactivated this account (told only after the right password). */
  | 'ACCOUNT_DEACTIVATED'
  /** The current password given to change it is wrong. */
  | 'PASSWORD_WRONG'
  /** No live trusted device of that id for this user. */
  | 'DEVICE_NOT_FOUND'
  | 'TOKEN_INVALID'
  | 'USER_NOT_FOUND'
  /** A session that has not passed the second factor, on an account with 2FA on. */
  | 'SECOND_FACTOR_REQUIRED'
  /** Too many failed passwords for this account in the current window. */
  | 'LOGIN_THROTTLED'
  /** Every password-hashing slot is taken, and its queue is full. */
  | 'SERVER_BUSY'
  /** The key ring cannot open or check what is stored (operator start-up checks). */
  | 'KEY_MISSING';

/** What a wrong or reused second factor leaves, for a client to say (never a secret). */
interface AttemptsLeft {
  /** Wrong codes before the account locks; 0: it is locked now. */
  attemptsLeft: number;
  /** At sign-in: codes this sign-in still takes before the password is needed again. */
  challengeAttemptsLeft?: number;
  /** ISO time the lock this attempt started ends; null: until an operator unlocks. */
  lockedUntil?: string | null;
}

class ServiceError extends Error {
  readonly code: ServiceErrorCode;
  /** For SECOND_FACTOR_LOCKED, LOGIN_THROTTLED, SERVER_BUSY: when to try again (absent when only an operator can unlock). */
  readonly retryAfterSeconds: number | undefined;
  /** For CODE_WRONG and CODE_REUSED: what is left of the attempt budgets. */
  readonly details: AttemptsLeft | undefined;

  constructor(code: ServiceErrorCode, message: string, retryAfterSeconds?: number, details?: AttemptsLeft) {
    super(message);
    this.name = 'ServiceError';
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
    this.details = details;
  }
}

export type { AttemptsLeft, ServiceErrorCode };
export { ServiceError };
