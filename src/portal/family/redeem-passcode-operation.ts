import { portalAccountOf } from '../../auth/account-caller';
import type { AccountServices } from '../account-services';
import { FhirError } from '../../fhir/outcomes';
import { parametersResult } from '../operation-support';
import type { FhirOperation } from '../../fhir/operations/operation';

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
      const result = await services.familyAccess.redeemFromAccount(account, params, `account:${account.id}`).catch((err: unknown) => {
        // A wrong passcode is 401 where it stands in for a password (POST /auth/passcode/redeem). Here the caller is
        // signed in, and a 401 would tell their app the session is over: the wrong code is a refusal instead.
        if (err instanceof FhirError && err.status === 401) throw new FhirError(403, err.outcome);
        throw err;
      });
      return parametersResult({ consent: `Consent/${result.consentId}`, patient: `Patient/${result.patientId}` }, 201);
    },
  };
}
