// The one error class of @otpkit/core: callers switch on `code`, never on the message.

/**
 * Stable error codes. A wrong code is never an error (verification returns a
 * rejection); these are for misuse and bad input such as keys and URIs.
 */
type OtpkitErrorCode =
  | 'BASE32_INVALID'
  | 'HEX_INVALID'
  | 'SECRET_TOO_SHORT'
  | 'SECRET_TOO_LONG'
  | 'OPTION_INVALID'
  | 'URI_INVALID'
  | 'KEYRING_INVALID'
  | 'SEAL_INVALID'
  | 'SEAL_KEY_UNKNOWN'
  | 'MIGRATION_INVALID';

/**
 * Thrown for misuse and malformed input. Messages name fields, lengths,
 * limits and positions; they never contain a secret, a code or any
 * character of either.
 */
class OtpkitError extends Error {
  readonly code: OtpkitErrorCode;

  constructor(code: OtpkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OtpkitError';
    this.code = code;
  }
}

export type { OtpkitErrorCode };
export { OtpkitError };
