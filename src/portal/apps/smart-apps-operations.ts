/**
 * The apps a patient or family member let into their records through SMART on FHIR, as FHIR operations for a portal
 * frontend: `GET /fhir/$smart-apps` lists them, `POST /fhir/$revoke-smart-app` (client) ends one's access at once,
 * its refresh tokens and grants included. The same as JSON: GET and DELETE /auth/apps (http/auth-router.ts).
 */
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { Caller } from '../../access/caller';
import { portalAccountOf } from '../../auth/account-caller';
import type { Account } from '../../auth/account-store';
import { type AppGrant, appGrantsOf, revokeAppGrants } from '../../auth/smart/smart-app-grants';
import { badRequest, forbidden } from '../../fhir/outcomes';
import type { FhirOperation } from '../../fhir/operations/operation';
import type { AccountServices } from '../account-services';
import { parametersResult } from '../operation-support';

/** $smart-apps and $revoke-smart-app, over the account services' database. */
export function smartAppsOperations(services: AccountServices): FhirOperation[] {
  const accountOf = async (caller: Caller): Promise<Account> => {
    // An app does not manage the person's other apps: these take the portal's own sign-in only.
    if (caller.smartClientId !== undefined) throw forbidden('Apps are listed and revoked from the portal, not by an app');
    return portalAccountOf(services.context.db, caller);
  };
  return [
    {
      info: { name: 'smart-apps', definition: 'https://chartkeeper.dev/fhir/OperationDefinition/smart-apps' },
      level: 'system',
      methods: ['GET'],
      async handle({ caller }) {
        const apps = await appGrantsOf(services.context.db, (await accountOf(caller)).id);
        const resource: Parameters = { resourceType: 'Parameters', parameter: apps.map(appParameter) };
        return { kind: 'resource', resource };
      },
    },
    {
      info: { name: 'revoke-smart-app', definition: 'https://chartkeeper.dev/fhir/OperationDefinition/revoke-smart-app' },
      level: 'system',
      methods: ['POST'],
      async handle({ caller, params }) {
        const account = await accountOf(caller);
        const client = params.client;
        if (!client) throw badRequest('Name the app to revoke: the client parameter (its client id, from $smart-apps)', 'client');
        const { grants } = await revokeAppGrants(services.context.db, account.id, client);
        return parametersResult({ client, revoked: grants });
      },
    },
  ];
}

/** One app as a parameter with parts. */
function appParameter(app: AppGrant): ParametersParameter {
  const part: ParametersParameter[] = [
    { name: 'client', valueString: app.clientId },
    { name: 'name', valueString: app.name },
    ...app.scopes.map((scope) => ({ name: 'scope', valueString: scope })),
    ...app.patients.map((id) => ({ name: 'patient', valueReference: { reference: `Patient/${id}` } })),
    { name: 'granted', valueDateTime: app.grantedAt },
    ...(app.expiresAt ? [{ name: 'expires', valueDateTime: app.expiresAt }] : []),
    { name: 'offline', valueBoolean: app.offline },
  ];
  return { name: 'app', part };
}
