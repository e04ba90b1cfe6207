import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { AccountServices } from '../account-services';
import type { FamilyGrantView } from './family-grants-service';
import { grantActorOf } from './grant-actor';
import type { FhirOperation } from '../../fhir/operations/operation';

/**
 * GET Patient/{id}/$family-access: the family access settings of a record (the patient's own, or staff's for
 * their patients): every grant with its level, what it gives today under the age rules, its Consent, and the levels
 * the active policy allows it today (`allowedLevel`, repeated).
 */
export function familyAccessOperation(services: AccountServices): FhirOperation {
  return {
    info: {
      name: 'family-access',
      resourceType: 'Patient',
      definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Patient-family-access',
    },
    level: 'instance',
    methods: ['GET'],
    async handle({ repo, caller, id }) {
      const actor = await grantActorOf(services, caller, repo);
      await services.familyGrants.assertMayManage(actor, id as string);
      const grants = await services.familyGrants.list(id as string, actor);
      const resource: Parameters = { resourceType: 'Parameters', parameter: grants.map(grantParameter) };
      return { kind: 'resource', resource };
    },
  };
}

function grantParameter(grant: FamilyGrantView): ParametersParameter {
  const part: ParametersParameter[] = [
    { name: 'consent', valueReference: { reference: grant.consent } },
    { name: 'relatedPerson', valueReference: { reference: grant.relatedPerson, display: grant.name } },
    { name: 'name', valueString: grant.name },
    ...(grant.email ? [{ name: 'email', valueString: grant.email }] : []),
    ...(grant.relationship ? [{ name: 'relationship', valueCode: grant.relationship }] : []),
    { name: 'level', valueCode: grant.level },
    { name: 'effectiveLevel', valueCode: grant.effectiveLevel },
    { name: 'grantedBy', valueCode: grant.grantedBy },
    { name: 'granted', valueDateTime: grant.granted },
    { name: 'active', valueBoolean: grant.active },
    ...grant.allowedLevels.map((level) => ({ name: 'allowedLevel', valueCode: level })),
  ];
  return { name: 'grant', part };
}
