import { createHash } from 'node:crypto';
import {
  checkOneTimeSecret,
  generateNumericCode,
  generatePasscode,
  generateToken,
  hashOneTimeSecret,
  normalizeTypedCode,
  ONE_TIME_SECRET_DEFAULTS,
  oneTimeSecretMatches,
  PASSCODE_ALPHABET,
} from './one-time-secret';

describe('generators', () => {
  test('tokens: 256 bits, URL-safe, never repeated', () => {
    const tokens = Array.from({ length: 1000 }, () => generateToken());
    expect(tokens.every((t) => /^[A-Za-z0-9_-]{43}$/.test(t))).toBe(true);
    expect(new Set(tokens).size).toBe(1000);
    expect(generateToken(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(() => generateToken(8)).toThrow('at least 16');
  });

  test('numeric codes: fixed width with leading zeros, every digit in every position', () => {
    const codes = Array.from({ length: 4000 }, () => generateNumericCode());
    expect(codes.every((c) => /^\d{6}$/.test(c))).toBe(true);
    for (let position = 0; position < 6; position++) {
      expect(new Set(codes.map((c) => c[position])).size).toBe(10);
    }
    // A leading zero appears about 10% of the time; generating by Number would have lost it.
    const leadingZero = codes.filter((c) => c.startsWith('0')).length;
    expect(leadingZero).toBeGreaterThan(250);
    expect(leadingZero).toBeLessThan(550);
    expect(generateNumericCode(8)).toMatch(/^\d{8}$/);
    expect(() => generateNumericCode(3)).toThrow('4 to 12');
  });

  test('passcodes: unambiguous alphabet, grouped by four, all symbols used', () => {
    expect(PASSCODE_ALPHABET).toHaveLength(29);
    expect(PASSCODE_ALPHABET).not.toMatch(/[01ILOUV]/);
    const passcodes = Array.from({ length: 2000 }, () => generatePasscode());
    expect(passcodes.every((p) => new RegExp(`^[${PASSCODE_ALPHABET}]{4}-[${PASSCODE_ALPHABET}]{4}$`).test(p))).toBe(true);
    expect(new Set(passcodes.join('').replace(/-/g, '')).size).toBe(29);
    expect(generatePasscode(10)).toMatch(/^.{4}-.{4}-.{2}$/);
    expect(() => generatePasscode(4)).toThrow('6 to 32');
  });
});

describe('hashing and comparison', () => {
  test('stored form is base64url SHA-256', () => {
    expect(hashOneTimeSecret('abc')).toBe(createHash('sha256').update('abc').digest('base64url'));
    expect(hashOneTimeSecret('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  test('typed codes are normalized on both sides; tokens are compared exactly', () => {
    const passcode = 'K7M2-QX9P';
    const stored = hashOneTimeSecret(normalizeTypedCode(passcode));
    expect(oneTimeSecretMatches(normalizeTypedCode(' k7m2 qx9p '), stored)).toBe(true);
    expect(oneTimeSecretMatches(normalizeTypedCode('K7M2-QX9Q'), stored)).toBe(false);
    const token = generateToken();
    const tokenHash = hashOneTimeSecret(token);
    expect(oneTimeSecretMatches(token, tokenHash)).toBe(true);
    expect(oneTimeSecretMatches(token.toLowerCase() === token ? `${token}x` : token.toLowerCase(), tokenHash)).toBe(false);
    expect(oneTimeSecretMatches(token, 'short')).toBe(false);
    expect(oneTimeSecretMatches(token, '')).toBe(false);
  });
});

describe('checkOneTimeSecret', () => {
  const now = new Date('2026-11-21T23:00:00Z');
  const stored = { hash: hashOneTimeSecret('482913'), expiresAt: new Date('2026-11-21T23:10:00Z'), usedAt: null, failedAttempts: 0 };

  test('redeems the right code before it expires', () => {
    expect(checkOneTimeSecret(stored, '482913', now, 5)).toEqual({ ok: true });
    expect(checkOneTimeSecret(stored, '482913', new Date('2026-11-21T23:09:59.999Z'), 5)).toEqual({ ok: true });
  });

  test('refuses in order: used, too many attempts, expired, mismatch', () => {
    expect(checkOneTimeSecret(stored, '000000', now, 5)).toEqual({ ok: false, reason: 'mismatch' });
    expect(checkOneTimeSecret(stored, '482913', new Date('2026-11-21T23:10:00Z'), 5)).toEqual({ ok: false, reason: 'expired' });
    expect(checkOneTimeSecret({ ...stored, failedAttempts: 4 }, '482913', now, 5)).toEqual({ ok: true });
    expect(checkOneTimeSecret({ ...stored, failedAttempts: 5 }, '482913', now, 5)).toEqual({ ok: false, reason: 'too-many-attempts' });
    expect(checkOneTimeSecret({ ...stored, usedAt: now, failedAttempts: 5 }, '482913', now, 5)).toEqual({ ok: false, reason: 'used' });
    // A spent secret says "used" whether or not the guess is right: nothing is learned about it.
    expect(checkOneTimeSecret({ ...stored, usedAt: now }, '000000', now, 5)).toEqual({ ok: false, reason: 'used' });
  });

  test('documented defaults', () => {
    expect(ONE_TIME_SECRET_DEFAULTS.familyPasscode).toEqual({ ttlMs: 86_400_000, maxAttempts: 5 });
    expect(ONE_TIME_SECRET_DEFAULTS.verificationCode).toEqual({ ttlMs: 600_000, maxAttempts: 5 });
    expect(ONE_TIME_SECRET_DEFAULTS.passwordResetLink.ttlMs).toBe(1_800_000);
    expect(ONE_TIME_SECRET_DEFAULTS.invitation.ttlMs).toBe(30 * 86_400_000);
  });
});
