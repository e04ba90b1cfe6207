import { mkdtemp, readdir, readFile, rm, stat, chmod, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { base64url, SignJWT, UnsecuredJWT } from 'jose';
import { FixedClock } from '../fhir/clock';
import {
  AccessTokenError,
  generateSigningKey,
  loadOrCreateSigningKey,
  signAccessToken,
  signingKeyFromBytes,
  signingKeyFromString,
  signingKeyPath,
  verifyAccessToken,
} from './access-token';

const clock = new FixedClock(new Date('2026-11-21T23:00:00Z'));
const key = signingKeyFromBytes(Buffer.alloc(32, 7));

async function refusal(token: string, keys = key, at = clock): Promise<AccessTokenError> {
  try {
    await verifyAccessToken(token, keys, { clock: at });
  } catch (err) {
    if (err instanceof AccessTokenError) {
      return err;
    }
    throw err;
  }
  throw new Error('token was accepted');
}

describe('signAccessToken / verifyAccessToken', () => {
  test('round trip: claims, header, lifetime', async () => {
    const token = await signAccessToken({ sub: 'acct-ada', kind: 'user', sid: 'fam-1', patient: 'Patient/ada' }, key, {
      clock,
      ttlSeconds: 600,
    });
    const [headerPart] = token.split('.');
    expect(JSON.parse(Buffer.from(headerPart, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: key.kid });
    const claims = await verifyAccessToken(token, key, { clock });
    expect(claims).toEqual({
      sub: 'acct-ada',
      kind: 'user',
      sid: 'fam-1',
      patient: 'Patient/ada',
      iss: 'chartkeeper',
      aud: 'chartkeeper',
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      iat: 1795302000,
      exp: 1795302600,
    });
  });

  test('expires exactly at exp: valid one second before, refused as expired at it', async () => {
    const token = await signAccessToken({ sub: 's', kind: 'staff' }, key, { clock, ttlSeconds: 900 });
    const later = new FixedClock(new Date('2026-11-21T23:14:59Z'));
    expect((await verifyAccessToken(token, key, { clock: later })).sub).toBe('s');
    later.set('2026-11-21T23:15:00Z');
    const err = await refusal(token, key, later);
    expect(err.reason).toBe('expired');
    expect(err.message).toBe('Access token has expired');
  });

  test('default lifetime is 15 minutes', async () => {
    const token = await signAccessToken({ sub: 's', kind: 'user' }, key, { clock });
    const claims = await verifyAccessToken(token, key, { clock });
    expect(claims.exp - claims.iat).toBe(900);
  });

  test('refuses alg none', async () => {
    const unsecured = new UnsecuredJWT({ kind: 'staff' })
      .setSubject('mallory')
      .setIssuer('chartkeeper')
      .setAudience('chartkeeper')
      .setJti('x')
      .setIssuedAt(1795302000)
      .setExpirationTime(1795309000)
      .encode();
    expect((await refusal(unsecured)).reason).toBe('invalid');
    // Also with our header fields copied over and the signature dropped.
    const token = await signAccessToken({ sub: 'ada', kind: 'user' }, key, { clock });
    const [, payload] = token.split('.');
    const noneHeader = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: key.kid }));
    expect((await refusal(`${noneHeader}.${payload}.`)).reason).toBe('invalid');
  });

  test('refuses a token signed with a wrong key, even one with the same kid', async () => {
    const other = generateSigningKey();
    const token = await signAccessToken({ sub: 'ada', kind: 'user' }, other, { clock });
    expect((await refusal(token)).message).toBe('Access token signed with an unknown key');
    const forged = await signAccessToken({ sub: 'ada', kind: 'user' }, { kid: key.kid, key: other.key }, { clock });
    expect((await refusal(forged)).reason).toBe('invalid');
  });

  test('refuses tampering with the payload or the header', async () => {
    const token = await signAccessToken({ sub: 'ada', kind: 'user' }, key, { clock });
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const staff = base64url.encode(JSON.stringify({ ...claims, kind: 'staff' }));
    expect((await refusal(`${header}.${staff}.${signature}`)).reason).toBe('invalid');
    const longer = base64url.encode(JSON.stringify({ ...claims, exp: claims.exp + 86400 }));
    expect((await refusal(`${header}.${longer}.${signature}`)).reason).toBe('invalid');
    const hs512 = base64url.encode(JSON.stringify({ alg: 'HS512', typ: 'at+jwt', kid: key.kid }));
    expect((await refusal(`${hs512}.${payload}.${signature}`)).reason).toBe('invalid');
    expect((await refusal('not.a.jwt')).reason).toBe('invalid');
    expect((await refusal('')).reason).toBe('invalid');
  });

  test('refuses a correctly signed JWT that is not one of our access tokens', async () => {
    const base = () => new SignJWT({ kind: 'user' }).setSubject('ada').setJti('j').setIssuedAt(1795302000).setExpirationTime(1795309000);
    const noTyp = await base()
      .setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .setIssuer('chartkeeper')
      .setAudience('chartkeeper')
      .sign(key.key);
    const otherAudience = await base()
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })
      .setIssuer('chartkeeper')
      .setAudience('elsewhere')
      .sign(key.key);
    const badKind = await new SignJWT({ kind: 'root' })
      .setSubject('ada')
      .setJti('j')
      .setIssuedAt(1795302000)
      .setExpirationTime(1795309000)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })
      .setIssuer('chartkeeper')
      .setAudience('chartkeeper')
      .sign(key.key);
    for (const token of [noTyp, otherAudience, badKind]) {
      expect((await refusal(token)).reason).toBe('invalid');
    }
  });

  test('accepts tokens of an older key while it is still listed (rotation)', async () => {
    const next = generateSigningKey();
    const oldToken = await signAccessToken({ sub: 'ada', kind: 'user' }, key, { clock });
    expect((await verifyAccessToken(oldToken, [next, key], { clock })).sub).toBe('ada');
    expect((await refusal(oldToken, [next] as never)).reason).toBe('invalid');
  });

  test('sign refuses reserved claims, unknown kinds and empty subjects', async () => {
    await expect(signAccessToken({ sub: 'a', kind: 'user', exp: 1 }, key, { clock })).rejects.toThrow(
      'Claim exp is set by signAccessToken',
    );
    await expect(signAccessToken({ sub: 'a', kind: 'root' as never }, key, { clock })).rejects.toThrow('known kind');
    await expect(signAccessToken({ sub: '', kind: 'user' }, key, { clock })).rejects.toThrow('subject');
  });
});

