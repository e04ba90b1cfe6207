import type { AccountServices } from '../account-services';
import { definedOnly, grantLevelField } from '../../auth/account-input';
import { grantActorOf } from './grant-actor';
import type { FhirOperation } from '../../fhir/operations/operation';

/**
 * Consent/{id}/$change-access-level (level: one the age policy offers, full|billing or full|billing+appointments): the patient (or staff) changes a family member's
 * level. The patient's change is their own grant, so a teen can lift a parent's billing-only access to full.
 */
export function changeAccessLevelOperation(services: AccountServices): FhirOperation {
  return {
    info: {
      name: 'change-access-level',
      resourceType: 'Consent',
      definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Consent-change-access-level',
    },
    level: 'instance',
    methods: ['POST'],
    async handle({ repo, caller, id, params }) {
      const level = grantLevelField(definedOnly(params), 'level', undefined, services.context.policy.grantLevels);
      const consent = await services.familyGrants.changeLevel(await grantActorOf(services, caller, repo), id as string, level);
      return { kind: 'resource', resource: consent };
    },
  };
}
