// @otpkit/core: HOTP/TOTP, base32, key URIs, replay-safe verification, resync,
// sealed secrets, backup codes and Google Authenticator import.
// Pure and runtime-neutral: no Node built-ins; time and randomness come in as arguments.

export { base32Decode, base32Encode, base64Decode, base64UrlEncode, hexDecode, hexEncode } from './encoding.js';
export type { OtpkitErrorCode } from './errors.js';
export { OtpkitError } from './errors.js';
export type { Algorithm } from './hmac.js';
export type { MigrationBatch, MigrationExport, MigrationOptions } from './migration.js';
export { parseMigrationUri } from './migration.js';
export type {
  Encoder,
  Hotp,
  HotpMatch,
  HotpResult,
  HotpResyncOptions,
  HotpVerifyOptions,
  OtpParameters,
  Rejection,
  RejectReason,
  Totp,
  TotpMatch,
  TotpParameters,
  TotpResult,
  TotpResyncOptions,
  TotpToken,
  TotpVerifyOptions,
  Window,
} from './otp.js';
export {
  createHotp,
  createTotp,
  DEFAULT_RESYNC_STEPS,
  MAX_DIGITS,
  MAX_LOOK_AHEAD,
  MAX_RESYNC_STEPS,
  MAX_SKEW_SECONDS,
  MAX_WINDOW_STEPS,
  MIN_DIGITS,
  STEAM_ALPHABET,
} from './otp.js';
export type { TotpPreset, TotpPresetOptions } from './preset.js';
export { totpPreset } from './preset.js';
export type { GenerateSecretOptions, RandomBytes } from './secret.js';
export {
  DEFAULT_SECRET_BYTES,
  generateSecret,
  groupSecret,
  MAX_SECRET_BYTES,
  MIN_SECRET_BYTES,
} from './secret.js';
export type { KeyUri, KeyUriInput } from './uri.js';
export { formatKeyUri, MAX_URI_LENGTH, parseKeyUri } from './uri.js';
export type { BackupCodeResult } from './vault/backup-codes.js';
export { BACKUP_CODE_ALPHABET, checkBackupCode, generateBackupCodes, hashBackupCode } from './vault/backup-codes.js';
export type { Enrollment, EnrollmentJson, EnrollmentParameters, VaultOptions } from './vault/enrollment.js';
export { createEnrollment, openEnrollment } from './vault/enrollment.js';
export type { Aead, AeadFactory, KeyRing, KeyRingOptions } from './vault/keyring.js';
export { generateKeyRingEntry, parseKeyRing } from './vault/keyring.js';
export type { Opened, SealOptions } from './vault/seal.js';
export { openSecret, sealSecret } from './vault/seal.js';
