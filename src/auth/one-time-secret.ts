/**
 * Random single-use secrets: link tokens (invitations, password reset, refresh tokens), numeric codes
 * (verification) and typed passcodes (family access). Only a SHA-256 of each is stored, so a copy of the
 * database cannot be used to redeem them; comparison is constant-time.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** Lifetimes and attempt limits, documented defaults of the account flows. */
export const ONE_TIME_SECRET_DEFAULTS = Object.freeze({
  /** Family access passcode sent to the patient: the patient has a day to pass it on. */
  familyPasscode: { ttlMs: 24 * 60 * 60 * 1000, maxAttempts: 5 },
  /** Emailed verification code (identity check after a reset). */
  verificationCode: { ttlMs: 10 * 60 * 1000, maxAttempts: 5 },
  /** "Forgot password" link. */
  passwordResetLink: { ttlMs: 30 * 60 * 1000, maxAttempts: 5 },
  /** Reset token staff read out to a patient on the phone. */
  staffResetToken: { ttlMs: 24 * 60 * 60 * 1000, maxAttempts: 5 },
  /** Family invitation and staff enrollment invitation (the Westchester FAQ's 30 days). */
  invitation: { ttlMs: 30 * 24 * 60 * 60 * 1000, maxAttempts: 5 },
  /** Refresh token (rotated on every use). */
  refreshToken: { ttlMs: 30 * 24 * 60 * 60 * 1000, maxAttempts: 1 },
});

/** A URL-safe token of `bytes` random bytes (default 32 = 256 bits), for links and refresh tokens. */
export function generateToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 16) {
    throw new RangeError('A token needs at least 16 random bytes');
  }
  return randomBytes(bytes).toString('base64url');
}

/** A numeric code of `digits` digits (default 6), uniform over 000000-999999, leading zeros kept. */
export function generateNumericCode(digits = 6): string {
  if (!Number.isInteger(digits) || digits < 4 || digits > 12) {
    throw new RangeError('A numeric code has 4 to 12 digits');
  }
  // randomInt is uniform (rejection sampling); max is exclusive. 10^12 < 2^48, randomInt's limit.
  return String(randomInt(0, 10 ** digits)).padStart(digits, '0');
}

/** Letters and digits people do not confuse when reading a code aloud or typing it: no 0/O, 1/I/L, U/V. */
export const PASSCODE_ALPHABET = 'ABCDEFGHJKMNPQRSTWXYZ23456789';

/** A passcode like `K7M2-QX9P` (default 8 symbols, ~39 bits), typed by a person who was told it. */
export function generatePasscode(symbols = 8): string {
  if (!Number.isInteger(symbols) || symbols < 6 || symbols > 32) {
    throw new RangeError('A passcode has 6 to 32 symbols');
  }
  let out = '';
  for (let i = 0; i < symbols; i++) {
    out += PASSCODE_ALPHABET[randomInt(PASSCODE_ALPHABET.length)];
  }
  return out.replace(/(.{4})(?=.)/g, '$1-');
}

/** What the person typed, as it is hashed: spaces and dashes dropped, upper case (passcodes and codes only). */
export function normalizeTypedCode(input: string): string {
  return input.replace(/[\s-]/g, '').toUpperCase();
}

/**
 * The stored form of a secret: SHA-256, base64url. Tokens are hashed as they are (case matters in base64url);
 * typed passcodes and codes go through `normalizeTypedCode` first, on both sides.
 */
export function hashOneTimeSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** True when `presented` hashes to `storedHash`; constant-time in the content of both. */
export function oneTimeSecretMatches(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashOneTimeSecret(presented), 'utf8');
  const b = Buffer.from(storedHash, 'utf8');
  // Both are fixed-length digests; a length mismatch means the stored value is not one of ours.
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A stored single-use secret as the redemption check needs it. */
export interface StoredOneTimeSecret {
  readonly hash: string;
  readonly expiresAt: Date;
  readonly usedAt: Date | null;
  readonly failedAttempts: number;
}

/** The outcome of presenting a secret. */
export type RedemptionOutcome =
  { readonly ok: true } | { readonly ok: false; readonly reason: 'used' | 'too-many-attempts' | 'expired' | 'mismatch' };

/**
 * Decides whether `presented` redeems `stored` at `now`. The caller then, in one transaction: on `ok` marks it
 * used (`UPDATE ... SET used_at = now WHERE id = ? AND used_at IS NULL`, treating 0 rows as `used`); on
 * `mismatch` increments failed_attempts. Used, locked and expired are decided before comparing, so a stolen
 * but spent secret learns nothing about its correctness.
 */
export function checkOneTimeSecret(stored: StoredOneTimeSecret, presented: string, now: Date, maxAttempts: number): RedemptionOutcome {
  if (stored.usedAt) {
    return { ok: false, reason: 'used' };
  }
  if (stored.failedAttempts >= maxAttempts) {
    return { ok: false, reason: 'too-many-attempts' };
  }
  if (now.getTime() >= stored.expiresAt.getTime()) {
    return { ok: false, reason: 'expired' };
  }
  return oneTimeSecretMatches(presented, stored.hash) ? { ok: true } : { ok: false, reason: 'mismatch' };
}
