import { staffAccountOf } from '../../auth/account-caller';
import type { AccountServices } from '../account-services';
import { parametersResult, staffPerformer, visiblePatient } from '../operation-support';
import type { FhirOperation } from '../../fhir/operations/operation';

/**
 * Patient/{id}/$legal-authorization (email, name, level default full, relationship default HPOWATT): staff
 * record a personal representative's authorization. The grant (granted-by staff-legal-authorization, performer
 * the staff member's Practitioner) is written at once for an existing account, or when the emailed invitation
 * is accepted.
 */
export function legalAuthorizationOperation(services: AccountServices): FhirOperation {
  return {
    info: {
      name: 'legal-authorization',
      resourceType: 'Patient',
      definition: 'https://chartkeeper.dev/fhir/OperationDefinition/Patient-legal-authorization',
    },
    level: 'instance',
    methods: ['POST'],
    async handle({ repo, caller, id, params }) {
      const staff = await staffAccountOf(services.context.db, caller);
      const patient = await visiblePatient(repo, id);
      const result = await services.invitations.recordLegalAuthorization(patient, staffPerformer(caller, staff), params);
      return parametersResult(
        {
          consent: result.consentId ? `Consent/${result.consentId}` : undefined,
          invitationId: result.invitation?.invitationId,
          expiresAt: result.invitation?.expiresAt,
        },
        201,
      );
    },
  };
}
