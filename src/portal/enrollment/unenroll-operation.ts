import { staffAccountOf } from '../../auth/account-caller';
import type { FhirOperation } from '../../fhir/operations/operation';
import type { AccountServices } from '../account-services';
import { parametersResult, visiblePatient } from '../operation-support';

/**
 * Patient/{id}/$unenroll: staff take their practice's record out of the patient's portal account. Only that link ends:
 * the account keeps its records at other practices, and the record its history; $enroll brings it back.
 */
export function unenrollOperation(services: AccountServices): FhirOperation {
  return {
    info: { name: 'unenroll', resourceType: 'Patient', definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Patient-unenroll' },
    level: 'instance',
    methods: ['POST'],
    async handle({ repo, caller, id }) {
      await staffAccountOf(services.context.db, caller);
      return parametersResult({ ...(await services.practices.unenroll(await visiblePatient(repo, id))) });
    },
  };
}
