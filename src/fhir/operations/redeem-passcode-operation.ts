import { portalAccountOf } from '../../auth/account-caller';
import type { AccountServices } from '../../auth/account-services';
import { parametersResult } from './account-operation-support';
import type { FhirOperation } from './operation';

/**
 * $redeem-passcode (requestId, passcode): a signed-in account enters the passcode the patient gave them for its
 * own $request-access; the grant is written to that account. (Without an account: POST /auth/passcode/redeem.)
 */
export function redeemPasscodeOperation(services: AccountServices): FhirOperation {
  return {
    info: { name: 'redeem-passcode', definition: 'https://chartkeeper.dev/fhir/OperationDefinition/redeem-passcode' },
    level: 'system',
    methods: ['POST'],
    async handle({ caller, params }) {
      const account = await portalAccountOf(services.context.db, caller);
      const result = await services.familyAccess.redeemFromAccount(account, params, `account:${account.id}`);
      return parametersResult({ consent: `Consent/${result.consentId}`, patient: `Patient/${result.patientId}` }, 201);
    },
  };
}
