import { staffAccountOf } from '../../auth/account-caller';
import type { FhirOperation } from '../../fhir/operations/operation';
import type { AccountServices } from '../account-services';
import { parametersResult, visiblePatient } from '../operation-support';

/**
 * Patient/{id}/$practice-token: staff issue the security token with which a patient who already has a portal account
 * (at another practice) adds this practice's record to it (POST /auth/practices/enroll). Single use, 30 days, shown
 * once: only its hash is kept.
 */
export function practiceTokenOperation(services: AccountServices): FhirOperation {
  return {
    info: {
      name: 'practice-token',
      resourceType: 'Patient',
      definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Patient-practice-token',
    },
    level: 'instance',
    methods: ['POST'],
    async handle({ repo, caller, id }) {
      await staffAccountOf(services.context.db, caller);
      return parametersResult({ ...(await services.practices.issueToken(await visiblePatient(repo, id))) }, 201);
    },
  };
}
