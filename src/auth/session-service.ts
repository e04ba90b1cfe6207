/**
 * Sign-in sessions: email + password gives a short-lived access token (JWT) and a refresh token. Refresh tokens
 * are stored hashed and rotate on every use; a family is one sign-in. Presenting a refresh token that was
 * already used means it was copied, so the whole family is revoked (RFC 9700 refresh token reuse detection).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables';
import { badRequest, unauthorized } from '../fhir/outcomes';
import type { AccountContext } from './account-context';
import { type Account, AccountStore, normalizeEmail } from './account-store';
import { ACCESS_TOKEN_TTL_SECONDS, AccessTokenError, type AccessTokenClaims, signAccessToken, verifyAccessToken } from './access-token';
import { generateToken, hashOneTimeSecret, ONE_TIME_SECRET_DEFAULTS } from './one-time-secret';
import { hashPassword, needsRehash, verifyPassword, verifyPasswordAgainstNobody } from './password-hash';
import { ThrottleStore } from './throttle-store';

/** What a client gets after signing in (OAuth 2.0 token response names). */
export interface SignInResult {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly refresh_token: string;
  readonly account: AccountSummary;
}

/** The account as its holder sees it: never the hashes. */
export interface AccountSummary {
  readonly id: string;
  readonly email: string;
  readonly kind: Account['kind'];
  readonly displayName: string;
  readonly patientId?: string;
  readonly practitionerId?: string;
  readonly organizationId?: string;
  /** How identity is verified after a password reset. */
  readonly securityOption: 'security-question' | 'email-code';
}

/** The account fields safe to show to its holder. */
export function accountSummary(account: Account): AccountSummary {
  return {
    id: account.id,
    email: account.email,
    kind: account.kind,
    displayName: account.display_name,
    ...(account.patient_id ? { patientId: account.patient_id } : {}),
    ...(account.practitioner_id ? { practitionerId: account.practitioner_id } : {}),
    ...(account.organization_id ? { organizationId: account.organization_id } : {}),
    securityOption: account.security_answer_hash ? 'security-question' : 'email-code',
  };
}

/** The throttle key of a login email: hashed, so the throttle table holds no addresses. */
export function emailThrottleKey(prefix: string, email: string): string {
  return `${prefix}:email:${createHash('sha256').update(normalizeEmail(email)).digest('base64url').slice(0, 22)}`;
}

/** The throttle key of a client address. */
export function addressThrottleKey(prefix: string, address: string): string {
  return `${prefix}:addr:${address}`;
}

const INVALID_LOGIN = 'The email or password is not correct.';

/** Signs in, refreshes and signs out. */
export class SessionService {
  private readonly accounts: AccountStore;
  private readonly throttle: ThrottleStore;

  constructor(private readonly context: AccountContext) {
    this.accounts = new AccountStore(context.db, context.clock);
    this.throttle = new ThrottleStore(context.db, context.clock);
  }

  /**
   * Email + password sign-in. Unknown emails take as long as known ones and get the same answer; failures
   * count per email and per client address, and a throttled attempt is refused before the password is checked.
   */
  async login(input: { email: string; password: string; address: string }): Promise<SignInResult> {
    return this.startSession(await this.verifyCredentials(input));
  }

  /**
   * The account whose email and password these are, under the same throttles and answers as login, without opening a
   * session (the SMART sign-in page: its session is the authorization server's).
   */
  async verifyCredentials(input: { email: string; password: string; address: string }): Promise<Account> {
    const { throttles, passwordParams } = this.context;
    const emailKey = { key: emailThrottleKey('login', input.email), policy: throttles.loginAccount };
    const addressKey = { key: addressThrottleKey('login', input.address), policy: throttles.loginAddress };
    await this.throttle.assertAllowed([emailKey, addressKey], 'failed sign-ins');
    const account = await this.accounts.findByEmail(input.email);
    const hash = account?.password_hash;
    const matches = hash ? await verifyPassword(input.password, hash) : await verifyPasswordAgainstNobody(input.password, passwordParams);
    if (!matches || !account || account.disabled_at) {
      await this.throttle.recordFailure(emailKey);
      await this.throttle.recordFailure(addressKey);
      throw unauthorized(INVALID_LOGIN);
    }
    await this.throttle.clear(emailKey.key);
    if (hash && needsRehash(hash, passwordParams)) {
      await this.accounts.setPassword(account.id, await hashPassword(input.password, passwordParams));
    }
    return account;
  }

  /** Opens a new session (refresh token family) for an account that just proved who it is. */
  async startSession(account: Account, db: Kysely<Tables> = this.context.db): Promise<SignInResult> {
    const familyId = randomUUID();
    const refreshToken = await this.insertRefreshToken(db, account.id, familyId);
    return this.tokenResponse(account, familyId, refreshToken);
  }

