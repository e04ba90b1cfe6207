import { portalAccountOf } from '../../auth/account-caller';
import type { AccountServices } from '../account-services';
import { forbidden, notFound } from '../../fhir/outcomes';
import { parametersResult } from '../operation-support';
import type { FhirOperation } from '../../fhir/operations/operation';

/**
 * Patient/{id}/$invite-family (email, name, level full|billing, relationship): the patient, signed in as
 * themself, invites a family member by email; the invitation is valid 30 days.
 */
export function inviteFamilyOperation(services: AccountServices): FhirOperation {
  return {
    info: {
      name: 'invite-family',
      resourceType: 'Patient',
      definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Patient-invite-family',
    },
    level: 'instance',
    methods: ['POST'],
    async handle({ repo, caller, id, params }) {
      const account = await portalAccountOf(services.context.db, caller);
      if (!id || account.patient_id !== id) {
        // Someone with access to this record, but not the patient: say so; anyone else learns nothing.
        if (id && (await repo.isVisibleRow('Patient', id))) throw forbidden('Only the patient can invite family members to their account');
        throw notFound(`Patient/${id}`);
      }
      const receipt = await services.invitations.inviteFamily(account, params);
      return parametersResult({ invitationId: receipt.invitationId, expiresAt: receipt.expiresAt }, 201);
    },
  };
}
