/**
 * Short-lived access tokens: JWTs signed with HS256 (jose). One service signs and verifies, so a shared secret
 * is enough; verification accepts HS256 only, which refuses `alg: none` and algorithm-confusion tricks.
 */
import { createHash, createSecretKey, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errors, jwtVerify, SignJWT } from 'jose';
import type { Clock } from '../fhir/clock';

/** Who a token speaks for; matches `Caller.kind`. */
export type TokenKind = 'staff' | 'user' | 'system';

const TOKEN_KINDS: readonly TokenKind[] = ['staff', 'user', 'system'];

/** An HMAC key and its id (the `kid` header), so keys can be rotated while old tokens still verify. */
export interface SigningKey {
  readonly kid: string;
  readonly key: KeyObject;
}

/** What the caller puts in a token. `sub` is the account id; extra claims must be JSON values. */
export interface AccessTokenInput {
  readonly sub: string;
  readonly kind: TokenKind;
  /** The refresh-token family (login session) the token came from, so logout can be checked. */
  readonly sid?: string;
  readonly [claim: string]: unknown;
}

/** A verified token's claims. */
export interface AccessTokenClaims extends AccessTokenInput {
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  readonly iss: string;
  readonly aud: string;
}

/** Why a token was refused. `expired` may deserve a refresh; `invalid` never does. */
export class AccessTokenError extends Error {
  constructor(
    readonly reason: 'expired' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'AccessTokenError';
  }
}

/** Issuer and audience written into and required from every token. */
export const TOKEN_ISSUER = 'chartkeeper';
export const TOKEN_AUDIENCE = 'chartkeeper';
/** Default lifetime: 15 minutes; refresh tokens carry the session beyond that. */
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
const TOKEN_TYPE = 'at+jwt'; // RFC 9068: marks an access token, so an ID token or other JWT is not accepted
const RESERVED = new Set(['jti', 'iat', 'exp', 'nbf', 'iss', 'aud']);
const MIN_KEY_BYTES = 32;

/** Wraps raw secret bytes (at least 32) as a signing key; the kid is derived from the bytes. */
export function signingKeyFromBytes(bytes: Uint8Array): SigningKey {
  if (bytes.length < MIN_KEY_BYTES) {
    throw new RangeError(`Signing key must be at least ${MIN_KEY_BYTES} bytes, got ${bytes.length}`);
  }
  const kid = createHash('sha256').update(bytes).digest('base64url').slice(0, 11);
  return { kid, key: createSecretKey(Buffer.from(bytes)) };
}

/** A new random 256-bit signing key. */
export function generateSigningKey(): SigningKey {
  return signingKeyFromBytes(randomBytes(32));
}

/**
 * Decodes a key given in configuration (`SIGNING_KEY`): 64+ hex digits, or base64 / base64url of 32+ bytes.
 */
export function signingKeyFromString(value: string): SigningKey {
  const trimmed = value.trim();
  if (/^[0-9a-fA-F]{64,}$/.test(trimmed) && trimmed.length % 2 === 0) {
    return signingKeyFromBytes(Buffer.from(trimmed, 'hex'));
  }
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new RangeError('SIGNING_KEY must be hex or base64');
  }
  return signingKeyFromBytes(Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

/** Where the generated key lives under the data dir. */
export function signingKeyPath(dataDir: string): string {
  return path.join(dataDir, 'keys', 'access-token.key');
}

/**
 * The signing key: from `envValue` when given, else from `<dataDir>/keys/access-token.key`, created (mode 0600)
 * on first start. A key file others can read is refused: with it anyone could mint staff tokens.
 */
export async function loadOrCreateSigningKey(options: { dataDir: string; envValue?: string }): Promise<SigningKey> {
  if (options.envValue) {
    return signingKeyFromString(options.envValue);
  }
  const file = signingKeyPath(options.dataDir);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // The key is written whole to a file of this process's own, then linked into place: link() is atomic and never
  // replaces a file, so of instances starting together one key wins, and nobody ever reads a half-written one.
  const draft = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(draft, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
    await chmod(draft, 0o600); // the umask may have taken bits off, never added; make it exact
    await link(draft, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw err;
    }
  } finally {
    await unlink(draft).catch(() => undefined);
  }
  const mode = (await stat(file)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`${file} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${file}`);
  }
  return signingKeyFromString(await readFile(file, 'utf8'));
}

/** Signs an access token valid for `ttlSeconds` from the clock's now. */
export async function signAccessToken(
  input: AccessTokenInput,
  key: SigningKey,
  options: { clock: Clock; ttlSeconds?: number },
): Promise<string> {
  if (!input.sub || !TOKEN_KINDS.includes(input.kind)) {
    throw new RangeError('An access token needs a subject and a known kind');
  }
  const extra: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input)) {
    if (RESERVED.has(name)) {
      throw new RangeError(`Claim ${name} is set by signAccessToken`);
    }
    if (name !== 'sub') {
      extra[name] = value;
    }
  }
  const iat = Math.floor(options.clock.now().getTime() / 1000);
  return new SignJWT(extra)
    .setProtectedHeader({ alg: 'HS256', typ: TOKEN_TYPE, kid: key.kid })
    .setSubject(input.sub)
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + (options.ttlSeconds ?? ACCESS_TOKEN_TTL_SECONDS))
    .sign(key.key);
}

/**
 * Verifies a token against the current key (and any older keys still accepted) at the clock's now. Throws
 * AccessTokenError('expired') for an expired token and AccessTokenError('invalid') for everything else: wrong
 * key, `alg: none` or any algorithm but HS256, a tampered header or payload, wrong issuer, audience or type.
 */
export async function verifyAccessToken(
  token: string,
  keys: SigningKey | readonly SigningKey[],
  options: { clock: Clock },
): Promise<AccessTokenClaims> {
  const candidates = ([] as SigningKey[]).concat(keys);
  try {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        const match = candidates.find((k) => k.kid === header.kid);
        if (!match) {
          throw new AccessTokenError('invalid', 'Access token signed with an unknown key');
        }
        return match.key;
      },
      {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        typ: TOKEN_TYPE,
        currentDate: options.clock.now(),
        requiredClaims: ['sub', 'jti', 'iat', 'exp'],
      },
    );
    if (!TOKEN_KINDS.includes(payload.kind as TokenKind) || typeof payload.sub !== 'string' || payload.sub === '') {
      throw new AccessTokenError('invalid', 'Access token has no valid subject or kind');
    }
    return payload as unknown as AccessTokenClaims;
  } catch (err) {
    if (err instanceof AccessTokenError) {
      throw err;
    }
    if (err instanceof errors.JWTExpired) {
      throw new AccessTokenError('expired', 'Access token has expired');
    }
    if (err instanceof errors.JOSEError || err instanceof TypeError) {
      throw new AccessTokenError('invalid', 'Access token is not valid');
    }
    throw err;
  }
}
