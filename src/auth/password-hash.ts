/**
 * Password hashing with scrypt (memory-hard, in node:crypto, no native add-on to build). Hashes are
 * self-describing PHC-style strings, so the cost can be raised later and old hashes still verify
 * (`needsRehash` tells when to upgrade one at the next successful login).
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';

/** scrypt cost parameters: N = 2^logN, block size r, parallelism p. */
export interface ScryptParams {
  readonly logN: number;
  readonly r: number;
  readonly p: number;
}

/**
 * N=2^15, r=8, p=3: one of the OWASP-equivalent scrypt settings (same work as N=2^17, p=1) at 32 MiB per hash
 * instead of 128 MiB, so a burst of logins cannot exhaust memory. Measured ~200 ms on the 2-core CI machine
 * (N=2^15, p=1 alone: ~68 ms).
 */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ logN: 15, r: 8, p: 3 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Stored hashes outside these bounds are refused rather than computed: a row must not be able to DoS login. */
const LIMITS = { logN: [10, 20], r: [1, 32], p: [1, 16], maxMemory: 256 * 1024 * 1024 } as const;
const ENCODED = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,88})\$([A-Za-z0-9+/]{22,88})$/;

function scrypt(password: string, salt: Buffer, keyLength: number, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.logN;
  return new Promise((resolve, reject) => {
    scryptCallback(
      password.normalize('NFKC'),
      salt,
      keyLength,
      { N, r: params.r, p: params.p, maxmem: 2 * 128 * N * params.r },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

function withinLimits(params: ScryptParams): boolean {
  const { logN, r, p } = params;
  return (
    logN >= LIMITS.logN[0] &&
    logN <= LIMITS.logN[1] &&
    r >= LIMITS.r[0] &&
    r <= LIMITS.r[1] &&
    p >= LIMITS.p[0] &&
    p <= LIMITS.p[1] &&
    128 * 2 ** logN * r <= LIMITS.maxMemory
  );
}

const b64 = (buf: Buffer): string => buf.toString('base64').replace(/=+$/, '');

/**
 * Hashes a password for storage: `$scrypt$ln=15,r=8,p=3$<salt>$<key>` (unpadded base64). The password is
 * NFKC-normalized first, so the same password typed on different keyboards verifies.
 */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  if (!withinLimits(params)) {
    throw new RangeError(`scrypt parameters out of range: ${JSON.stringify(params)}`);
  }
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(password, salt, KEY_BYTES, params);
  return `$scrypt$ln=${params.logN},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

function parseHash(encoded: string): ParsedHash | undefined {
  const m = ENCODED.exec(encoded);
  if (!m) {
    return undefined;
  }
  const params = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  const salt = Buffer.from(m[4], 'base64');
  const key = Buffer.from(m[5], 'base64');
  if (!withinLimits(params) || salt.length < 16 || key.length < 16 || key.length > 64) {
    return undefined;
  }
  return { params, salt, key };
}

/**
 * True when `password` matches the stored hash; compares in constant time. A malformed or out-of-range stored
 * hash verifies nothing (false) instead of throwing, so a bad row locks one account, not the login endpoint.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (!parsed) {
    return false;
  }
  const key = await scrypt(password, parsed.salt, parsed.key.length, parsed.params);
  return timingSafeEqual(key, parsed.key);
}

/** True when a stored hash should be replaced (weaker or different parameters, or unreadable). */
export function needsRehash(encoded: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): boolean {
  const parsed = parseHash(encoded);
  return (
    !parsed ||
    parsed.params.logN !== params.logN ||
    parsed.params.r !== params.r ||
    parsed.params.p !== params.p ||
    parsed.key.length !== KEY_BYTES
  );
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same time as checking a real password, for logins to unknown emails: without it, the response
 * time tells an attacker which addresses have accounts. Always resolves false.
 */
export async function verifyPasswordAgainstNobody(password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<false> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'), params);
  await verifyPassword(password, await dummyHash);
  return false;
}

/** One reason a password is refused, with the message to show. */
export interface PasswordProblem {
  readonly code: 'too-short' | 'too-long' | 'too-simple' | 'common' | 'contains-email';
  readonly message: string;
}

/** Length rules (in characters after NFKC normalization). */
export const PASSWORD_MIN_LENGTH = 15;
export const PASSWORD_MAX_LENGTH = 256;

// The letters of the most common passwords; "Password123!" reduces to "password". Kept short on purpose:
// length already excludes the bulk of breached passwords.
const COMMON_CORES = new Set([
  'password',
  'passw',
  'qwerty',
  'qwertyuiop',
  'asdfghjkl',
  'zxcvbnm',
  'letmein',
  'iloveyou',
  'welcome',
  'admin',
  'administrator',
  'abc',
  'abcdef',
  'abcdefghijklmnopqrstuvwxyz',
  'monkey',
  'dragon',
  'sunshine',
  'princess',
  'football',
  'baseball',
  'trustno',
  'master',
  'login',
  'changeme',
  'secret',
  'qazwsx',
  'qwertyuiopasdfghjkl',
  'iloveyouiloveyou',
  'passwordpassword',
  'chartkeeper',
]);

const LEET: Readonly<Record<string, string>> = { '@': 'a', $: 's', '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '!': 'i' };

/**
 * The letters of a password, as typed ("Password123!" -> "password") and with look-alike symbols inside words
 * read as letters ("P@ssw0rd-2026" -> "password").
 */
function commonCores(lower: string): string[] {
  const letters = (value: string) => value.replace(/[^\p{L}]/gu, '');
  const chars = [...lower];
  const unleet = chars
    .map((c, i) => (LEET[c] && /\p{L}/u.test(chars[i - 1] ?? '') && /\p{L}/u.test(chars[i + 1] ?? '') ? LEET[c] : c))
    .join('');
  return [letters(lower), letters(unleet)];
}

/**
 * The problems with a new password, empty when it is acceptable. Follows NIST SP 800-63B-4: at least 15
 * characters for a single-factor password, any characters allowed, no composition rules, refuse common and
 * context-specific choices (the account's email).
 */
export function checkPasswordPolicy(password: string, context: { email?: string } = {}): PasswordProblem[] {
  const normalized = password.normalize('NFKC');
  const length = [...normalized].length;
  const problems: PasswordProblem[] = [];
  if (length < PASSWORD_MIN_LENGTH) {
    problems.push({
      code: 'too-short',
      message: `Use at least ${PASSWORD_MIN_LENGTH} characters; a few unrelated words make a good password.`,
    });
  }
  if (length > PASSWORD_MAX_LENGTH) {
    problems.push({ code: 'too-long', message: `Use at most ${PASSWORD_MAX_LENGTH} characters.` });
  }
  const lower = normalized.toLowerCase();
  if (new Set(lower).size < 5 || /^(.{1,8}?)\1+$/u.test(lower)) {
    problems.push({ code: 'too-simple', message: 'Use more than a few different characters, and do not repeat the same short pattern.' });
  }
  if (commonCores(lower).some((core) => COMMON_CORES.has(core) || COMMON_CORES.has(/^(.+?)\1+$/u.exec(core)?.[1] ?? ''))) {
    problems.push({ code: 'common', message: 'This password is too common. Choose something others would not guess.' });
  }
  const email = context.email?.trim().toLowerCase();
  if (email) {
    const local = email.split('@')[0];
    if (lower.includes(email) || (local.length >= 4 && lower.includes(local))) {
      problems.push({ code: 'contains-email', message: 'Do not use your email address in your password.' });
    }
  }
  return problems;
}
