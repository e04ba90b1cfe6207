import { unrestrictedScope } from '../access/access-scope';
import { agePolicyByName } from '../access/age-policy-profiles';
import { staffResolver, userResolver } from './caller-scope';
import { type Config, portalConsentRequired } from '../config';
import { PORTAL_CONSENT_FORM_ID } from './portal-consent-status';
import type { Database } from '../db/database';
import type { Clock } from '../fhir/clock';
import { unauthorized } from '../fhir/outcomes';
import { AccessTokenClaims, AccessTokenError, loadOrCreateSigningKey, SigningKey, verifyAccessToken } from './access-token';
import type { AuthenticateOptions, Authenticator, Caller } from '../access/caller';
import { ExpiringEntries } from './expiring-entries';

/** Verified tokens remembered at once (see TokenAuthenticator.verified). */
const VERIFIED_TOKENS = 10_000;

/** Resolves a verified user token's subject to a Caller; accounts (issue 5) plug in here. */
export type UserResolver = (subject: string, claims: Record<string, unknown>, options?: AuthenticateOptions) => Promise<Caller>;

/** Resolves a verified staff token's subject (a staff account, or the CLI operator) to a Caller. */
export type StaffResolver = (subject: string, claims: Record<string, unknown>, options?: AuthenticateOptions) => Promise<Caller>;

/**
 * Verifies bearer JWTs signed by this service's key. System tokens see everything; staff and user tokens are
 * resolved through the accounts layer (src/auth/caller-scope.ts) when resolvers are given. Without a staff
 * resolver (unit tests of the resource layer) staff tokens see everything.
 */
export class TokenAuthenticator implements Authenticator {
  constructor(
    private readonly key: SigningKey,
    private readonly clock: Clock,
    private readonly resolveUser?: UserResolver,
    private readonly resolveStaff?: StaffResolver,
  ) {}

  /**
   * Tokens whose signature and claims were verified, by their text. A token's claims never change, so only
   * its expiry needs checking again; what can change (a session signed out, an account disabled, a grant
   * revoked) is looked up by the resolvers on every request. Saves the HMAC and jose's checks (~25 µs) on
   * every request after a token's first.
   */
  private readonly verified = new ExpiringEntries<AccessTokenClaims>(VERIFIED_TOKENS);

  async authenticate(token: string, options?: AuthenticateOptions): Promise<Caller> {
    const claims = await this.verify(token);
    if (claims.kind === 'staff' && this.resolveStaff) return this.resolveStaff(claims.sub, claims, options);
    if (claims.kind === 'staff' || claims.kind === 'system') {
      return { kind: claims.kind, subject: claims.sub, actor: claims.sub, scope: unrestrictedScope(`${claims.kind} ${claims.sub}`) };
    }
    if (claims.kind === 'user' && this.resolveUser) return this.resolveUser(claims.sub, claims, options);
    throw unauthorized('The access token is not valid');
  }

  /** How many verified tokens are remembered. */
  get rememberedTokens(): number {
    return this.verified.size;
  }

  private async verify(token: string): Promise<AccessTokenClaims> {
    const known = this.verified.get(token, this.clock.now().getTime());
    if (known) return known;
    let claims: AccessTokenClaims;
    try {
      claims = await verifyAccessToken(token, this.key, { clock: this.clock });
    } catch (err) {
      this.verified.delete(token);
      if (err instanceof AccessTokenError) {
        throw unauthorized(err.reason === 'expired' ? 'The access token has expired' : 'The access token is not valid');
      }
      throw err;
    }
    // Held until the token expires (live up to and including expiresAt: the last millisecond before exp).
    this.verified.set(token, claims, claims.exp * 1000 - 1, this.clock.now().getTime());
    return claims;
  }
}

/** The service's signing key: SIGNING_KEY from the environment, or a key file generated in the data dir. */
export function signingKeyFor(config: Pick<Config, 'dataDir' | 'signingKey'>): Promise<SigningKey> {
  return loadOrCreateSigningKey({ dataDir: config.dataDir, envValue: config.signingKey });
}

/**
 * Builds the authenticator the server uses: user and staff tokens name accounts, whose scope is computed per
 * request from the clock, the organisation's time zone and its age policy.
 */
export async function createAuthenticator(
  config: Config,
  database: Database,
  clock: Clock,
  resolveUser?: UserResolver,
): Promise<TokenAuthenticator> {
  const options = {
    clock,
    timeZone: config.timeZone,
    policy: agePolicyByName(config.agePolicy),
    ...(portalConsentRequired(config) ? { portalConsentFormId: PORTAL_CONSENT_FORM_ID } : {}),
  };
  return new TokenAuthenticator(
    await signingKeyFor(config),
    clock,
    resolveUser ?? userResolver(database.db, options),
    staffResolver(database.db, options),
  );
}
