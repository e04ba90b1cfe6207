/**
 * The apps a person let in: each app (a registered SMART client) their account approved and whose grant still
 * lives, with what it may do and whose record it opens; and revoking one, which ends at once every grant the account
 * gave it and every code, access token and refresh token those grants issued (oidc-provider's state, oauth_state).
 */
import { type Kysely, sql } from 'kysely';
import type { Tables } from '../../db/tables';
import { notFound } from '../../fhir/outcomes';

/** One app an account has let in. */
export interface AppGrant {
  readonly clientId: string;
  readonly name: string;
  /** Every scope its live grants give, sorted. */
  readonly scopes: readonly string[];
  /** The records it was launched for (patient ids), sorted. */
  readonly patients: readonly string[];
  /** When the account first let it in, and when the last of its grants ends unless renewed. */
  readonly grantedAt: string;
  readonly expiresAt?: string;
  /** Whether it holds a refresh token (offline_access): it may come back without the person. */
  readonly offline: boolean;
}

/** The longest client id a request may name (registered ids are UUIDs). */
const MAX_CLIENT_ID = 128;

/** The apps `accountId` has let in and not revoked, by name. */
export async function appGrantsOf(db: Kysely<Tables>, accountId: string): Promise<AppGrant[]> {
  const { rows } = await sql<{
    id: string;
    client_id: string;
    name: string | null;
    payload: GrantPayload | string;
    expires_at: Date | string | null;
    patient: string | null;
    offline: boolean;
  }>`
    select g.id, g.payload->>'clientId' as client_id, c.name, g.payload, g.expires_at,
      l.payload->>'patient' as patient,
      exists (select 1 from oauth_state t where t.grant_id = g.id and t.model = 'RefreshToken'
        and (t.expires_at is null or t.expires_at > now()) and t.consumed_at is null) as offline
    from oauth_state g
    left join oauth_client c on c.client_id = g.payload->>'clientId'
    left join oauth_state l on l.model = 'SmartLaunch' and l.id = g.id
    where g.model = 'Grant' and g.payload->>'accountId' = ${accountId} and (g.expires_at is null or g.expires_at > now())
    order by g.id`.execute(db);
  const byClient = new Map<
    string,
    { name: string; scopes: Set<string>; patients: Set<string>; iat: number; exp?: number; offline: boolean }
  >();
  for (const row of rows) {
    // An app removed with `chartkeeper client remove` took its grants with it; a row left behind names no app.
    if (row.name === null) continue;
    const payload = (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as GrantPayload;
    const app = byClient.get(row.client_id) ?? {
      name: row.name,
      scopes: new Set<string>(),
      patients: new Set<string>(),
      iat: payload.iat ?? 0,
      offline: false,
    };
    for (const scope of scopesOf(payload)) app.scopes.add(scope);
    if (row.patient) app.patients.add(row.patient);
    app.iat = Math.min(app.iat, payload.iat ?? app.iat);
    const exp = row.expires_at === null ? undefined : new Date(row.expires_at).getTime() / 1000;
    if (exp !== undefined) app.exp = Math.max(app.exp ?? 0, exp);
    app.offline ||= row.offline;
    byClient.set(row.client_id, app);
  }
  return [...byClient]
    .map(([clientId, app]) => ({
      clientId,
      name: app.name,
      scopes: [...app.scopes].sort(),
      patients: [...app.patients].sort(),
      grantedAt: new Date(app.iat * 1000).toISOString(),
      ...(app.exp !== undefined ? { expiresAt: new Date(app.exp * 1000).toISOString() } : {}),
      offline: app.offline,
    }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.clientId.localeCompare(b.clientId));
}

/**
 * Revokes every grant `accountId` gave the app `clientId`, with the codes and tokens they issued, in one transaction;
 * the app's next request with them is refused. 404 when the account has let no such app in.
 */
export async function revokeAppGrants(db: Kysely<Tables>, accountId: string, clientId: string): Promise<{ grants: number }> {
  if (!clientId || clientId.length > MAX_CLIENT_ID) throw notFound('No app of this id has access through your account');
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ id: string }>`
      delete from oauth_state where model = 'Grant' and payload->>'accountId' = ${accountId} and payload->>'clientId' = ${clientId}
      returning id`.execute(trx);
    if (!rows.length) throw notFound('No app of this id has access through your account');
    const ids = rows.map((r) => r.id);
    // Codes, access and refresh tokens carry their grant's id; the launch context is kept under the grant's own id.
    await sql`delete from oauth_state where grant_id = any(${ids}::text[]) or (model = 'SmartLaunch' and id = any(${ids}::text[]))`.execute(
      trx,
    );
    return { grants: ids.length };
  });
}

/** What oidc-provider keeps of a grant. */
interface GrantPayload {
  readonly iat?: number;
  readonly openid?: { readonly scope?: string };
  readonly resources?: Record<string, string>;
}

/** The scopes a grant gives: its OpenID scopes and its resource scopes. */
function scopesOf(payload: GrantPayload): string[] {
  const texts = [payload.openid?.scope ?? '', ...Object.values(payload.resources ?? {})];
  return texts.flatMap((t) => t.split(' ')).filter(Boolean);
}
