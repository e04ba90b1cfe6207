import {
  checkPasswordPolicy,
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  needsRehash,
  verifyPassword,
  verifyPasswordAgainstNobody,
} from './password-hash';

// The default parameters are used wherever the test is about behaviour users rely on; a cheaper setting only
// where a test needs many hashes.
const CHEAP = { logN: 10, r: 8, p: 1 };

describe('hashPassword / verifyPassword', () => {
  test('round trip with the default parameters, self-describing format, random salt', async () => {
    const started = process.hrtime.bigint();
    const hash = await hashPassword('chartkeeper-demo');
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(hash).toMatch(/^\$scrypt\$ln=15,r=8,p=3\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(elapsedMs).toBeGreaterThan(20); // memory-hard work really happens
    expect(await verifyPassword('chartkeeper-demo', hash)).toBe(true);
    expect(await verifyPassword('chartkeeper-demO', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
    expect(await hashPassword('chartkeeper-demo')).not.toBe(hash);
  });

  test('Unicode is normalized: composed and decomposed forms are the same password', async () => {
    const hash = await hashPassword('Caf\u00e9 au lait every morning', CHEAP);
    expect(await verifyPassword('Cafe\u0301 au lait every morning', hash)).toBe(true);
  });

  test('hashes made with other parameters still verify, and ask to be rehashed', async () => {
    const old = await hashPassword('correct horse battery staple', CHEAP);
    expect(old.startsWith('$scrypt$ln=10,r=8,p=1$')).toBe(true);
    expect(await verifyPassword('correct horse battery staple', old)).toBe(true);
    expect(needsRehash(old)).toBe(true);
    expect(needsRehash(old, CHEAP)).toBe(false);
    expect(DEFAULT_SCRYPT_PARAMS).toEqual({ logN: 15, r: 8, p: 3 });
  });

  test('malformed or out-of-range stored hashes verify nothing and are not computed', async () => {
    const good = await hashPassword('correct horse battery staple', CHEAP);
    const [, , , salt, key] = good.split('$');
    const cases = [
      '',
      'plaintext',
      `$argon2id$v=19$m=65536,t=3,p=4$${salt}$${key}`,
      `$scrypt$ln=31,r=8,p=1$${salt}$${key}`, // 2^31 * 1 KiB: would exhaust memory
      `$scrypt$ln=10,r=99,p=1$${salt}$${key}`,
      `$scrypt$ln=10,r=8,p=1$${salt}$`,
      `$scrypt$ln=10,r=8,p=1$AAAA$${key}`,
    ];
    for (const stored of cases) {
      expect(await verifyPassword('correct horse battery staple', stored)).toBe(false);
      expect(needsRehash(stored)).toBe(true);
    }
  });

  test('a flipped byte in the stored key fails', async () => {
    const hash = await hashPassword('correct horse battery staple', CHEAP);
    const parts = hash.split('$');
    const key = Buffer.from(parts[4], 'base64');
    key[0] ^= 1;
    parts[4] = key.toString('base64').replace(/=+$/, '');
    expect(await verifyPassword('correct horse battery staple', parts.join('$'))).toBe(false);
  });

  test('refuses to hash with parameters outside the limits', async () => {
    await expect(hashPassword('x', { logN: 8, r: 8, p: 1 })).rejects.toThrow('out of range');
  });

  test('verifyPasswordAgainstNobody takes about as long as a real check and is false', async () => {
    const hash = await hashPassword('correct horse battery staple');
    await verifyPasswordAgainstNobody('warm-up'); // first call builds the dummy hash
    const time = async (fn: () => Promise<unknown>) => {
      const t = process.hrtime.bigint();
      await fn();
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    // Medians of interleaved runs, so one run slowed by a busy machine does not decide it.
    const real: number[] = [];
    const nobodies: number[] = [];
    for (let i = 0; i < 5; i++) {
      real.push(await time(() => verifyPassword('guess', hash)));
      nobodies.push(await time(() => verifyPasswordAgainstNobody('guess')));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[2];
    const [realMs, nobody] = [median(real), median(nobodies)];
    expect(await verifyPasswordAgainstNobody('guess')).toBe(false);
    expect(nobody).toBeGreaterThan(realMs / 3);
    expect(nobody).toBeLessThan(realMs * 3);
  });
});

describe('checkPasswordPolicy', () => {
  const codes = (password: string, email?: string) => checkPasswordPolicy(password, { email }).map((p) => p.code);

  test('accepts long passphrases, including the demo password', () => {
    expect(codes('chartkeeper-demo', 'ada.park@example.com')).toEqual([]);
    expect(codes('correct horse battery staple')).toEqual([]);
    expect(codes('жёлтый чайник на кухне')).toEqual([]);
  });

  test('length in characters, not bytes or UTF-16 units', () => {
    expect(codes('short-password')).toEqual(['too-short']); // 14
    expect(codes('short-password!')).toEqual([]); // 15
    expect(codes('🙂🙃😀😁😂🤣😃😄😅😆😉😊😋😎😍')).toEqual([]); // 15 emoji, 30 UTF-16 units
    expect(codes('🙂🙃😀😁😂🤣😃😄😅😆😉😊😋😎')).toEqual(['too-short']);
    expect(codes('ab1!'.repeat(70).slice(0, 257))).toEqual(['too-long', 'too-simple']);
    const problem = checkPasswordPolicy('tiny')[0];
    expect(problem).toEqual({ code: 'too-short', message: 'Use at least 15 characters; a few unrelated words make a good password.' });
  });

  test('refuses repetition and few distinct characters', () => {
    expect(codes('aaaaaaaaaaaaaaaaaaaa')).toEqual(['too-simple']);
    expect(codes('abcabcabcabcabcabc')).toEqual(['too-simple', 'common']);
    expect(codes('xyzxyzxyzxyzxyzxyz')).toEqual(['too-simple']);
    expect(codes('1212121212121212')).toEqual(['too-simple']);
    expect(codes('1111122222333334444')).toEqual(['too-simple']);
  });

  test('refuses common passwords dressed up with digits and symbols', () => {
    expect(codes('Password123456789!')).toEqual(['common']);
    expect(codes('P@ssword-2026-2027')).toEqual(['common']);
    expect(codes('passwordpassword')).toEqual(['too-simple', 'common']);
    expect(codes('qwertyuiop123456')).toEqual(['common']);
    expect(codes('Chartkeeper2026!!!')).toEqual(['common']);
    expect(codes('p@ssw0rd-p@ssw0rd')).toEqual(['common']);
    expect(codes('my p@ssw0rd is long')).toEqual([]); // a common word inside a passphrase is fine
  });

  test('refuses the account email or its local part', () => {
    expect(codes('ada.park-is-my-password', 'Ada.Park@example.com')).toEqual(['contains-email']);
    expect(codes('x ada.park@example.com x', 'ada.park@example.com')).toEqual(['contains-email']);
    expect(codes('bob-likes-long-walks', 'bob@example.com')).toEqual([]); // local part under 4 characters
  });
});
