// The numbers an operator may tune: how long things live, how many tries,
// how hard the lock. Defaults are what otpkit has always used; checkPolicy
// refuses a value out of range, or two that contradict each other, with one
// line naming the setting, so a bad policy fails at start.

interface Policy {
  /** Backup codes made at enrollment and on rotation. */
  backupCodes: number;
  /** Active authenticators a user may have at once. */
  maxAuthenticators: number;
  /** How long "trust this browser" lasts; 0 turns the feature off. */
  trustedDeviceDays: number;
  /**
   * Every user must turn 2FA on: one without it who passes the password step
   * gets a session that can only enroll and confirm (status "enrollment_required").
   */
  requireTwoFactor: boolean;
  /** TOTP steps accepted each side of now (each step is one more HMAC and one more code an attacker may hit). */
  totpWindowSteps: number;
  /** A login challenge's life and its attempts. */
  challengeTtlSeconds: number;
  challengeAttempts: number;
  accessTokenTtlSeconds: number;
  refreshTokenTtlHours: number;
  /** A session's absolute lifetime from sign-in; refreshing cannot extend it. */
  sessionMaxAgeHours: number;
  /** Wrong second factors between locks, the first lock, the longest, and when the lock is for good. */
  lockoutAttempts: number;
  lockoutFirstMinutes: number;
  lockoutMaxHours: number;
  lockoutPermanentAfter: number;
}

const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  backupCodes: 10,
  maxAuthenticators: 5,
  trustedDeviceDays: 30,
  requireTwoFactor: false,
  totpWindowSteps: 1,
  challengeTtlSeconds: 5 * 60,
  challengeAttempts: 5,
  accessTokenTtlSeconds: 10 * 60,
  refreshTokenTtlHours: 30 * 24,
  sessionMaxAgeHours: 30 * 24,
  lockoutAttempts: 10,
  lockoutFirstMinutes: 15,
  lockoutMaxHours: 24,
  lockoutPermanentAfter: 100,
});

/** Each setting's range: wide enough for any sane deployment, narrow enough to refuse a typo's extra zeros. */
type NumericSetting = Exclude<keyof Policy, 'requireTwoFactor'>;
const RANGES: Readonly<Record<NumericSetting, readonly [min: number, max: number]>> = {
  backupCodes: [1, 100],
  maxAuthenticators: [1, 20],
  trustedDeviceDays: [0, 365],
  totpWindowSteps: [0, 10],
  challengeTtlSeconds: [30, 3600],
  challengeAttempts: [1, 20],
  accessTokenTtlSeconds: [60, 86_400],
  refreshTokenTtlHours: [1, 8760],
  sessionMaxAgeHours: [1, 8760],
  lockoutAttempts: [3, 100],
  lockoutFirstMinutes: [1, 1440],
  lockoutMaxHours: [1, 8760],
  lockoutPermanentAfter: [3, 100_000],
};

class PolicyError extends Error {
  override name = 'PolicyError';
}

/** The policy with the defaults filled in; PolicyError naming the first setting out of range or in conflict. */
function checkPolicy(given: Partial<Policy> = {}): Policy {
  const policy = { ...DEFAULT_POLICY, ...given };
  if (typeof policy.requireTwoFactor !== 'boolean') throw new PolicyError('requireTwoFactor must be true or false');
  for (const [name, [min, max]] of Object.entries(RANGES) as [NumericSetting, readonly [number, number]][]) {
    const value = policy[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new PolicyError(`${name} must be a whole number from ${min} to ${max}`);
    }
  }
  if (policy.lockoutMaxHours * 60 < policy.lockoutFirstMinutes) {
    throw new PolicyError('lockoutMaxHours must be at least lockoutFirstMinutes');
  }
  if (policy.lockoutPermanentAfter < policy.lockoutAttempts) {
    throw new PolicyError('lockoutPermanentAfter must be at least lockoutAttempts');
  }
  return policy;
}

export type { Policy };
export { checkPolicy, DEFAULT_POLICY, PolicyError };
