import { portalAccountOf } from '../../auth/account-caller';
import type { AccountServices } from '../account-services';
import { parametersResult } from '../operation-support';
import type { FhirOperation } from '../../fhir/operations/operation';

/**
 * Patient/$request-access (lastName, birthDate, and email, phone, postalCode or mrn; relationship; level):
 * a signed-in account asks for access to another patient's record. The passcode goes to that patient; enter
 * it with $redeem-passcode. Patient/{id}/$request-access does the same when the id is known.
 */
export function requestAccessOperations(services: AccountServices): FhirOperation[] {
  const info = {
    name: 'request-access',
    resourceType: 'Patient',
    definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Patient-request-access',
  };
  const handle: FhirOperation['handle'] = async ({ caller, id, params }) => {
    const account = await portalAccountOf(services.context.db, caller);
    const receipt = await services.familyAccess.requestFromAccount(account, params, `account:${account.id}`, id);
    return parametersResult({ requestId: receipt.requestId, expiresAt: receipt.expiresAt, message: receipt.message }, 202);
  };
  return [
    { info, level: 'type', methods: ['POST'], handle },
    { info, level: 'instance', methods: ['POST'], handle },
  ];
}
