import type { AccountServices } from '../account-services';
import { grantActorOf } from './grant-actor';
import type { FhirOperation } from '../../fhir/operations/operation';

/**
 * Consent/{id}/$revoke-access: the patient (or staff) removes a family member's access, or the family member
 * gives it up. The Consent becomes inactive and stays in the history; access ends with the next request.
 */
export function revokeAccessOperation(services: AccountServices): FhirOperation {
  return {
    info: {
      name: 'revoke-access',
      resourceType: 'Consent',
      definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Consent-revoke-access',
    },
    level: 'instance',
    methods: ['POST'],
    async handle({ repo, caller, id }) {
      const consent = await services.familyGrants.revoke(await grantActorOf(services, caller, repo), id as string);
      return { kind: 'resource', resource: consent };
    },
  };
}
