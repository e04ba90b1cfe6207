import { staffAccountOf } from '../../auth/account-caller';
import type { AccountServices } from '../account-services';
import { parametersResult, visiblePatient } from '../operation-support';
import type { FhirOperation } from '../../fhir/operations/operation';

/**
 * Patient/{id}/$enroll (email, default the email on file): staff send an enrollment invitation valid 30 days.
 * For a patient who already has a login it is a re-enrollment: new credentials, same record and history.
 */
export function enrollOperation(services: AccountServices): FhirOperation {
  return {
    info: { name: 'enroll', resourceType: 'Patient', definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Patient-enroll' },
    level: 'instance',
    methods: ['POST'],
    async handle({ repo, caller, id, params }) {
      await staffAccountOf(services.context.db, caller);
      const receipt = await services.enrollment.enroll(await visiblePatient(repo, id), params);
      return parametersResult({ ...receipt }, 201);
    },
  };
}