describe('signing keys', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'chartkeeper-key-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('from configuration: hex or base64, at least 32 bytes', () => {
    const bytes = Buffer.alloc(32, 7);
    expect(signingKeyFromString(bytes.toString('hex')).kid).toBe(key.kid);
    expect(signingKeyFromString(bytes.toString('base64')).kid).toBe(key.kid);
    expect(signingKeyFromString(bytes.toString('base64url')).kid).toBe(key.kid);
    expect(() => signingKeyFromString(Buffer.alloc(16).toString('base64'))).toThrow('at least 32 bytes, got 16');
    expect(() => signingKeyFromString('not a key!')).toThrow('hex or base64');
  });

  test('created once with mode 0600, then reused; an env value wins', async () => {
    const first = await loadOrCreateSigningKey({ dataDir });
    const file = signingKeyPath(dataDir);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect((await readFile(file, 'utf8')).trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const again = await loadOrCreateSigningKey({ dataDir });
    expect(again.kid).toBe(first.kid);
    const token = await signAccessToken({ sub: 'a', kind: 'user' }, first, { clock });
    expect((await verifyAccessToken(token, again, { clock })).sub).toBe('a');
    const fromEnv = await loadOrCreateSigningKey({ dataDir, envValue: Buffer.alloc(32, 7).toString('hex') });
    expect(fromEnv.kid).toBe(key.kid);
  });

  test('concurrent first starts agree on one key, none reads it half-written, and no draft is left behind', async () => {
    // The race is narrow (a loser reading the file between the winner's create and its write): try it many times.
    for (let round = 0; round < 25; round++) {
      const dir = path.join(dataDir, `start-${round}`);
      const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSigningKey({ dataDir: dir })));
      expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
      expect(await readdir(path.dirname(signingKeyPath(dir)))).toEqual(['access-token.key']);
    }
  });

  test('refuses a key file others can read', async () => {
    const file = signingKeyPath(dataDir);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, Buffer.alloc(32, 1).toString('base64url'));
    await chmod(file, 0o644);
    await expect(loadOrCreateSigningKey({ dataDir })).rejects.toThrow(`${file} is readable by others (mode 644); run: chmod 600 ${file}`);
  });
});
