/**
 * Bearer tokens of both kinds on /fhir: the service's own JWTs (from /auth/login, the CLI) go to the authenticator
 * they always went to; an access token the SMART authorization server issued (opaque, looked up in its store, so a
 * revoked grant stops it at once) becomes the account's Caller with its scope narrowed by the token's SMART scopes and
 * launch patient, or, for a backend service, its organisation's records narrowed by its system/ scopes.
 */
import type { AuthenticateOptions, Authenticator, Caller } from '../../access/caller';
import { staffScope } from '../../access/portal-scope';
import { narrowBySmartScopes, resourceScopesIn } from '../../access/smart-scopes';
import { unauthorized } from '../../fhir/outcomes';
import { sql } from 'kysely';
import { accountKind, type SmartServer } from './smart-provider';
import { effectiveScopeText } from './smart-grantable-scopes';

/** Resolves an account id to its Caller (the same resolvers the service's own tokens use). */
export type AccountCallerResolver = (accountId: string, kind: string) => Promise<Caller>;

/** An Authenticator that also takes the SMART server's access tokens. */
export class SmartTokenAuthenticator implements Authenticator {
  constructor(
    private readonly inner: Authenticator,
    private readonly smart: SmartServer,
    private readonly resolveAccount: AccountCallerResolver,
  ) {}

  async authenticate(token: string, options?: AuthenticateOptions): Promise<Caller> {
    // The service's own tokens are JWTs; the SMART server's are opaque (no dots).
    if (token.includes('.')) return this.inner.authenticate(token, options);
    const { provider, fhirBase } = this.smart;
    const userToken = await provider.AccessToken.find(token);
    if (userToken) {
      if (userToken.aud !== fhirBase || !userToken.accountId) throw unauthorized('The access token is not valid');
      const kind = await accountKind(this.smart.db, userToken.accountId);
      if (!kind) throw unauthorized('The access token is not valid');
      const launch = userToken.grantId ? await this.smart.launchContext(userToken.grantId) : undefined;
      let patient = launch?.patient;
      // Staff launched for a patient of their organisation: only while the organisation still manages that patient.
      if (patient !== undefined && kind === 'staff' && !(await staffOrganisationManages(this.smart, userToken.accountId, patient))) {
        patient = undefined;
      }
      const caller = await this.resolveAccount(userToken.accountId, kind);
      const scopes = resourceScopesIn(effectiveScopeText(userToken.scope ?? '', { kind, patient }));
      return {
        ...caller,
        unconfirmed: undefined,
        smartClientId: userToken.clientId,
        scope: narrowBySmartScopes(caller.scope, { scopes, patientId: patient }),
      };
    }
    const systemToken = await provider.ClientCredentials.find(token);
    if (systemToken && systemToken.aud === fhirBase) {
      const { rows } = await sql<{ organization_id: string | null; name: string }>`
        select organization_id, name from oauth_client where client_id = ${systemToken.clientId}`.execute(this.smart.db);
      const client = rows[0];
      if (!client) throw unauthorized('The access token is not valid');
      const base = staffScope(client.organization_id ?? undefined, `backend service ${systemToken.clientId}`);
      const scopes = resourceScopesIn(effectiveScopeText(systemToken.scope ?? '', {}));
      // Recorded in the audit trail as the service it is, like staff: it reads patients' records.
      return {
        kind: 'staff',
        smartClientId: systemToken.clientId,
        subject: `oauth-client:${systemToken.clientId}`,
        actor: `oauth-client:${systemToken.clientId}`,
        scope: narrowBySmartScopes(base, { scopes }),
      };
    }
    throw unauthorized('The access token is not valid or has expired');
  }
}

/** Whether the staff account's organisation manages the patient (Patient.managingOrganization), today. */
async function staffOrganisationManages(smart: SmartServer, accountId: string, patientId: string): Promise<boolean> {
  const { rows } = await sql`select 1 from account a join search_reference o on o.resource_type = 'Patient' and o.code = 'organization'
      and o.target_type = 'Organization' and o.target_id = a.organization_id and o.resource_id = ${patientId}
    where a.id = ${accountId} and a.kind = 'staff'`.execute(smart.db);
  return rows.length > 0;
}