  /** Exchanges a refresh token for a new pair; a reused, revoked or expired token ends the session. */
  async refresh(presented: string): Promise<SignInResult> {
    const db = this.context.db;
    const now = this.context.clock.now();
    const row = await db.selectFrom('refresh_token').selectAll().where('token_hash', '=', hashOneTimeSecret(presented)).executeTakeFirst();
    if (!row) throw unauthorized('The refresh token is not valid. Sign in again.');
    if (row.revoked_at) throw unauthorized('This session has ended. Sign in again.');
    if (row.used_at) {
      await this.revokeFamily(row.family_id);
      throw unauthorized('This refresh token was already used, so the session has been ended for safety. Sign in again.');
    }
    if (now.getTime() >= new Date(row.expires_at).getTime()) throw unauthorized('This session has expired. Sign in again.');
    const claimed = await db
      .updateTable('refresh_token')
      .set({ used_at: now })
      .where('id', '=', row.id)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) {
      // Two requests raced with the same token: one of them is not the owner.
      await this.revokeFamily(row.family_id);
      throw unauthorized('This refresh token was already used, so the session has been ended for safety. Sign in again.');
    }
    const account = await this.accounts.findById(row.account_id);
    if (!account || account.disabled_at || !account.password_hash) {
      await this.revokeFamily(row.family_id);
      throw unauthorized('This account can no longer sign in.');
    }
    const refreshToken = await this.insertRefreshToken(db, account.id, row.family_id);
    return this.tokenResponse(account, row.family_id, refreshToken);
  }

  /** Ends the session a refresh token belongs to; unknown tokens are ignored (logging out twice is fine). */
  async logout(presented: string): Promise<void> {
    const row = await this.context.db
      .selectFrom('refresh_token')
      .select('family_id')
      .where('token_hash', '=', hashOneTimeSecret(presented))
      .executeTakeFirst();
    if (row) await this.revokeFamily(row.family_id);
  }

  /**
   * Ends the session a bearer access token came from (its `sid`), for a client that signs out without its refresh
   * token. A token of a session already ended is fine (logging out twice).
   */
  async logoutAccessToken(token: string): Promise<void> {
    const claims = await this.verifiedClaims(token, 'The access token has expired; log out with the refresh token');
    if (typeof claims.sid !== 'string') throw badRequest('This token is not tied to a sign-in session, so there is nothing to log out of');
    await this.revokeFamily(claims.sid);
  }

  /** Ends every session of an account (password reset, re-enrollment). */
  async revokeAll(accountId: string, db: Kysely<Tables> = this.context.db): Promise<void> {
    await db
      .updateTable('refresh_token')
      .set({ revoked_at: this.context.clock.now() })
      .where('account_id', '=', accountId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  /**
   * The account behind a bearer access token, for /auth endpoints that need a signed-in caller. The token's
   * session must still be open: logging out ends it at once here, not only at the token's expiry.
   */
  async accountOfAccessToken(token: string): Promise<{ account: Account; claims: AccessTokenClaims }> {
    const claims = await this.verifiedClaims(token, 'The access token has expired');
    const account = await this.accounts.findById(claims.sub);
    if (
      !account ||
      account.disabled_at ||
      (claims.sid !== undefined && !(await sessionIsOpen(this.context.db, claims.sid, this.context.clock.now())))
    ) {
      throw unauthorized('This session has ended. Sign in again.');
    }
    return { account, claims };
  }

  /** The claims of a token signed by this service and not expired; a 401 (with `expiredText` when expired) otherwise. */
  private async verifiedClaims(token: string, expiredText: string): Promise<AccessTokenClaims> {
    try {
      return await verifyAccessToken(token, this.context.signingKey, { clock: this.context.clock });
    } catch (err) {
      if (err instanceof AccessTokenError) throw unauthorized(err.reason === 'expired' ? expiredText : 'The access token is not valid');
      throw err;
    }
  }

  /** Deletes refresh tokens past their expiry (the purge job). */
  async purgeExpired(): Promise<number> {
    const result = await this.context.db.deleteFrom('refresh_token').where('expires_at', '<', this.context.clock.now()).executeTakeFirst();
    return Number(result.numDeletedRows ?? 0);
  }

  private async revokeFamily(familyId: string): Promise<void> {
    await this.context.db
      .updateTable('refresh_token')
      .set({ revoked_at: this.context.clock.now() })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  private async insertRefreshToken(db: Kysely<Tables>, accountId: string, familyId: string): Promise<string> {
    const now = this.context.clock.now();
    const token = generateToken();
    await db
      .insertInto('refresh_token')
      .values({
        id: randomUUID(),
        account_id: accountId,
        family_id: familyId,
        token_hash: hashOneTimeSecret(token),
        expires_at: new Date(now.getTime() + ONE_TIME_SECRET_DEFAULTS.refreshToken.ttlMs),
        created_at: now,
        used_at: null,
        revoked_at: null,
      })
      .execute();
    return token;
  }

  private async tokenResponse(account: Account, familyId: string, refreshToken: string): Promise<SignInResult> {
    const kind = account.kind === 'staff' ? 'staff' : 'user';
    const accessToken = await signAccessToken({ sub: account.id, kind, sid: familyId }, this.context.signingKey, {
      clock: this.context.clock,
    });
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: ACCESS_TOKEN_TTL_SECONDS,
      refresh_token: refreshToken,
      account: accountSummary(account),
    };
  }
}

/**
 * True while a session (refresh token family) has a token that is neither revoked nor expired. The FHIR
 * authenticator can call this with a token's `sid` so logout takes effect before the access token expires.
 */
export async function sessionIsOpen(db: Kysely<Tables>, familyId: string, now: Date = new Date()): Promise<boolean> {
  const row = await db
    .selectFrom('refresh_token')
    .select('id')
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row !== undefined;
}
