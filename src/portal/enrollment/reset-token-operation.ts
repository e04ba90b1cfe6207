import { staffAccountOf } from '../../auth/account-caller';
import type { AccountServices } from '../account-services';
import { parametersResult, visiblePatient } from '../operation-support';
import type { FhirOperation } from '../../fhir/operations/operation';

/**
 * Patient/{id}/$reset-token: staff issue a one-time password reset token for the patient's login (valid 24
 * hours, 5 tries) to read out after checking the caller's identity; the patient enters it with their email at
 * POST /auth/password/reset. The answer carries the token, so it is never logged.
 */
export function resetTokenOperation(services: AccountServices): FhirOperation {
  return {
    info: {
      name: 'reset-token',
      resourceType: 'Patient',
      definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Patient-reset-token',
    },
    level: 'instance',
    methods: ['POST'],
    async handle({ repo, caller, id }) {
      await staffAccountOf(services.context.db, caller);
      const token = await services.passwordReset.issueStaffResetToken(await visiblePatient(repo, id));
      return parametersResult({ ...token }, 201);
    },
  };
}
