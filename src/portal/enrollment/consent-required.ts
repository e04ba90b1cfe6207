/**
 * The answer a portal account gets while it has not completed the current portal consent form: a 403 whose
 * OperationOutcome carries a code a frontend acts on (`consent-required`: show the form) and the form's canonical URL.
 */
import type { ConsentRequired } from '../../access/caller';
import { FhirError } from '../../fhir/outcomes';

/** Code system of the portal's own outcome codes (OperationOutcome.issue.details.coding). */
export const PORTAL_OUTCOME_SYSTEM = 'https://chartkeeper.example/fhir/CodeSystem/portal-outcome';

/** Extension on the issue naming the form to complete (valueCanonical `url|version`). */
export const CONSENT_FORM_EXTENSION = 'https://chartkeeper.example/fhir/StructureDefinition/consent-form';

/** The operation that answers the form (POST /fhir/$accept-portal-consent). */
export const ACCEPT_PORTAL_CONSENT = 'accept-portal-consent';

/** 403 consent-required: what to read and where to answer it. */
export function consentRequiredError(required: ConsentRequired, fhirBase: string): FhirError {
  const formUrl = `${fhirBase}/Questionnaire/${required.formId}`;
  return new FhirError(403, {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: 'forbidden',
        details: {
          coding: [{ system: PORTAL_OUTCOME_SYSTEM, code: 'consent-required', display: 'Portal consent form to complete' }],
          text:
            `Complete the practice's Patient Portal Consent Form (version ${required.version}) before using the portal: ` +
            `read it at ${formUrl} and answer it with POST ${fhirBase}/$${ACCEPT_PORTAL_CONSENT}`,
        },
        diagnostics: formUrl,
        extension: [{ url: CONSENT_FORM_EXTENSION, valueCanonical: `${required.url}|${required.version}` }],
      },
    ],
  });
}

/** True for the requests an account makes before it has completed the form: reading the form, and answering it. */
export function allowedBeforeConsent(method: string, path: string, required: ConsentRequired): boolean {
  if (
    (method === 'GET' || method === 'HEAD') &&
    (path === `/Questionnaire/${required.formId}` || path.startsWith(`/Questionnaire/${required.formId}/_history/`))
  ) {
    return true;
  }
  return method === 'POST' && path === `/$${ACCEPT_PORTAL_CONSENT}`;
}
