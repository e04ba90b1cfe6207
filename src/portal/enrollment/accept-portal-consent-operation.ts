import type { Parameters } from '@medplum/fhirtypes';
import { portalAccountOf } from '../../auth/account-caller';
import type { FhirOperation } from '../../fhir/operations/operation';
import type { AccountServices } from '../account-services';
import { ACCEPT_PORTAL_CONSENT } from './consent-required';

/**
 * POST /fhir/$accept-portal-consent with a QuestionnaireResponse answering the current portal consent form
 * (`questionnaire`: its url|version): the signed-in patient or family member completes the form. 201 with the
 * Consents and QuestionnaireResponses written; 200 when this version was already completed.
 */
export function acceptPortalConsentOperation(services: AccountServices): FhirOperation {
  return {
    info: { name: ACCEPT_PORTAL_CONSENT, definition: 'https://chartkeeper.dev/fhir/OperationDefinition/accept-portal-consent' },
    level: 'system',
    methods: ['POST'],
    async handle({ caller, body }) {
      const account = await portalAccountOf(services.context.db, caller);
      const receipt = await services.portalConsent.accept(account, body);
      const resource: Parameters = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'form', valueCanonical: receipt.form },
          { name: 'accepted', valueDateTime: receipt.accepted },
          ...receipt.consentIds.map((id) => ({ name: 'consent', valueReference: { reference: `Consent/${id}` } })),
          ...receipt.responseIds.map((id) => ({
            name: 'questionnaireResponse',
            valueReference: { reference: `QuestionnaireResponse/${id}` },
          })),
        ],
      };
      return { kind: 'resource', status: receipt.created ? 201 : 200, resource };
    },
  };
}
